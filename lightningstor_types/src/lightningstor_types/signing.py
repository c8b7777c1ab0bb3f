"""gRPC calls signed with an S3 access key (the alternative to a bearer token).

A call carries three metadata entries::

    x-lightningstor-access-key   the access key id
    x-lightningstor-date         the signing time, integer Unix seconds
    x-lightningstor-signature    hex HMAC-SHA256(secret, string to sign)

    string to sign = "LIGHTNINGSTOR-HMAC-SHA256" LF date LF access key id

The server accepts a date within :data:`MAX_SKEW_SECONDS` of its clock (as S3 does for SigV4).
The secret never crosses the wire; a captured signature can be replayed within that window,
so use TLS off loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import time

ACCESS_KEY_HEADER = "x-lightningstor-access-key"
DATE_HEADER = "x-lightningstor-date"
SIGNATURE_HEADER = "x-lightningstor-signature"
ALGORITHM = "LIGHTNINGSTOR-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60


def signature(secret: str, date: str, access_key_id: str) -> str:
    message = f"{ALGORITHM}\n{date}\n{access_key_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_metadata(
    access_key_id: str, secret: str, now: float | None = None
) -> tuple[tuple[str, str], ...]:
    """The metadata entries that authenticate one call as ``access_key_id``."""
    date = str(int(time.time() if now is None else now))
    return (
        (ACCESS_KEY_HEADER, access_key_id),
        (DATE_HEADER, date),
        (SIGNATURE_HEADER, signature(secret, date, access_key_id)),
    )
