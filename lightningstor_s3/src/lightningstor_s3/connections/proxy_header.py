"""The PROXY protocol header (HAProxy's, versions 1 and 2) that a load balancer sends first on a
connection: the client's address, which the TCP peer (the balancer) is not.

:func:`parse_proxy_header` reads it from the bytes received so far: ``None`` while more are
needed, :class:`MalformedProxyHeaderError` when they cannot be one (the connection is then closed),
else a :class:`ProxyHeader` with the client's address and how many bytes the header took (what
follows is the HTTP request). A header that carries no address (v1 ``UNKNOWN``, v2 ``LOCAL``
such as a balancer's health check, or a family without an IP address) gives ``source`` None:
the peer's address stands, as the specification says. TLVs of v2 are skipped.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

__all__ = [
    "MAX_V1_BYTES",
    "V2_SIGNATURE",
    "MalformedProxyHeaderError",
    "ProxyHeader",
    "parse_proxy_header",
]

V1_PREFIX = b"PROXY "
MAX_V1_BYTES = 107
"""The longest v1 line the specification allows, CRLF included."""
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_FIXED = 16  # signature, version/command, family, length
# v2 family/transport byte -> (address bytes, port offset) of TCP over IPv4 / IPv6
_V2_TCP = {0x11: (4, 8), 0x21: (16, 32)}
_V1_FAMILIES = {b"TCP4": ipaddress.IPv4Address, b"TCP6": ipaddress.IPv6Address}


class MalformedProxyHeaderError(ValueError):
    """The bytes are not a PROXY protocol header."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    source: tuple[str, int] | None
    """The client's address and port; None: the header carries none (use the peer's)."""
    consumed: int
    """Bytes of the header; the request begins after them."""


def parse_proxy_header(data: bytes) -> ProxyHeader | None:
    """The header at the start of ``data``; None while it is incomplete."""
    if data[:1] == V2_SIGNATURE[:1]:
        return _v2(data)
    if data[:1] == V1_PREFIX[:1]:
        return _v1(data)
    if data:
        raise MalformedProxyHeaderError("no PROXY protocol signature")
    return None


def _v1(data: bytes) -> ProxyHeader | None:
    if not data.startswith(V1_PREFIX[: len(data)]):
        raise MalformedProxyHeaderError("no PROXY protocol signature")
    end = data.find(b"\r\n", 0, MAX_V1_BYTES)
    if end < 0:
        if len(data) >= MAX_V1_BYTES:
            raise MalformedProxyHeaderError("v1 line longer than 107 bytes")
        return None
    fields = data[:end].split(b" ")
    if len(fields) >= 2 and fields[0] == b"PROXY" and fields[1] == b"UNKNOWN":
        return ProxyHeader(None, end + 2)
    if len(fields) != 6 or fields[0] != b"PROXY" or fields[1] not in _V1_FAMILIES:
        raise MalformedProxyHeaderError("v1 line is not PROXY TCP4|TCP6 src dst sport dport")
    family = _V1_FAMILIES[fields[1]]
    try:
        source = family(fields[2].decode("ascii"))
        family(fields[3].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedProxyHeaderError("v1 address not of its family") from None
    ports = [_port(f) for f in fields[4:]]
    return ProxyHeader((str(source), ports[0]), end + 2)


def _port(text: bytes) -> int:
    # Decimal, no sign, no leading zero (the specification's form).
    if not text.isdigit() or (len(text) > 1 and text[:1] == b"0") or int(text) > 65535:
        raise MalformedProxyHeaderError("v1 port not 0-65535")
    return int(text)


def _v2(data: bytes) -> ProxyHeader | None:
    if not data.startswith(V2_SIGNATURE[: len(data)]):
        raise MalformedProxyHeaderError("no PROXY protocol signature")
    if len(data) < _V2_FIXED:
        return None
    version, command = data[12] >> 4, data[12] & 0x0F
    if version != 2 or command > 1:
        raise MalformedProxyHeaderError("v2 version or command unknown")
    family = data[13]
    (length,) = struct.unpack_from("!H", data, 14)
    total = _V2_FIXED + length
    if len(data) < total:
        return None
    if command == 0:  # LOCAL: the balancer's own connection (a health check)
        return ProxyHeader(None, total)
    shape = _V2_TCP.get(family)
    if shape is None:  # UNSPEC, UDP, unix sockets: no client IP to take
        return ProxyHeader(None, total)
    size, port_at = shape
    if length < 2 * size + 4:
        raise MalformedProxyHeaderError("v2 address block shorter than its family")
    raw = data[_V2_FIXED : _V2_FIXED + size]
    address = ipaddress.IPv4Address(raw) if size == 4 else ipaddress.IPv6Address(raw)
    (port,) = struct.unpack_from("!H", data, _V2_FIXED + port_at)
    return ProxyHeader((str(address), port), total)
