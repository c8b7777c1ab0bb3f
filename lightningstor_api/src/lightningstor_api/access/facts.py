"""A request's condition facts (:data:`~lightningstor_api.access.condition.Facts`).

The caller, time and source address come from the :class:`RequestContext`; everything a
frontend read from the request (user agent, referer, scheme, ``s3:prefix``, ``x-amz-…``
headers) it puts in ``ctx.attributes`` under the condition key's name, lower-cased (see
:mod:`lightningstor_types.condition_keys`), and is passed through here.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import UTC, datetime

from lightningstor_api.access.condition import Facts
from lightningstor_types import condition_keys as k
from lightningstor_types.scope import principal_arn
from lightningstor_types.service import RequestContext


def source_ip(address: str) -> str | None:
    """The IP of ``host:port``, ``[v6]:port``, gRPC's ``ipv4:host:port`` / ``ipv6:[v6]:port``,
    or of a bare address; None when it is none (a Unix socket). An IPv4-mapped IPv6 address
    (what a dual-stack listener on ``[::]`` reports for an IPv4 client) is its IPv4 address, so
    that IPv4 ranges in ``aws:SourceIp`` conditions match it."""
    text = address
    for prefix in ("ipv4:", "ipv6:"):
        text = text.removeprefix(prefix)
    if text.startswith("["):
        text = text[1 : text.find("]")]
    elif text.count(":") == 1:
        text = text.rsplit(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def request_facts(ctx: RequestContext, *, anonymous: bool = False) -> Facts:
    """The facts of ``ctx`` (its principal is not named when ``anonymous``)."""
    now = time.time()
    facts: dict[str, tuple[str, ...]] = {
        k.CURRENT_TIME: (datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),),
        k.EPOCH_TIME: (str(int(now)),),
        k.SECURE_TRANSPORT: ("false",),
    }
    ip = source_ip(ctx.source_address)
    if ip is not None:
        facts[k.SOURCE_IP] = (ip,)
    if not anonymous:
        p = ctx.principal
        facts[k.PRINCIPAL_ARN] = (principal_arn(p),)
        facts[k.USERNAME] = (p.principal_id,)
        facts[k.USERID] = (p.principal_id,)
    for name, value in ctx.attributes.items():
        folded = name.lower()
        if folded.startswith(k.SERVED_NAMESPACES):
            facts[folded] = (
                tuple(value.split(",")) if folded == k.REQUEST_OBJECT_TAG_KEYS else (value,)
            )
    return facts
