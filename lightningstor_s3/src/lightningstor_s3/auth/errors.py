"""The refusals of authentication and body decoding, worded as S3 words them.

Every error is a class of the catalog (:mod:`lightningstor_types.errors`); this module adds the
AWS messages and details that several call sites share.
"""

from __future__ import annotations

from datetime import datetime

from lightningstor_types.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    IncompleteBody,
    MalformedTrailerError,
)

__all__ = [
    "MalformedTrailerError",
    "header_malformed",
    "iso8601",
    "missing_date",
    "query_malformed",
    "truncated_body",
]


def header_malformed(reason: str, **details: str) -> AuthorizationHeaderMalformed:
    """``AuthorizationHeaderMalformed`` with S3's message: "…is malformed; {reason}"."""
    return AuthorizationHeaderMalformed(
        f"The authorization header is malformed; {reason}", **details
    )


def query_malformed(reason: str, **details: str) -> AuthorizationQueryParametersError:
    """``AuthorizationQueryParametersError`` for a presigned URL's parameters."""
    return AuthorizationQueryParametersError(reason, **details)


def missing_date() -> AccessDenied:
    """What S3 answers a signed request without a usable ``x-amz-date`` or ``Date``."""
    return AccessDenied("AWS authentication requires a valid Date or x-amz-date header")


def truncated_body() -> IncompleteBody:
    """An aws-chunked body that ends early or is not framed as aws-chunked (S3's wording)."""
    return IncompleteBody("The request body terminated unexpectedly")


def iso8601(when: datetime) -> str:
    """``2013-05-24T00:00:00Z``: the form of ``ServerTime`` and ``Expires`` in S3 errors."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
