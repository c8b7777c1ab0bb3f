"""LightningStor s3."""
