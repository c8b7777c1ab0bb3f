"""Authorization: one protocol, called once per operation before it touches data (DESIGN.md §7).

Until the IAM issue lands the server runs :class:`AllowAll`; the choke point is already in place.
"""

from __future__ import annotations

from typing import Protocol

from lightningstor_types.actions import Action
from lightningstor_types.service import RequestContext


class Authorizer(Protocol):
    async def authorize(self, ctx: RequestContext, action: Action, resource: str) -> None:
        """Return if ``action`` on ``resource`` is allowed; raise AccessDenied if not."""
        ...


class AllowAll:
    """Allows every call (single-user development default until IAM is configured)."""

    async def authorize(self, ctx: RequestContext, action: Action, resource: str) -> None:
        return None
