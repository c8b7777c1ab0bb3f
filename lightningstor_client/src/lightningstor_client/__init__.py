"""LightningStor client."""
