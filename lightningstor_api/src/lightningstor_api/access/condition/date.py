"""The Date* operators: ISO 8601 dates and times, or epoch seconds, compared as instants."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from lightningstor_api.access.condition.operator import Operator, PolicyValueError


def instant(text: str) -> float:
    """Epoch seconds of ``text``: an integer (epoch seconds) or an ISO 8601 date/time (UTC when
    no offset is given)."""
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PolicyValueError(f"{text!r} is not a date") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _compare(cmp: Callable[[float, float], bool]) -> Callable[[float, str], bool]:
    def test(policy: float, value: str) -> bool:
        try:
            return cmp(instant(value), policy)
        except PolicyValueError:
            return False

    return test


OPERATORS: dict[str, Operator[Any]] = {
    op.name: op
    for op in (
        Operator("DateEquals", instant, _compare(operator.eq)),
        Operator("DateNotEquals", instant, _compare(operator.eq), negated=True),
        Operator("DateLessThan", instant, _compare(operator.lt)),
        Operator("DateLessThanEquals", instant, _compare(operator.le)),
        Operator("DateGreaterThan", instant, _compare(operator.gt)),
        Operator("DateGreaterThanEquals", instant, _compare(operator.ge)),
    )
}
