"""LightningStor api."""
