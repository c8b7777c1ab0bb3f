"""Sizes and durations as people write them (``"8MiB"``, ``"6h"``): parsing and printing.

Light on purpose: the CLI parses sizes without importing the configuration model.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["GiB", "KiB", "MiB", "TiB", "format_size", "parse_duration", "parse_size"]

KiB = 1024
MiB = 1024**2
GiB = 1024**3
TiB = 1024**4

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": KiB,
    "kib": KiB,
    "mi": MiB,
    "mib": MiB,
    "gi": GiB,
    "gib": GiB,
    "ti": TiB,
    "tib": TiB,
}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")


def parse_size(value: object) -> object:
    """Bytes from ``8388608``, ``"8MiB"``, ``"8 MiB"`` or ``"1.5GiB"``; other input unchanged."""
    if isinstance(value, bool):
        raise ValueError("expected a size in bytes or with a unit, e.g. 8MiB")
    if not isinstance(value, str):
        return value
    match = _SIZE_RE.fullmatch(value.strip())
    unit = _SIZE_UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"invalid size {value!r}: expected bytes or a number with a unit "
            "(KiB, MiB, GiB, TiB binary; kB, MB, GB, TB decimal)"
        )
    try:
        size = Decimal(match.group(1)) * unit
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"invalid size {value!r}") from exc
    if size != size.to_integral_value():
        raise ValueError(f"invalid size {value!r}: not a whole number of bytes")
    return int(size)


def format_size(size: int) -> str:
    """``8388608`` → ``"8 MiB"``; sizes that are no whole binary unit stay in bytes."""
    for unit, name in ((TiB, "TiB"), (GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if size and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} byte" if size == 1 else f"{size} bytes"


def parse_duration(value: object) -> object:
    """Seconds from ``90``, ``"90"``, ``"90s"``, ``"6h"``, ``"1h30m"``; other input unchanged."""
    if isinstance(value, bool):
        raise ValueError("expected a duration in seconds or with a unit, e.g. 30s")
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _NUMBER_RE.fullmatch(text):
        return float(text)
    parts = _DURATION_RE.findall(text)
    if not parts or _DURATION_RE.sub("", text).strip():
        raise ValueError(
            f"invalid duration {value!r}: expected seconds or a number with a unit "
            "(ms, s, m, h, d, w), e.g. 30s, 6h, 1h30m"
        )
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
