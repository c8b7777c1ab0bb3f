"""Bucket CORS rules: the checks of a configuration and the match of a browser's request."""

from lightningstor_types.cors.rules import (
    ALLOWED_METHODS,
    MAX_RULES,
    CorsMatch,
    match_rule,
    validate_cors,
)

__all__ = ["ALLOWED_METHODS", "MAX_RULES", "CorsMatch", "match_rule", "validate_cors"]
