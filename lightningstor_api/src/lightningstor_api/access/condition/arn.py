"""The Arn* operators: ArnLike globs each of the six colon-separated parts on its own."""

from __future__ import annotations

from typing import Any

from lightningstor_api.access.condition.operator import Operator, PolicyValueError
from lightningstor_api.access.condition.string import glob


def _arn(text: str) -> str:
    if not text.startswith("arn:") or text.count(":") < 5:
        raise PolicyValueError(f"{text!r} is not an ARN")
    return text


def _parts(arn: str) -> list[str]:
    return arn.split(":", 5)


def _like(policy: str, value: str) -> bool:
    want, got = _parts(policy), _parts(value)
    if len(got) != 6:
        return False
    return all(glob(w).fullmatch(g) is not None for w, g in zip(want, got, strict=True))


def _same(policy: str, value: str) -> bool:
    return policy == value


OPERATORS: dict[str, Operator[Any]] = {
    op.name: op
    for op in (
        Operator("ArnEquals", _arn, _same),
        Operator("ArnNotEquals", _arn, _same, negated=True),
        Operator("ArnLike", _arn, _like),
        Operator("ArnNotLike", _arn, _like, negated=True),
    )
}
