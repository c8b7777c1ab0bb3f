"""Seeded fuzzing of both APIs: no 5xx, no hang, no traceback (issue 12)."""
