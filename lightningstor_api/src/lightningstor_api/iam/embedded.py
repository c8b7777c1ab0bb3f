"""The embedded Authorizer: the policy engine in this process (the default)."""

from __future__ import annotations

from lightningstor_api.authz import Decision
from lightningstor_api.iam.policy import PolicyEngine
from lightningstor_types.actions import Action
from lightningstor_types.errors import AccessDenied
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext


class EmbeddedAuthorizer:
    """Decisions of a :class:`PolicyEngine`; never cached (they cost a few microseconds)."""

    def __init__(self, engine: PolicyEngine) -> None:
        self.engine = engine

    async def decide(
        self,
        ctx: RequestContext,
        action: Action,
        resource: str,
        subject: Principal | None = None,
    ) -> Decision:
        return self.engine.decide(ctx.principal, action, resource, subject)

    def knows(self, principal: Principal) -> bool:
        """Whether some binding names ``principal`` (the embedded IAM knows no one else)."""
        return any(b.names(principal) for b in self.engine.bindings)

    async def authorize(self, ctx: RequestContext, action: Action, resource: str) -> None:
        if not (await self.decide(ctx, action, resource)).allowed:
            raise AccessDenied()
