"""Whose facts a gRPC call's conditions see: the caller's own (its peer address), or, from a
peer in ``[server] trusted_gateways``, those of the S3 client a stand-alone gateway forwards
(``lightningstor_types.client_facts``: address, scheme, user agent, referer, how it signed).

From any other peer the forwarded entries are ignored: a tenant calling gRPC directly cannot
choose its ``aws:SourceIp``. A trusted peer that forwards nothing is decided as before (its own
address), so the server may trust gateways before they are upgraded.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lightningstor_api.access.facts import source_ip
from lightningstor_types import client_facts
from lightningstor_types import condition_keys as k

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Client:
    """The client a call's conditions describe."""

    address: str | None = None
    """Its address; None: the call's peer."""
    facts: dict[str, str] = field(default_factory=dict)
    """Condition key -> value, for ``RequestContext.attributes``."""


PEER = Client()


def trusted(peer: str, gateways: Sequence[Network]) -> bool:
    """Whether a gRPC peer (``ipv4:10.0.0.5:41000``, ``ipv6:[::1]:41000``) is a trusted gateway."""
    ip = source_ip(peer) if peer.startswith(("ipv4:", "ipv6:")) else None
    if ip is None:
        return False
    address = ipaddress.ip_address(ip)  # an IPv4-mapped peer is already its IPv4 address
    return any(address.version == net.version and address in net for net in gateways)


def forwarded_client(
    peer: str, metadata: Iterable[tuple[str, str | bytes]] | None, gateways: Sequence[Network]
) -> Client:
    """The client of a call from ``peer`` carrying ``metadata``."""
    if not gateways or not trusted(peer, gateways):
        return PEER
    facts = client_facts.from_metadata(metadata or ())
    if facts is None:
        return PEER
    # A forwarded call without a readable address has none: never the gateway's own, which
    # an IpAddress condition naming the gateway's network would accept.
    return Client(source_ip(facts.pop(k.SOURCE_IP, "")) or "", facts)
