"""SigV4 signing keys, derived once per secret, day, region and service, and HMAC helpers.

Deriving a key is four HMACs; a client signs with the same key all day, so the derived key is
cached (bounded, least recently used first out).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

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


def hmac_sha256_hex(key: bytes, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of a text message (UTF-8), as SigV4 signatures are written."""
    return hmac.digest(key, message.encode("utf-8"), hashlib.sha256).hex()
