"""Principals as a bucket policy names them: our identities written as IAM ARNs.

``arn:aws:iam::{org}:user/{id}`` is the org-level principal ``id`` of ``org``,
``arn:aws:iam::{org}:user/{project}/{id}`` the principal ``id`` of that project,
``arn:aws:iam::{org}:root`` every principal of ``org``, and ``"*"`` (or ``{"AWS": "*"}``)
everyone, anonymous callers included. :func:`~lightningstor_types.scope.principal_arn` writes
the first two forms: the canonical identity of a principal (``aws:PrincipalArn``, Owner IDs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lightningstor_types.scope import Principal

_ARN = re.compile(r"arn:aws:iam::(?P<org>[^:/]+):(?:(?P<root>root)|user/(?P<path>[^:]+))")


class PrincipalError(ValueError):
    """A Principal the policy cannot name."""


@dataclass(frozen=True, slots=True)
class PrincipalPattern:
    """One principal a statement names: everyone, every principal of an org, or one identity."""

    text: str
    org: str | None = None
    project: str | None = None
    principal_id: str | None = None
    """``org`` None: everyone; ``principal_id`` None: every principal of ``org``."""

    def matches(self, caller: Principal | None) -> bool:
        if self.org is None:
            return True
        if caller is None or caller.org_id != self.org:
            return False
        if self.principal_id is None:
            return True
        return (caller.project_id, caller.principal_id) == (self.project, self.principal_id)


EVERYONE = PrincipalPattern("*")


def parse_principal(raw: object) -> tuple[PrincipalPattern, ...]:
    """The Principal (or NotPrincipal) element ``raw`` (decoded JSON)."""
    if raw == "*":
        return (EVERYONE,)
    if not isinstance(raw, dict) or not raw:
        raise PrincipalError("Invalid principal in policy")
    out: list[PrincipalPattern] = []
    for kind, value in raw.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise PrincipalError(f"Invalid principal in policy: unsupported type {kind}")
        items = value if isinstance(value, list) else [value]
        if not items:
            raise PrincipalError("Invalid principal in policy")
        for item in items:
            if not isinstance(item, str):
                raise PrincipalError("Invalid principal in policy")
            out.append(_one(item))
    return tuple(out)


def _one(text: str) -> PrincipalPattern:
    if text == "*":
        return EVERYONE
    m = _ARN.fullmatch(text)
    if m is None:
        raise PrincipalError(f'Invalid principal in policy: "{text}" is no principal ARN')
    if m["root"]:
        return PrincipalPattern(text, m["org"])
    parts = m["path"].split("/")
    if len(parts) > 2 or "" in parts:
        raise PrincipalError(f'Invalid principal in policy: "{text}"')
    project = parts[0] if len(parts) == 2 else None
    return PrincipalPattern(text, m["org"], project, parts[-1])
