"""The condition facts of an S3 request (user agent, referer, scheme, listing parameters,
``x-amz-…`` headers, how it was signed) for ``RequestContext.attributes``, under the key names
of :mod:`lightningstor_types.condition_keys`.

Client address and scheme: the TCP peer and the listener's scheme, unless the peer is one of
``server.trusted_proxies``: then ``X-Forwarded-For`` is read from the right, skipping trusted
addresses, and the first other address is the client (``aws:SourceIp``); ``X-Forwarded-Proto``
(its last value, the nearest proxy's) is the scheme. From any other peer both are ignored.
With ``server.proxy_protocol`` the peer is already the client a trusted balancer's PROXY header
named (``connections/protocol.py``). The stand-alone gateway forwards what it reads here to the
server (``gateway_service._client``), which believes it from ``server.trusted_gateways`` only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote

from lightningstor_s3.auth.request import AuthResult
from lightningstor_s3.exchange import Exchange
from lightningstor_types import condition_keys as k

_HEADERS = {
    "user-agent": k.USER_AGENT,
    "referer": k.REFERER,
    "x-amz-acl": k.ACL,
    "x-amz-metadata-directive": k.METADATA_DIRECTIVE,
    "x-amz-server-side-encryption": k.SERVER_SIDE_ENCRYPTION,
}
_QUERY = {
    "prefix": k.PREFIX,
    "delimiter": k.DELIMITER,
    "max-keys": k.MAX_KEYS,
    "versionId": k.VERSION_ID,
}


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: object, proxies: Sequence[Network]) -> bool:
    if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return False
    return any(address.version == net.version and address in net for net in proxies)


def is_trusted_proxy(peer: str | None, proxies: Sequence[Network]) -> bool:
    """Whether the peer address ``peer`` lies in one of ``proxies``."""
    # Most servers trust no proxy: then no address is parsed per request.
    return bool(proxies) and peer is not None and _trusted(_address(peer), proxies)


def client_of(ex: Exchange, proxies: Sequence[Network]) -> tuple[str | None, str]:
    """The client's address (None: the peer's, nothing to add) and scheme."""
    return client_from(ex.scope, ex.headers, proxies)


def client_from(
    scope: Mapping[str, Any], headers: Mapping[str, str], proxies: Sequence[Network]
) -> tuple[str | None, str]:
    """:func:`client_of` from an ASGI scope and the request's (lower-case) headers."""
    client = scope.get("client")
    scheme = str(scope.get("scheme") or "http")
    if not client or not is_trusted_proxy(str(client[0]), proxies):
        return None, scheme
    found: str | None = None
    for hop in reversed(headers.get("x-forwarded-for", "").split(",")):
        address = _address(hop)
        if address is None:
            break  # a hop we cannot read: trust nothing further left
        found = str(address)
        if not _trusted(address, proxies):
            break
    proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return found, proto if proto in ("http", "https") else scheme


def tag_facts(tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    """``s3:RequestObjectTagKeys`` and ``s3:RequestObjectTag/<k>`` of the tags a request
    sets (none: no facts)."""
    if not tags:
        return {}
    facts = {k.REQUEST_OBJECT_TAG_KEYS: ",".join(t for t, _ in tags)}
    facts.update({k.REQUEST_OBJECT_TAG + t.lower(): v for t, v in tags})
    return facts


def copy_source_fact(header: str) -> str:
    """``s3:x-amz-copy-source`` as policies write it, ``bucket/key`` (decoded, no leading
    slash; a ``?versionId=`` kept): ``/bucket/key`` and ``bucket/%6Bey`` name the source
    ``bucket/key`` does (``headers.copy_source``), so they must not slip past a Deny of it."""
    path, sep, rest = header.partition("?")
    return unquote(path).removeprefix("/") + sep + rest


def condition_facts(
    ex: Exchange, query: Mapping[str, str], auth: AuthResult, proxies: Sequence[Network] = ()
) -> dict[str, str]:
    facts = {key: ex.headers[h] for h, key in _HEADERS.items() if h in ex.headers}
    source = ex.headers.get("x-amz-copy-source")
    if source is not None:
        facts[k.COPY_SOURCE] = copy_source_fact(source)
    facts.update({key: query[q] for q, key in _QUERY.items() if q in query})
    address, scheme = client_of(ex, proxies)
    if address is not None:
        facts[k.SOURCE_IP] = address
    facts[k.SECURE_TRANSPORT] = "true" if scheme == "https" else "false"
    if auth.principal is not None:
        facts[k.SIGNATURE_VERSION] = "AWS4-HMAC-SHA256"
        facts[k.AUTH_TYPE] = "REST-QUERY-STRING" if auth.presigned else "REST-HEADER"
    tagging = ex.headers.get("x-amz-tagging")
    if tagging:
        facts.update(tag_facts(parse_qsl(tagging, keep_blank_values=True)))
    return facts


def form_facts(
    ex: Exchange,
    fields: Mapping[str, str],
    tags: Sequence[tuple[str, str]],
    proxies: Sequence[Network] = (),
) -> dict[str, str]:
    """The facts of a browser form upload (POST Object): signed with SigV4 (its policy),
    ``s3:authType`` ``POST``; the form's fields and ``tags`` stand for PutObject's headers."""
    facts = {_HEADERS[h]: ex.headers[h] for h in ("user-agent", "referer") if h in ex.headers}
    sse = fields.get("x-amz-server-side-encryption")
    if sse is not None:
        facts[k.SERVER_SIDE_ENCRYPTION] = sse.strip()
    acl = fields.get("acl", fields.get("x-amz-acl"))
    if acl is not None:
        facts[k.ACL] = acl.strip()
    address, scheme = client_of(ex, proxies)
    if address is not None:
        facts[k.SOURCE_IP] = address
    facts[k.SECURE_TRANSPORT] = "true" if scheme == "https" else "false"
    facts[k.SIGNATURE_VERSION] = "AWS4-HMAC-SHA256"
    facts[k.AUTH_TYPE] = "POST"
    facts.update(tag_facts(tags))
    return facts
