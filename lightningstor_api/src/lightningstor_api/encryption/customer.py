"""SSE-C: customer-provided keys. The key wraps the object's data keys (as a master key would)
and is never stored; a salted HMAC of it checks the key a later request presents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2
from lightningstor_api.encryption.keymaster import StaticKeyManager
from lightningstor_types.errors import AccessDenied, InvalidArgument, InvalidRequest

CUSTOMER_KEY_ID = "sse-c"
"""The key id of chunks sealed under a customer's key (never a configured key's name)."""
_SALT = 16


def given(ck: common_pb2.CustomerKey | None) -> bool:
    return ck is not None and bool(ck.algorithm or ck.key or ck.key_md5)


def check_customer_key(ck: common_pb2.CustomerKey) -> bytes:
    """The 32-byte key after S3's checks: algorithm AES256, length, MD5 (InvalidArgument)."""
    if ck.algorithm != "AES256":
        raise InvalidArgument(
            "The encryption algorithm specified is not supported",
            ArgumentName="x-amz-server-side-encryption-customer-algorithm",
        )
    if len(ck.key) != 32:
        raise InvalidArgument(
            "The secret key was invalid for the specified algorithm.",
            ArgumentName="x-amz-server-side-encryption-customer-key",
        )
    expected = base64.b64encode(hashlib.md5(ck.key, usedforsecurity=False).digest()).decode()
    if not hmac.compare_digest(ck.key_md5.encode(), expected.encode()):
        raise InvalidArgument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName="x-amz-server-side-encryption-customer-key-MD5",
        )
    return ck.key


def customer_keys(key: bytes) -> StaticKeyManager:
    """A key manager that wraps and unwraps data keys with the customer's key alone."""
    return StaticKeyManager({CUSTOMER_KEY_ID: key}, CUSTOMER_KEY_ID)


def key_check(key: bytes) -> bytes:
    """salt || HMAC-SHA256(salt, key): what is stored to recognize the key later."""
    salt = os.urandom(_SALT)
    return salt + hmac.new(salt, key, hashlib.sha256).digest()


def opaque_etag(key: bytes, md5_hex: str) -> str:
    """An SSE-C object's ETag (32 hex digits): not the MD5 of the plaintext, which would let
    anyone holding a guess confirm it without the key (S3's is not either); keyed by the
    customer's key, so only its holder can relate the two."""
    return hmac.new(key, bytes.fromhex(md5_hex), hashlib.sha256).hexdigest()[:32]


def keys_for_read(
    rec: records_pb2.ObjectRecord | records_pb2.UploadRecord, ck: common_pb2.CustomerKey | None
) -> StaticKeyManager | None:
    """The customer's key manager to read an SSE-C version with (None for any other version);
    InvalidRequest without the key or with a key for an object that has none, AccessDenied
    with the wrong key."""
    if not rec.sse_customer_key_hmac:
        if ck is not None and given(ck):
            raise InvalidRequest("The encryption parameters are not applicable to this object.")
        return None
    if ck is None or not given(ck):
        raise InvalidRequest(
            "The object was stored using a form of Server Side Encryption. The correct "
            "parameters must be provided to retrieve the object."
        )
    key = check_customer_key(ck)
    if not matches(rec.sse_customer_key_hmac, key):
        raise AccessDenied("Access Denied")
    return customer_keys(key)


def matches(check: bytes, key: bytes) -> bool:
    """Whether ``key`` is the one :func:`key_check` made ``check`` of."""
    presented = hmac.new(check[:_SALT], key, hashlib.sha256).digest()
    return hmac.compare_digest(check[_SALT:], presented)
