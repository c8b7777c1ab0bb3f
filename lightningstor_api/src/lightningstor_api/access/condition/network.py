"""IpAddress and NotIpAddress: CIDR blocks (a bare address is its /32 or /128), v4 and v6."""

from __future__ import annotations

import ipaddress
from typing import Any

from lightningstor_api.access.condition.operator import Operator, PolicyValueError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise PolicyValueError(f"{text!r} is not an IP address or CIDR block") from None


def _inside(policy: Network, value: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == policy.version and address in policy


OPERATORS: dict[str, Operator[Any]] = {
    "IpAddress": Operator("IpAddress", _network, _inside),
    "NotIpAddress": Operator("NotIpAddress", _network, _inside, negated=True),
}
