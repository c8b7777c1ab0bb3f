"""The S3 client's facts that the stand-alone gateway forwards to the server in gRPC call
metadata, so that a bucket policy conditioned on them decides a forwarded call as it decides the
same request sent to the server's own S3 port.

Without them the server saw only the gateway: its peer address as ``aws:SourceIp`` (an
``IpAddress`` Allow naming the gateway's network was satisfied by every client of the gateway)
and nothing for the others. The server believes these entries only from a peer in ``[server]
trusted_gateways`` and ignores them from anyone else, so a caller of the gRPC API cannot claim
another address (``lightningstor_api/grpc/forwarded.py``).

Values are percent-encoded (``%`` and anything outside printable ASCII), because gRPC metadata
values must be printable ASCII and a User-Agent or Referer need not be.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote, unquote

from lightningstor_types import condition_keys as k
from lightningstor_types.errors import RequestHeaderSectionTooLarge

PREFIX: Final = "x-lightningstor-client-"
"""Every forwarded fact's metadata name starts with this."""

MAX_BYTES: Final = 6 * 1024
"""At most this many bytes of forwarded entries (names and encoded values) per call: gRPC
refuses a call whose metadata passes 8 KiB (its default soft limit, with the signature and the
trace context besides), and would answer RESOURCE_EXHAUSTED, which the S3 client would read as
SlowDown and retry; S3 itself refuses request headers over 8 KiB."""

CLIENT_IP: Final = PREFIX + "ip"
"""The client's address after the gateway's own ``trusted_proxies`` / PROXY handling."""

METADATA_NAMES: Final = {
    k.SOURCE_IP: CLIENT_IP,
    k.SECURE_TRANSPORT: PREFIX + "secure-transport",
    k.USER_AGENT: PREFIX + "user-agent",
    k.REFERER: PREFIX + "referer",
    k.AUTH_TYPE: PREFIX + "auth-type",
    k.SIGNATURE_VERSION: PREFIX + "signature-version",
}
"""Condition key -> the metadata entry that carries it."""

_KEYS: Final = {name: key for key, name in METADATA_NAMES.items()}
_SAFE: Final = "".join(c for c in string.printable if c.isprintable() and c != "%")


def to_metadata(facts: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The entries of those ``facts`` (condition key -> value) that are forwarded;
    :class:`RequestHeaderSectionTooLarge` past :data:`MAX_BYTES` (never cut short: a cut
    User-Agent could slip past a Deny that matches its end)."""
    names = METADATA_NAMES.items()
    entries = tuple((n, quote(facts[key], safe=_SAFE)) for key, n in names if key in facts)
    if sum(len(n) + len(v) for n, v in entries) > MAX_BYTES:
        raise RequestHeaderSectionTooLarge()
    return entries


def from_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> dict[str, str] | None:
    """The forwarded facts in ``metadata`` (condition key -> value); None when it has none of
    them (not a forwarded call)."""
    facts: dict[str, str] = {}
    found = False
    for name, value in metadata:
        key = _KEYS.get(name)
        if key is None:
            found = found or name.startswith(PREFIX)
            continue
        found = True
        if isinstance(value, str):
            facts[key] = unquote(value)
    return facts if found else None
