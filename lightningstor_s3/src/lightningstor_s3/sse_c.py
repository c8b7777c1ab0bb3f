"""SSE-C request headers (``x-amz-server-side-encryption-customer-*``, and a copy source's
``x-amz-copy-source-server-side-encryption-customer-*``): read into a ``CustomerKey`` for the
core, refused off a secure connection as S3 refuses them, and answered back (algorithm and key
MD5, never the key).

Secure: TLS to this server; TLS to a peer of ``server.trusted_proxies`` that says so in
``X-Forwarded-Proto`` (read as :mod:`lightningstor_s3.conditions` reads it); or a client on
loopback, which is not on the wire."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from lightningstor.v1 import common_pb2
from lightningstor_s3.conditions import Network, client_from
from lightningstor_types.errors import InvalidArgument, InvalidRequest

ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
KEY = "x-amz-server-side-encryption-customer-key"
KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"
_SOURCE = "x-amz-copy-source-"

Headers = list[tuple[bytes, bytes]]


def secure_enough(scheme: str, client_host: str | None) -> bool:
    """Whether a request may carry a customer key: over TLS (to us or to a trusted proxy:
    ``scheme`` is what :func:`conditions.client_from` found), or from a loopback client."""
    if scheme == "https":
        return True
    try:
        return client_host is not None and ipaddress.ip_address(client_host).is_loopback
    except ValueError:  # a Unix socket path or a name: not an address on the wire
        return False


def customer_key(
    headers: Mapping[str, str],
    scope: Mapping[str, Any],
    proxies: Sequence[Network] = (),
    *,
    source: bool = False,
    request_headers: Mapping[str, str] | None = None,
) -> common_pb2.CustomerKey | None:
    """The customer key a request carries (None without any SSE-C header; with ``source``, the
    copy source's); InvalidRequest over an insecure connection, InvalidArgument for a key that
    is no base64 (or a header missing: the core checks the algorithm, the key's length and its
    MD5). ``headers`` may be a form's fields: then ``request_headers`` are the request's own,
    which say what a trusted proxy saw."""
    prefix = _SOURCE if source else "x-amz-"
    algorithm, key_name, md5_name = (
        prefix + n.removeprefix("x-amz-") for n in (ALGORITHM, KEY, KEY_MD5)
    )
    present = [name for name in (algorithm, key_name, md5_name) if name in headers]
    if not present:
        return None
    forwarded, scheme = client_from(
        scope, headers if request_headers is None else request_headers, proxies
    )
    peer = scope.get("client")
    host = forwarded if forwarded is not None else (str(peer[0]) if peer else None)
    if not secure_enough(scheme, host):
        raise InvalidRequest(
            "Requests specifying Server Side Encryption with Customer provided keys must be "
            "made over a secure connection."
        )
    if len(present) != 3:
        missing = next(n for n in (algorithm, key_name, md5_name) if n not in headers)
        raise InvalidArgument(
            "Requests specifying Server Side Encryption with Customer provided keys must "
            "provide the client calculated MD5 of the secret key and an appropriate secret key.",
            ArgumentName=missing,
        )
    try:
        key = base64.b64decode(headers[key_name].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument(
            "The secret key was invalid for the specified algorithm.", ArgumentName=key_name
        ) from None
    return common_pb2.CustomerKey(
        algorithm=headers[algorithm].strip(), key=key, key_md5=headers[md5_name].strip()
    )


def answer(algorithm: str, key_md5: str) -> Headers:
    """The SSE-C headers of a response about an SSE-C object (nothing for any other)."""
    if not algorithm:
        return []
    return [
        (ALGORITHM.encode(), algorithm.encode()),
        (b"x-amz-server-side-encryption-customer-key-md5", key_md5.encode()),
    ]
