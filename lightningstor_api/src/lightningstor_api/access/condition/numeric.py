"""The Numeric* operators (integers and decimals, as AWS)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from lightningstor_api.access.condition.operator import Operator, PolicyValueError


def _number(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise PolicyValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise PolicyValueError(f"{text!r} is not a number")
    return value


def _compare(cmp: Callable[[Decimal, Decimal], bool]) -> Callable[[Decimal, str], bool]:
    def test(policy: Decimal, value: str) -> bool:
        try:
            return cmp(_number(value), policy)
        except PolicyValueError:
            return False

    return test


OPERATORS: dict[str, Operator[Any]] = {
    op.name: op
    for op in (
        Operator("NumericEquals", _number, _compare(operator.eq)),
        Operator("NumericNotEquals", _number, _compare(operator.eq), negated=True),
        Operator("NumericLessThan", _number, _compare(operator.lt)),
        Operator("NumericLessThanEquals", _number, _compare(operator.le)),
        Operator("NumericGreaterThan", _number, _compare(operator.gt)),
        Operator("NumericGreaterThanEquals", _number, _compare(operator.ge)),
    )
}
