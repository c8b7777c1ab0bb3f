"""gRPC calls signed with an S3 access key (the alternative to a bearer token).

A call carries four metadata entries::

    x-lightningstor-access-key   the access key id
    x-lightningstor-date         the signing time, integer Unix seconds
    x-lightningstor-nonce        a fresh random value (16 to 64 of [0-9A-Za-z_-]) for each call
    x-lightningstor-signature    hex HMAC-SHA256(secret, string to sign)

    string to sign = "LIGHTNINGSTOR-HMAC-SHA256-2" LF date LF nonce LF full method LF key id

The full method is the call's gRPC path (``/lightningstor.v1.BucketService/CreateBucket``), so
a captured signature is worth nothing for another method. The server accepts a date within its
window (``iam.grpc_signature_window_seconds``, default :data:`DEFAULT_WINDOW_SECONDS`) and
remembers each signature it accepted for that window, so the same call cannot be replayed to it
either. The secret never crosses the wire. Version 1 signatures (no nonce, no method: the
clients before this version) are refused with a message that says so.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

ACCESS_KEY_HEADER = "x-lightningstor-access-key"
DATE_HEADER = "x-lightningstor-date"
NONCE_HEADER = "x-lightningstor-nonce"
SIGNATURE_HEADER = "x-lightningstor-signature"
ALGORITHM = "LIGHTNINGSTOR-HMAC-SHA256-2"
DEFAULT_WINDOW_SECONDS = 120
NONCE_RE = re.compile(r"[0-9A-Za-z_-]{16,64}")


def signature(secret: str, date: str, nonce: str, method: str, access_key_id: str) -> str:
    message = f"{ALGORITHM}\n{date}\n{nonce}\n{method}\n{access_key_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_metadata(
    access_key_id: str, secret: str, method: str, now: float | None = None
) -> tuple[tuple[str, str], ...]:
    """The metadata entries that authenticate one call of ``method`` as ``access_key_id``."""
    date = str(int(time.time() if now is None else now))
    nonce = secrets.token_urlsafe(16)
    return (
        (ACCESS_KEY_HEADER, access_key_id),
        (DATE_HEADER, date),
        (NONCE_HEADER, nonce),
        (SIGNATURE_HEADER, signature(secret, date, nonce, method, access_key_id)),
    )
