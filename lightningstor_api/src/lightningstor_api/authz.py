"""Authorization: one protocol, called once per operation before it touches data.

See docs/architecture.md §7.

A decision about acting as another identity (a key minted for it, or one of its keys deleted)
also names that identity, the *subject*; it needs an authorizer that can judge subjects
(``decide(..., subject)``, :class:`lightningstor_api.iam.audit.DecidingAuthorizer`): any other
authorizer is denied such a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lightningstor_types.actions import Action
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext


@dataclass(frozen=True, slots=True)
class Decision:
    """One answer of the engine (or of the IAM): allowed or not, why, and for how long."""

    allowed: bool
    reason: str
    ttl_seconds: float = 0.0


class Authorizer(Protocol):
    async def authorize(self, ctx: RequestContext, action: Action, resource: str) -> None:
        """Return if ``action`` on ``resource`` is allowed; raise AccessDenied if not."""
        ...


@runtime_checkable
class PrincipalDirectory(Protocol):
    """An authorizer that can tell whether a principal exists (ACL grants name only those)."""

    def knows(self, principal: Principal) -> bool: ...


class AllowAll:
    """Allows every call (the core's default when none is given: tests, tools)."""

    async def authorize(self, ctx: RequestContext, action: Action, resource: str) -> None:
        return None

    async def decide(
        self,
        ctx: RequestContext,
        action: Action,
        resource: str,
        subject: Principal | None = None,
    ) -> Decision:
        return Decision(True, "AllowAll")
