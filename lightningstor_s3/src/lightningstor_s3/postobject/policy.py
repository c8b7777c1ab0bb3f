"""The POST policy: a base64 JSON document of an expiration and conditions that every field of
the form must meet (AWS's "Creating a POST policy").

Conditions: ``{"field": "value"}`` and ``["eq", "$field", "value"]`` (exact match),
``["starts-with", "$field", "prefix"]`` (``""``: any value), ``["content-length-range", min,
max]`` (the file's size, inclusive). Field names are case-insensitive; ``bucket`` is the
bucket the form is posted to. Every field of the form except ``policy``, ``x-amz-signature``,
``file`` and ``x-ignore-*`` must be named by a condition.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lightningstor_types.errors import AccessDenied, InvalidPolicyDocument
from lightningstor_types.json_documents import load_document

EXEMPT = frozenset({"policy", "x-amz-signature", "file"})


@dataclass(frozen=True, slots=True)
class Condition:
    op: str  # "eq" | "starts-with"
    name: str  # lower-case, without "$"
    value: str

    def __str__(self) -> str:
        return json.dumps([self.op, "$" + self.name, self.value])


@dataclass(slots=True)
class Policy:
    expiration: datetime
    conditions: list[Condition] = field(default_factory=list)
    length_range: tuple[int, int] | None = None


def _bad(reason: str) -> InvalidPolicyDocument:
    return InvalidPolicyDocument(f"Invalid Policy: {reason}")


def parse_policy(encoded: str) -> Policy:
    """The policy of the form's ``policy`` field; InvalidPolicyDocument when malformed."""
    try:
        doc: Any = load_document(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise _bad("Invalid JSON.") from exc
    if not isinstance(doc, dict):
        raise _bad("Invalid JSON.")
    expiration = doc.get("expiration")
    if not isinstance(expiration, str):
        raise _bad("Policy missing expiration.")
    try:
        when = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(f"Invalid 'expiration' value: '{expiration}'") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    conditions = doc.get("conditions")
    if not isinstance(conditions, list):
        raise _bad("Policy missing conditions.")
    policy = Policy(when)
    for item in conditions:
        _condition(policy, item)
    return policy


def _condition(policy: Policy, item: object) -> None:
    if isinstance(item, dict):
        for name, value in item.items():
            if not isinstance(value, str):
                raise _bad(f"Invalid simple condition value for '{name}'.")
            policy.conditions.append(Condition("eq", str(name).lower().lstrip("$"), value))
        return
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise _bad("Invalid condition.")
    op = item[0].lower()
    if op == "content-length-range":
        if (
            len(item) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item[1:])
            or not 0 <= item[1] <= item[2]
        ):
            raise _bad("Invalid content-length-range condition.")
        policy.length_range = (item[1], item[2])
        return
    if op not in ("eq", "starts-with") or len(item) != 3:
        raise _bad(f"Invalid condition '{item[0]}'.")
    name, value = item[1], item[2]
    if not isinstance(name, str) or not name.startswith("$") or not isinstance(value, str):
        raise _bad(f"Invalid {op} condition.")
    policy.conditions.append(Condition(op, name[1:].lower(), value))


def check_policy(policy: Policy, fields: dict[str, str], bucket: str, now: datetime) -> None:
    """AccessDenied unless the form meets every condition before the expiration."""
    if now >= policy.expiration:
        raise AccessDenied("Invalid according to Policy: Policy expired.")
    values = {**fields, "bucket": bucket}
    covered = {"bucket"}
    for cond in policy.conditions:
        covered.add(cond.name)
        value = values.get(cond.name)
        ok = value is not None and (
            value == cond.value if cond.op == "eq" else value.startswith(cond.value)
        )
        if not ok:
            raise AccessDenied(f"Invalid according to Policy: Policy Condition failed: {cond}")
    if not any(c.name == "bucket" for c in policy.conditions):
        raise AccessDenied("Invalid according to Policy: Policy Condition failed: bucket")
    extra = sorted(
        name
        for name in fields
        if name not in covered and name not in EXEMPT and not name.startswith("x-ignore-")
    )
    if extra:
        raise AccessDenied(f"Invalid according to Policy: Extra input fields: {extra[0]}")
