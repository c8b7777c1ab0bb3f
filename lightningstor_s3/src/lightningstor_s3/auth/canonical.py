"""The canonical request of SigV4, built from the request exactly as it arrived.

S3 signs the path as the client sent it: URI-encoded once, never normalized (``//``, ``.`` and
``..`` stay), so the first candidate for the canonical URI is the raw path itself. A client may
send a byte that its signer encoded (a raw ``~`` or ``!``, a UTF-8 byte, a space) or encode one
that the spec leaves bare (``%7E``); for those the path is decoded once and re-encoded by the
SigV4 rule (every byte but ``A-Z a-z 0-9 - . _ ~`` and ``/`` as ``%XX``), the second candidate.
Both decode to the same key, so accepting either signs the same object.

The canonical query string is always re-encoded: each name and value is decoded once and encoded
by the SigV4 rule, and the pairs are sorted by name, then value. A ``+`` is a literal plus (RFC
3986, what every AWS SDK sends as ``%2B``), never a space.

Everything is bytes: header values are signed as the bytes received, trimmed and with runs of
whitespace folded to one space, repeated headers joined with ``,``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import quote_from_bytes, unquote_to_bytes

__all__ = [
    "ALGORITHM",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri_candidates",
    "sha256_hex",
    "string_to_sign",
    "uri_encode",
]

ALGORITHM = "AWS4-HMAC-SHA256"


def uri_encode(data: bytes, *, keep_slash: bool) -> bytes:
    """SigV4's UriEncode: every byte but ``A-Z a-z 0-9 - . _ ~`` (and ``/`` if kept) as ``%XX``."""
    return quote_from_bytes(data, safe="/" if keep_slash else "").encode("ascii")


def canonical_uri_candidates(raw_path: bytes) -> list[bytes]:
    """The canonical URIs a client may have signed for ``raw_path``, the raw one first."""
    raw = raw_path or b"/"
    reencoded = uri_encode(unquote_to_bytes(raw), keep_slash=True)
    return [raw] if reencoded == raw else [raw, reencoded]


def canonical_query(raw_query: bytes, *, exclude: bytes | None = None) -> bytes:
    """The canonical query string of ``raw_query``, without parameter ``exclude`` if given."""
    if not raw_query:
        return b""
    pairs: list[tuple[bytes, bytes]] = []
    for segment in raw_query.split(b"&"):
        if not segment:
            continue
        name, _, value = segment.partition(b"=")
        encoded = uri_encode(unquote_to_bytes(name), keep_slash=False)
        if encoded == exclude:
            continue
        pairs.append((encoded, uri_encode(unquote_to_bytes(value), keep_slash=False)))
    pairs.sort()
    return b"&".join(name + b"=" + value for name, value in pairs)


def canonical_headers(
    headers: Mapping[bytes, Sequence[bytes]], signed: Iterable[bytes], host: bytes
) -> bytes:
    """``name:value\\n`` for each signed header, in the order the client listed them.

    ``headers`` maps lower-case names to every value received. ``host`` stands in for a Host
    header the request did not carry (the ASGI server always has the authority).
    """
    lines: list[bytes] = []
    for name in signed:
        values = headers.get(name)
        if not values and name == b"host":
            values = (host,)
        folded = b",".join(b" ".join(value.split()) for value in values or ())
        lines.append(name + b":" + folded + b"\n")
    return b"".join(lines)


def canonical_request(
    method: str,
    uri: bytes,
    query: bytes,
    headers: bytes,
    signed_headers: bytes,
    payload_hash: bytes,
) -> bytes:
    """The canonical request: its six parts joined by newlines (``headers`` ends with one)."""
    return b"\n".join((method.encode("ascii"), uri, query, headers, signed_headers, payload_hash))


def string_to_sign(timestamp: str, scope: str, canonical: bytes) -> str:
    """``AWS4-HMAC-SHA256``, the timestamp, the scope and the canonical request's SHA-256."""
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{sha256_hex(canonical)}"


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
