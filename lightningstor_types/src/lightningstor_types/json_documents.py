"""JSON documents that clients send (bucket policies, POST policies): read with limits that
``json.loads`` alone does not have.

``json.loads`` raises ``RecursionError`` (not ``ValueError``) on deep nesting, and turns a
``\\ud800`` escape into a lone surrogate, a string that cannot be encoded back to UTF-8: an
error message or a stored document holding one then fails to be written. No document we read
needs more than a few levels, nor a code point that is not one.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "load_document"]

MAX_DEPTH = 32
"""Levels of arrays and objects a document may have (a bucket policy needs five)."""


def load_document(data: str | bytes) -> Any:
    """The JSON value of ``data``; ValueError when it is not JSON, nests deeper than
    :data:`MAX_DEPTH` or holds a string that is not Unicode text (a lone surrogate)."""
    try:
        doc = json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:  # iterative: a walk must not be what runs out of stack
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key in value:
                    _check_text(key)
                stack.extend((v, depth + 1) for v in value.values())
            else:
                stack.extend((v, depth + 1) for v in value)
    return doc


def _check_text(value: str) -> None:
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("JSON string with a lone surrogate") from None
