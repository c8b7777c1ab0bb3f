"""Bool and Null (Null tests presence: ``"true"`` matches a key the request lacks)."""

from __future__ import annotations

from typing import Any

from lightningstor_api.access.condition.operator import Operator, PolicyValueError


def _flag(text: str) -> bool:
    folded = text.strip().lower()
    if folded not in ("true", "false"):
        raise PolicyValueError(f"{text!r} is neither true nor false")
    return folded == "true"


def _same(policy: bool, value: str) -> bool:
    return value.strip().lower() == ("true" if policy else "false")


def _never(policy: bool, value: str) -> bool:
    # Null is decided from presence alone (condition/__init__.py); a present key is not null.
    return not policy


OPERATORS: dict[str, Operator[Any]] = {
    "Bool": Operator("Bool", _flag, _same),
    "Null": Operator("Null", _flag, _never),
}
