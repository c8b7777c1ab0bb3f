"""The embedded policy engine: roles, bindings, deny by default.

A **role** is a set of action patterns (shell-style globs over action names, ``*`` matching any
rest, ``:`` included: ``lightningstor:objects:*``); a pattern that matches an earlier action
name (``lightningstor:objects:read``) also grants the specification's names it became
(``lightningstor_types.actions.LEGACY_ACTIONS``). A **binding** grants a role to a principal at
a scope: a whole org, one project of it, or one bucket (of the org or of a project). A binding
may name a **group** instead: it then holds for each member exactly as a binding naming that
member would (members are written like a binding's principal, so rule 1 applies to each).

A decision allows ``action`` on ``resource`` for ``principal`` only if some binding

1. names the principal — its identity, home scope included: ``"{org}/{id}"`` names the
   org-level principal, ``"{org}/{project}/{id}"`` the principal of that project, and a bare
   ``"{id}"`` the principal whose home is the binding's own org and project. A bare id in an
   ``org = "*"`` binding names nobody, so that an org admin who mints a key for some id in
   their own org cannot borrow a platform grant; and a key minted in project P (home P) never
   holds the grants of an org-level principal of the same id, nor those of project Q;
2. covers the resource (same org or ``*``; same project when the binding names one, and then
   only resources inside that project; same bucket when the binding names one); and
3. has a role with a pattern matching the action.

Everything else is denied.

**Acting as another identity.** A decision with a ``subject`` (a key minted for the subject,
or one of its keys deleted) is allowed only if the rules above allow it AND the principal
already holds every permission any binding gives the subject, where that binding gives it:
for each of the subject's bindings and each pattern of its role, some binding of the principal
covers the binding's resource (``org/*`` for a binding at ``org = "*"``) with a pattern that
matches the subject's pattern as a string. (A glob matching another glob's text matches every
action that glob matches, since ``*`` is the only wildcard.) So a subject with any grant in
another org, at every org or on the platform can be impersonated only by a principal that
holds that grant itself.

The first-start admin (``default/admin``) holds the built-in binding
``admin`` at ``org = "*"``, so the key the server creates on first start can do everything.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from lightningstor_api.authz import Decision
from lightningstor_types.actions import LEGACY_ACTIONS
from lightningstor_types.config import IamSettings
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.resources import PLATFORM_ORG, Resource, parse_resource
from lightningstor_types.scope import Principal

log = logging.getLogger(__name__)

ANY_ORG = "*"


@dataclass(frozen=True, slots=True)
class Binding:
    """``principal`` holds ``role`` at ``org`` [/ ``project``] [/ ``bucket``]."""

    principal: str
    role: str
    org: str
    project: str | None = None
    bucket: str | None = None
    group: str | None = None
    """The group this binding was expanded from, if any (for the decision's reason)."""

    def names(self, principal: Principal) -> bool:
        """Whether this binding is about ``principal`` (rule 1 of the module doc)."""
        parts = self.principal.split("/")
        home: tuple[str, str | None]
        if len(parts) == 1:
            if self.org == ANY_ORG:
                return False
            home = (self.org, self.project)
        elif len(parts) == 2:
            home = (parts[0], None)
        elif len(parts) == 3:
            home = (parts[0], parts[1])
        else:
            return False
        if parts[-1] != principal.principal_id:
            return False
        return home == (principal.org_id, principal.project_id)

    def covers(self, resource: Resource) -> bool:
        """Whether ``resource`` lies inside this binding's scope (rule 2)."""
        if self.org != ANY_ORG and self.org != resource.org:
            return False
        if self.project is not None and self.project != resource.project:
            return False
        return self.bucket is None or self.bucket == resource.bucket

    def resource(self) -> Resource:
        """The widest resource this binding covers (``org/*`` for a binding at every org)."""
        if self.org == ANY_ORG:
            return Resource(PLATFORM_ORG)
        return Resource(self.org, self.project, self.bucket)

    def where(self) -> str:
        scope = f"org/{self.org}"
        if self.project is not None:
            scope += f"/project/{self.project}"
        if self.bucket is not None:
            scope += f"/bucket/{self.bucket}"
        if self.group is not None:
            scope += f" via group {self.group}"
        return scope


ADMIN_BINDING = Binding(principal="default/admin", role="admin", org=ANY_ORG)
"""Built in: the first-start admin principal may do everything, everywhere."""


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")))


def action_matches(pattern: str, action: str) -> bool:
    """``pattern`` (a glob where ``*`` matches any rest, ``:`` included) matches ``action``."""
    return _pattern(pattern).fullmatch(action) is not None


def with_legacy(patterns: Sequence[str]) -> tuple[str, ...]:
    """``patterns`` plus the specification's name of each earlier action name they match
    (:data:`LEGACY_ACTIONS`): a role written with ``lightningstor:objects:read`` still reads."""
    out = list(patterns)
    for old, actions in LEGACY_ACTIONS.items():
        if any(action_matches(p, old) for p in patterns):
            out.extend(str(a) for a in actions if str(a) not in out)
    return tuple(out)


class PolicyEngine:
    """Decides (principal, action, resource) from roles and bindings; deny by default."""

    def __init__(
        self,
        roles: Mapping[str, Sequence[str]],
        bindings: Iterable[Binding],
        *,
        ttl_seconds: float = 0.0,
    ) -> None:
        self._roles = {name: with_legacy(patterns) for name, patterns in roles.items()}
        self._bindings = tuple(bindings)
        self._ttl = ttl_seconds
        for b in self._bindings:
            if b.role not in self._roles:
                raise ValueError(f"binding of {b.principal!r} names unknown role {b.role!r}")
            if b.org == ANY_ORG and "/" not in b.principal:
                log.warning(
                    'binding of %r at org "*" names nobody: write the principal as org/id',
                    b.principal,
                )

    @classmethod
    def from_settings(cls, iam: IamSettings) -> PolicyEngine:
        """The engine of ``[iam]``: built-in and configured roles, the admin binding first."""
        bindings = [ADMIN_BINDING]
        for b in iam.bindings:
            if b.group is not None:
                for member in iam.groups[b.group]:
                    bindings.append(
                        Binding(member, b.role, b.org, b.project, b.bucket, group=b.group)
                    )
            elif b.principal is not None:
                bindings.append(Binding(b.principal, b.role, b.org, b.project, b.bucket))
        return cls(iam.effective_roles(), bindings, ttl_seconds=iam.decision_cache_ttl_seconds)

    def decide(
        self,
        principal: Principal,
        action: str,
        resource: str,
        subject: Principal | None = None,
    ) -> Decision:
        """Whether ``principal`` may do ``action`` on ``resource`` (as ``subject``, if given:
        see "Acting as another identity" in the module doc)."""
        try:
            parsed = parse_resource(resource)
        except InvalidArgument:
            return Decision(False, f"malformed resource {resource!r}", self._ttl)
        granted = self._grant(principal, action, parsed)
        if granted is None:
            return Decision(False, f"no binding grants {action} on {resource}", self._ttl)
        if subject is not None and subject != principal:
            missing = self._beyond(principal, subject)
            if missing is not None:
                return Decision(False, missing, self._ttl)
        return Decision(True, f"role {granted.role} at {granted.where()}", self._ttl)

    @property
    def roles(self) -> Mapping[str, tuple[str, ...]]:
        return self._roles

    @property
    def bindings(self) -> tuple[Binding, ...]:
        return self._bindings

    def holds(self, principal: Principal, pattern: str, resource: Resource) -> bool:
        """Whether some binding of ``principal`` covers ``resource`` with a pattern matching
        ``pattern`` (an action or, as text, an action pattern): what the principal may grant."""
        return self._grant(principal, pattern, resource) is not None

    def _grant(self, principal: Principal, action: str, resource: Resource) -> Binding | None:
        """The first binding that allows ``action`` (or an action pattern, as text)."""
        for b in self._bindings:
            if not (b.names(principal) and b.covers(resource)):
                continue
            for pattern in self._roles[b.role]:
                if action_matches(pattern, action):
                    return b
        return None

    def _beyond(self, principal: Principal, subject: Principal) -> str | None:
        """Why ``subject`` holds more than ``principal`` (None: it does not)."""
        for b in self._bindings:
            if not b.names(subject):
                continue
            where = b.resource()
            for pattern in self._roles[b.role]:
                if self._grant(principal, pattern, where) is None:
                    return (
                        f"{subject.scope}/{subject.principal_id} holds {pattern} at "
                        f"{b.where()} (role {b.role}), which the caller does not"
                    )
        return None
