"""What authentication reads (the request head) and what it answers (an :class:`AuthResult`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lightningstor_s3.auth.payload import PayloadInfo
from lightningstor_types.scope import Principal

__all__ = ["AuthResult", "RequestHead", "header_map"]


@dataclass(frozen=True, slots=True)
class RequestHead:
    """The head of an HTTP request, as the ASGI scope gives it, nothing decoded."""

    method: str
    raw_path: bytes
    """The path exactly as received (``scope["raw_path"]``), without the query."""
    query_string: bytes
    """The raw query string (``scope["query_string"]``), without the ``?``."""
    headers: list[tuple[bytes, bytes]]
    """Raw ASGI headers: lower-case names, values as received, in order."""
    host: str
    """The authority the request was sent to, used when no Host header came with it."""


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Who signed a request (None: nobody, an anonymous request) and how to read its body."""

    principal: Principal | None
    access_key_id: str
    """The access key that signed the request; empty when anonymous."""
    payload: PayloadInfo
    presigned: bool = False
    expires_at: datetime | None = None
    """When a presigned URL stops being valid; None for other requests."""


def header_map(headers: Sequence[tuple[bytes, bytes]]) -> Mapping[bytes, Sequence[bytes]]:
    """Every value of each header, by lower-case name, in the order received."""
    found: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        found.setdefault(name.lower(), []).append(value)
    return found
