"""SigV4 signing keys, derived once per secret, day, region and service, and HMAC helpers.

Deriving a key is four HMACs; a client signs with the same key all day, so the derived key is
cached (bounded, least recently used first out), and so are its HMAC pads: a signature is then
two copies of a hashed pad and a short update. ``hmac.digest`` releases the GIL around
OpenSSL's one-shot HMAC, whatever the message's length, and the event loop then waits to take
it back from whichever thread took it; ``hashlib`` keeps the GIL for updates under 2 KiB.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

__all__ = ["CACHE_SIZE", "hmac_sha256", "hmac_sha256_hex", "signing_key"]

CACHE_SIZE = 4096
"""Derived keys kept: one per access key in use per day (and region) is plenty."""


@lru_cache(maxsize=CACHE_SIZE)
def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """``HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")``."""
    key = hmac_sha256(("AWS4" + secret).encode("utf-8"), date.encode("ascii"))
    key = hmac_sha256(key, region.encode("utf-8"))
    key = hmac_sha256(key, service.encode("utf-8"))
    return hmac_sha256(key, b"aws4_request")


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """Binary HMAC-SHA256."""
    return hmac.digest(key, message, hashlib.sha256)


@lru_cache(maxsize=CACHE_SIZE)
def _pads(key: bytes) -> tuple[_Hash, _Hash]:
    """SHA-256 states that have hashed ``key``'s inner and outer pads (RFC 2104)."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in block)),
        hashlib.sha256(bytes(b ^ 0x5C for b in block)),
    )


def hmac_sha256_hex(key: bytes, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of a text message (UTF-8), as SigV4 signatures are written."""
    inner_pad, outer_pad = _pads(key)
    inner = inner_pad.copy()
    inner.update(message.encode("utf-8"))
    outer = outer_pad.copy()
    outer.update(inner.digest())
    return outer.hexdigest()
