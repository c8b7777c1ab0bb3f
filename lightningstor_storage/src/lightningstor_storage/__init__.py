"""LightningStor storage."""
