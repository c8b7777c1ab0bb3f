"""Presigned URLs: SigV4 in the query string (``X-Amz-Algorithm`` … ``X-Amz-Signature``).

A presigned URL carries its credential, signing time, lifetime (``X-Amz-Expires``, 1 second to
7 days) and signed headers as query parameters; its payload hash is ``UNSIGNED-PAYLOAD`` unless
the URL names one (``X-Amz-Content-Sha256``) or the client signed the header. Faults in the
parameters are ``AuthorizationQueryParametersError``; a URL used after its lifetime is
``AccessDenied`` "Request has expired", one used before its signing time (beyond the clock skew
allowed) ``AccessDenied`` "Request is not valid yet", as S3 answers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import unquote_to_bytes

from lightningstor_s3.auth.canonical import ALGORITHM
from lightningstor_s3.auth.credential import SignatureClaim, parse_amz_date, parse_credential
from lightningstor_s3.auth.errors import iso8601, query_malformed
from lightningstor_types.errors import AccessDenied, LightningStorError

__all__ = ["REQUIRED", "auth_params", "is_presigned", "is_sigv2_presigned", "presigned_claim"]

REQUIRED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
_OPTIONAL = ("X-Amz-Content-Sha256", "X-Amz-Security-Token")
_SIGV2 = ("AWSAccessKeyId", "Signature")
_WANTED = frozenset((*REQUIRED, *_OPTIONAL, *_SIGV2))
_DIGITS = re.compile(r"\d{1,10}")


def auth_params(raw_query: bytes) -> dict[str, str]:
    """The authentication parameters of a raw query string, decoded (first value of each)."""
    found: dict[str, str] = {}
    if b"X-Amz-" not in raw_query and b"Signature" not in raw_query:
        return found
    for segment in raw_query.split(b"&"):
        name, _, value = segment.partition(b"=")
        key = unquote_to_bytes(name).decode("utf-8", "replace")
        if key in _WANTED and key not in found:
            found[key] = unquote_to_bytes(value).decode("utf-8", "replace")
    return found


def is_presigned(params: Mapping[str, str]) -> bool:
    """The query carries SigV4 query authentication (or a part of it)."""
    return any(
        name in params for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
    )


def is_sigv2_presigned(params: Mapping[str, str]) -> bool:
    """The query is a Signature Version 2 presigned URL, which this endpoint does not take."""
    return all(name in params for name in _SIGV2)


def presigned_claim(
    params: Mapping[str, str],
    headers: Mapping[bytes, Sequence[bytes]],
    *,
    region: str,
    now: datetime,
    max_skew: timedelta,
    max_expiry: timedelta,
) -> tuple[SignatureClaim, datetime]:
    """Check a presigned URL's parameters and times; its claim and when it expires."""
    if any(name not in params for name in REQUIRED):
        raise query_malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters."
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise query_malformed(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    signed_at = parse_amz_date(params["X-Amz-Date"])
    if signed_at is None:
        raise query_malformed(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    lifetime = _expires(params["X-Amz-Expires"], max_expiry)
    credential = parse_credential(params["X-Amz-Credential"], region=region, fail=_credential_fail)
    timestamp = params["X-Amz-Date"]
    if credential.date != timestamp[:8]:
        raise query_malformed(
            f'Invalid credential date "{credential.date}". This date is not the same as '
            f'X-Amz-Date: "{timestamp[:8]}".'
        )
    if signed_at - now > max_skew:
        raise AccessDenied("Request is not valid yet", **{"X-Amz-Date": timestamp})
    expires_at = signed_at + lifetime
    if now > expires_at:
        raise AccessDenied(
            "Request has expired",
            **{"X-Amz-Expires": params["X-Amz-Expires"]},
            Expires=iso8601(expires_at),
            ServerTime=iso8601(now),
        )
    signed_headers = tuple(
        name.strip().lower().encode("latin-1", "replace")
        for name in params["X-Amz-SignedHeaders"].split(";")
        if name.strip()
    )
    if b"host" not in signed_headers:
        raise query_malformed("Query-string authentication requires the Host header to be signed.")
    payload_hash = params.get("X-Amz-Content-Sha256")
    if payload_hash is None:
        signed_value = headers.get(b"x-amz-content-sha256")
        if signed_value and b"x-amz-content-sha256" in signed_headers:
            payload_hash = signed_value[0].decode("latin-1").strip()
        else:
            payload_hash = "UNSIGNED-PAYLOAD"
    claim = SignatureClaim(
        credential=credential,
        timestamp=timestamp,
        signed_headers=signed_headers,
        signature=params["X-Amz-Signature"],
        payload_hash=payload_hash.encode("utf-8", "replace"),
        presigned=True,
    )
    return claim, expires_at


def _expires(value: str, max_expiry: timedelta) -> timedelta:
    if not _DIGITS.fullmatch(value):
        raise query_malformed("X-Amz-Expires should be a number")
    seconds = int(value)
    if seconds < 1:
        raise query_malformed("X-Amz-Expires must be at least 1 second")
    limit = int(max_expiry.total_seconds())
    if seconds > limit:
        raise query_malformed(
            f"X-Amz-Expires must be less than a week (in seconds) that is {limit}"
        )
    return timedelta(seconds=seconds)


def _credential_fail(reason: str, **details: str) -> LightningStorError:
    return query_malformed(f"Error parsing the X-Amz-Credential parameter; {reason}", **details)
