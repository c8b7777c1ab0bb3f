"""The String* operators (StringLike's ``*`` and ``?`` as AWS: any run, any one character)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from lightningstor_api.access.condition.operator import Operator


def _same(policy: str, value: str) -> bool:
    return policy == value


def _same_folded(policy: str, value: str) -> bool:
    return policy.casefold() == value.casefold()


@cache
def glob(pattern: str) -> re.Pattern[str]:
    """``*`` any run, ``?`` any one character, everything else literal; matched in full."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def _like(policy: str, value: str) -> bool:
    return glob(policy).fullmatch(value) is not None


def _text(value: str) -> str:
    return value


OPERATORS: dict[str, Operator[Any]] = {
    op.name: op
    for op in (
        Operator("StringEquals", _text, _same),
        Operator("StringNotEquals", _text, _same, negated=True),
        Operator("StringEqualsIgnoreCase", _text, _same_folded),
        Operator("StringNotEqualsIgnoreCase", _text, _same_folded, negated=True),
        Operator("StringLike", _text, _like),
        Operator("StringNotLike", _text, _like, negated=True),
    )
}
