"""CORS for browsers: bucket rules in and out, preflight answers, headers on every response.

The handlers of Get/Put/DeleteBucketCors are in :mod:`lightningstor_s3.cors.handlers` (imported
by the handler table, not here: they build on ``handlers.base``).
"""

from lightningstor_s3.cors.answers import CorsAnswers

__all__ = ["CorsAnswers"]
