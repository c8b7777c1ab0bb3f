"""SSE-C keys over gRPC: refused on a channel without TLS unless the peer is on this machine
(loopback or a Unix socket), the rule the S3 facade applies to its customer-key headers."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from lightningstor.v1 import common_pb2
from lightningstor_api.grpc.calls import Context
from lightningstor_types.errors import InvalidRequest

_INSECURE = (
    "Requests specifying Server Side Encryption with Customer provided keys must be made over "
    "a secure connection."
)


def on_this_machine(peer: str) -> bool:
    """Whether a gRPC peer (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``, ``unix:/path``) is
    local: not on the wire."""
    kind, _, rest = peer.partition(":")
    if kind == "unix":
        return True
    if kind not in ("ipv4", "ipv6"):
        return False
    host = rest.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def over_tls(auth_context: Mapping[str, Iterable[bytes]]) -> bool:
    return b"ssl" in list(auth_context.get("transport_security_type", ()))


def check_channel(
    peer: str,
    auth_context: Mapping[str, Iterable[bytes]],
    *keys: common_pb2.CustomerKey | None,
) -> None:
    """InvalidRequest when a request carries a customer key over plain text from afar."""
    given = any(k is not None and (k.algorithm or k.key or k.key_md5) for k in keys)
    if given and not over_tls(auth_context) and not on_this_machine(peer):
        raise InvalidRequest(_INSECURE)


def refuse_insecure_keys(context: Context, *keys: common_pb2.CustomerKey | None) -> None:
    """:func:`check_channel` for the call in progress."""
    if any(k is not None and (k.algorithm or k.key or k.key_md5) for k in keys):
        check_channel(context.peer(), context.auth_context(), *keys)
