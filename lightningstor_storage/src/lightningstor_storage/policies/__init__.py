"""Storage policies side by side: one distributed backend serving replicated and erasure chunks."""

from lightningstor_storage.policies.backend import PolicyBackend

__all__ = ["PolicyBackend"]
