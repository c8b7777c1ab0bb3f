"""A policy statement's Condition block: parsed once, then tested against a request's facts.

``{"<qualifier>:<Operator><IfExists>": {"<key>": value | [values]}}``. A condition holds when
every operator/key pair holds (AND); a pair holds when the request value matches any of the
policy values (OR), or, for a negated operator, matches none of them. A key the request lacks:
the pair fails, except for a negated operator (holds, as AWS), an ``…IfExists`` operator
(holds) and ``Null`` (holds when ``"true"``). Multi-valued keys: ``ForAnyValue:`` holds when
some request value matches, ``ForAllValues:`` when every one does (and when there is none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightningstor_api.access.condition import arn, boolean, date, network, numeric, string
from lightningstor_api.access.condition.operator import Operator, PolicyValueError
from lightningstor_types.condition_keys import known_key

Facts = Mapping[str, tuple[str, ...]]
"""A request's condition keys (lower-cased) and their values; a missing key is absent."""

OPERATORS: dict[str, Operator[Any]] = {
    **string.OPERATORS,
    **numeric.OPERATORS,
    **date.OPERATORS,
    **boolean.OPERATORS,
    **network.OPERATORS,
    **arn.OPERATORS,
}
QUALIFIERS = ("ForAnyValue", "ForAllValues")


class ConditionError(ValueError):
    """Why a Condition block is malformed (the text of MalformedPolicy)."""


@dataclass(frozen=True, slots=True)
class Clause:
    """One operator applied to one key with its policy values."""

    operator: Operator[Any]
    key: str
    values: tuple[Any, ...]
    if_exists: bool = False
    qualifier: str | None = None

    def holds(self, facts: Facts) -> bool:
        present = facts.get(self.key)
        op = self.operator
        if op.name == "Null":
            return all(v == (present is None) for v in self.values)
        if present is None:
            if self.qualifier == "ForAllValues":
                return True
            return self.if_exists or op.negated
        if self.qualifier == "ForAllValues":
            return all(self._one(v) for v in present)
        return any(self._one(v) for v in present)

    def _one(self, value: str) -> bool:
        hit = any(self.operator.test(p, value) for p in self.values)
        return not hit if self.operator.negated else hit


@dataclass(frozen=True, slots=True)
class Condition:
    """All clauses of a statement's Condition block (empty: always holds)."""

    clauses: tuple[Clause, ...] = ()

    def holds(self, facts: Facts) -> bool:
        return all(c.holds(facts) for c in self.clauses)


def _values(raw: object) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise ConditionError("condition values must be strings, numbers or booleans")
    if not out:
        raise ConditionError("a condition key needs at least one value")
    return out


def parse_condition(raw: object) -> Condition:
    """The Condition block ``raw`` (decoded JSON); :class:`ConditionError` says what is wrong."""
    if not isinstance(raw, dict):
        raise ConditionError("Condition must be an object")
    clauses: list[Clause] = []
    for spelled, block in raw.items():
        qualifier, _, name = spelled.rpartition(":")
        if qualifier and qualifier not in QUALIFIERS:
            raise ConditionError(f"Invalid Condition type : {spelled}")
        if_exists = name.endswith("IfExists") and name != "IfExists"
        base = name.removesuffix("IfExists") if if_exists else name
        op = OPERATORS.get(base)
        if op is None or (if_exists and base == "Null"):
            raise ConditionError(f"Invalid Condition type : {spelled}")
        if not isinstance(block, dict) or not block:
            raise ConditionError(f"Condition {spelled} must map keys to values")
        for key, raw_values in block.items():
            folded = str(key).lower()
            if not known_key(folded):
                raise ConditionError(f"Policy has an invalid condition key: {key}")
            try:
                values = tuple(op.compile(v) for v in _values(raw_values))
            except PolicyValueError as exc:
                raise ConditionError(f"Invalid value in condition {spelled} {key}: {exc}") from None
            clauses.append(Clause(op, folded, values, if_exists, qualifier or None))
    return Condition(tuple(clauses))


__all__ = ["Clause", "Condition", "ConditionError", "Facts", "parse_condition"]
