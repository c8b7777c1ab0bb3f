"""Bucket lifecycle rules: validation, when each acts on a version, the worker that applies them."""
