"""SSE-C request headers (``x-amz-server-side-encryption-customer-*``): read into a
``CustomerKey`` for the core, refused off a secure connection as S3 refuses them, and
answered back (algorithm and key MD5, never the key)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from typing import Any

from lightningstor.v1 import common_pb2
from lightningstor_types.errors import InvalidArgument, InvalidRequest

ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
KEY = "x-amz-server-side-encryption-customer-key"
KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"

Headers = list[tuple[bytes, bytes]]


def secure_enough(scheme: str, client_host: str | None) -> bool:
    """Whether a request may carry a customer key: over TLS, or from a loopback client (not on
    the wire). No trusted-proxy rule yet: behind a TLS-terminating proxy, SSE-C is refused."""
    if scheme == "https":
        return True
    try:
        return client_host is not None and ipaddress.ip_address(client_host).is_loopback
    except ValueError:  # a Unix socket path or a name: not an address on the wire
        return False


def customer_key(
    headers: Mapping[str, str], scope: Mapping[str, Any]
) -> common_pb2.CustomerKey | None:
    """The customer key a request carries (None without any SSE-C header); InvalidRequest over
    an insecure connection, InvalidArgument for a key that is no base64 (or a header missing:
    the core checks the algorithm, the key's length and its MD5)."""
    present = [name for name in (ALGORITHM, KEY, KEY_MD5) if name in headers]
    if not present:
        return None
    client = scope.get("client")
    if not secure_enough(str(scope.get("scheme", "http")), client[0] if client else None):
        raise InvalidRequest(
            "Requests specifying Server Side Encryption with Customer provided keys must be "
            "made over a secure connection."
        )
    if len(present) != 3:
        missing = next(n for n in (ALGORITHM, KEY, KEY_MD5) if n not in headers)
        raise InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key and an appropriate secret key.",
            ArgumentName=missing,
        )
    try:
        key = base64.b64decode(headers[KEY].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(
            "The secret key was invalid for the specified algorithm.", ArgumentName=KEY
        ) from None
    return common_pb2.CustomerKey(
        algorithm=headers[ALGORITHM].strip(), key=key, key_md5=headers[KEY_MD5].strip()
    )


def answer(algorithm: str, key_md5: str) -> Headers:
    """The SSE-C headers of a response about an SSE-C object (nothing for any other)."""
    if not algorithm:
        return []
    return [
        (ALGORITHM.encode(), algorithm.encode()),
        (b"x-amz-server-side-encryption-customer-key-md5", key_md5.encode()),
    ]
