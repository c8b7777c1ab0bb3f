"""Identifiers that never derive from user input."""

from __future__ import annotations

import re
import time

from lightningstor_types.randomness import token_hex

_MAX_NS = (1 << 64) - 1
_SORT_ID = re.compile(r"^[0-9a-f]{24}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
NULL_VERSION = "null"


def new_sort_id(now_ns: int | None = None) -> str:
    """A version sort id: newer ids sort first (inverted time), random tail breaks ties."""
    ns = time.time_ns() if now_ns is None else now_ns
    return f"{_MAX_NS - ns:016x}{token_hex(4)}"


def newer_sort_id(than: str | None) -> str:
    """A new sort id that sorts before ``than`` (the key's newest version), even when this
    server's clock is behind the one that wrote ``than`` or has stepped back."""
    sort_id = new_sort_id()
    if than is None or sort_id < than:
        return sort_id
    return new_sort_id(_MAX_NS - int(than[:16], 16) + 1)


def is_sort_id(value: str) -> bool:
    """True when ``value`` has the form of a sort id (and so may name a stored version)."""
    return _SORT_ID.fullmatch(value) is not None


def new_data_id() -> str:
    return token_hex(16)


def new_upload_id(now_ns: int | None = None) -> str:
    """An upload id: time first, so a key's uploads list in the order they were initiated."""
    ns = time.time_ns() if now_ns is None else now_ns
    return f"{ns:016x}{token_hex(8)}"


def is_upload_id(value: str) -> bool:
    """True when ``value`` has the form of an upload id (and so may name a stored upload)."""
    return _HEX32.fullmatch(value) is not None


def new_bucket_id() -> str:
    return token_hex(16)


def new_gc_entry_id(now_ns: int | None = None) -> str:
    """GC journal ids sort by time, so the collector takes the oldest first."""
    ns = time.time_ns() if now_ns is None else now_ns
    return f"{ns:020d}-{token_hex(6)}"


def new_usage_delta_id(now_ns: int | None = None) -> str:
    """Usage delta ids sort by time and never collide between servers."""
    return new_gc_entry_id(now_ns)
