"""LightningStor types."""
