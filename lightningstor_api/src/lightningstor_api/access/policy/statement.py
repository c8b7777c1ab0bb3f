"""A bucket policy parsed once into typed statements (:func:`parse_policy`).

Refused with ``MalformedPolicy`` and the reason, as AWS: a document over 20 KiB, not JSON, an
unknown element, a Version other than ``2012-10-17`` / ``2008-10-17``, a statement without
Effect, principal, action or resource, ``NotPrincipal`` with ``Allow``, duplicate Sids, an
action no S3 action matches or with a wildcard in its service part, a resource of another
bucket, a condition operator or key we do not know, or a bad condition value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from lightningstor_api.access.condition import Condition, ConditionError, Facts, parse_condition
from lightningstor_api.access.policy.action import ActionError, parse_action
from lightningstor_api.access.policy.principal import (
    EVERYONE,
    PrincipalError,
    PrincipalPattern,
    parse_principal,
)
from lightningstor_api.access.policy.resource import ResourceError, ResourcePattern, parse_resource
from lightningstor_types.actions import Action
from lightningstor_types.condition_keys import EXISTING_OBJECT_TAG
from lightningstor_types.errors import MalformedPolicy
from lightningstor_types.json_documents import load_document
from lightningstor_types.scope import Principal

MAX_POLICY_BYTES = 20 * 1024
VERSIONS = ("2012-10-17", "2008-10-17")
_POLICY_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
    "NotResource", "Condition",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement; ``not_*`` flags mean the element was the ``Not…`` form."""

    sid: str
    allow: bool
    principals: tuple[PrincipalPattern, ...]
    actions: frozenset[Action]
    resources: tuple[ResourcePattern, ...]
    condition: Condition = field(default_factory=Condition)
    not_principal: bool = False
    not_action: bool = False
    not_resource: bool = False

    @property
    def label(self) -> str:
        return f'statement "{self.sid}"' if self.sid else "a statement without Sid"

    def applies(
        self, caller: Principal | None, action: Action, key: str | None, facts: Facts
    ) -> bool:
        """Whether this statement speaks about the request (its Effect then decides)."""
        named = any(p.matches(caller) for p in self.principals)
        if named == self.not_principal:
            return False
        if (action in self.actions) == self.not_action:
            return False
        if any(r.matches(key) for r in self.resources) == self.not_resource:
            return False
        return self.condition.holds(facts)

    @property
    def public(self) -> bool:
        """Whether an Allow reaches everyone: ``*`` without a condition that narrows it."""
        if not self.allow:
            return False
        if self.not_principal:
            return True
        return EVERYONE in self.principals and not self.condition.clauses


@dataclass(frozen=True, slots=True)
class Policy:
    """A bucket's policy: its statements, and the document as it was put."""

    statements: tuple[Statement, ...]
    text: str

    @property
    def public(self) -> bool:
        """AWS's "is public": some Allow statement grants everyone without condition."""
        return any(s.public for s in self.statements)

    @property
    def reads_existing_tags(self) -> bool:
        """Whether a condition tests the object's tags (the decision then reads them)."""
        return any(
            c.key.startswith(EXISTING_OBJECT_TAG)
            for s in self.statements
            for c in s.condition.clauses
        )


def _list(raw: object) -> list[object]:
    return raw if isinstance(raw, list) else [raw]


def _one_of(raw: Mapping[str, object], name: str) -> tuple[object, bool]:
    has, has_not = name in raw, f"Not{name}" in raw
    if has == has_not:
        raise MalformedPolicy(f"Each statement needs exactly one of {name} and Not{name}")
    return (raw[f"Not{name}"], True) if has_not else (raw[name], False)


def _statement(raw: object, bucket: str) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Each statement must be an object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise MalformedPolicy(f"Unknown field {sorted(unknown)[0]}")
    sid = raw.get("Sid", "")
    if not isinstance(sid, str):
        raise MalformedPolicy("Sid must be a string")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy("Invalid effect: Effect must be Allow or Deny")
    principal, not_principal = _one_of(raw, "Principal")
    if not_principal and effect == "Allow":
        raise MalformedPolicy("NotPrincipal may only be used with Deny")
    action, not_action = _one_of(raw, "Action")
    resource, not_resource = _one_of(raw, "Resource")
    try:
        principals = parse_principal(principal)
        actions = frozenset(a for item in _list(action) for a in parse_action(item))
        resources = tuple(parse_resource(item, bucket) for item in _list(resource))
        condition = parse_condition(raw["Condition"]) if "Condition" in raw else Condition()
    except (PrincipalError, ActionError, ResourceError, ConditionError) as exc:
        raise MalformedPolicy(str(exc)) from None
    if not resources:
        raise MalformedPolicy("Policy has invalid resource")
    return Statement(
        sid, effect == "Allow", principals, actions, resources, condition,
        not_principal, not_action, not_resource,
    )  # fmt: skip


def parse_policy(text: str | bytes, bucket: str) -> Policy:
    """The policy document ``text`` of bucket ``bucket``; MalformedPolicy says what is wrong."""
    raw_bytes = text.encode() if isinstance(text, str) else text
    if len(raw_bytes) > MAX_POLICY_BYTES:
        raise MalformedPolicy(
            f"Policies must be no larger than {MAX_POLICY_BYTES} bytes; this one has "
            f"{len(raw_bytes)}"
        )
    try:
        doc = load_document(raw_bytes)
    except ValueError:  # UnicodeDecodeError too; deep nesting and lone surrogates as well
        raise MalformedPolicy("Policies must be valid JSON") from None
    if not isinstance(doc, dict):
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    unknown = set(doc) - _POLICY_KEYS
    if unknown:
        raise MalformedPolicy(f"Unknown field {sorted(unknown)[0]}")
    if doc.get("Version", VERSIONS[1]) not in VERSIONS:
        raise MalformedPolicy("The policy must contain a valid version string")
    if "Statement" not in doc:
        raise MalformedPolicy("Missing required field Statement")
    statements = tuple(_statement(s, bucket) for s in _list(doc["Statement"]))
    if not statements:
        raise MalformedPolicy("Missing required field Statement")
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique")
    return Policy(statements, raw_bytes.decode())


@lru_cache(maxsize=1024)
def cached_policy(text: str, bucket: str) -> Policy:
    """The policy ``text`` of ``bucket``, parsed once per distinct document."""
    return parse_policy(text, bucket)
