"""An org's public access block: Get/Put/DeleteOrgPublicAccessBlock (AdminService).

The four flags of S3's PublicAccessBlock set for a whole org, as AWS sets them for an account:
kept at ``keys.org_public_access_block(org)`` (a ``PublicAccessBlockConfiguration``), read
through the org cache (:meth:`CoreContext.org_public_access_block`), ORed with each bucket's own
(:func:`~lightningstor_api.access.effective.effective_public_access_block`). Authorized on the
org (``org/{org}``) with ``lightningstor:orgs:publicaccessblock:read|write``: the org's admin
(``lightningstor:*``) and the platform admin may; an editor (``buckets:*``) may not lift it.
Every change is audited (``applied: …``). An org has none until one is put: the default is off.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lightningstor.v1 import admin_pb2 as pb
from lightningstor_api.access.effective import FLAGS
from lightningstor_api.core.context import CoreContext
from lightningstor_api.iam.audit import authorize_audited, record
from lightningstor_types.actions import Action
from lightningstor_types.errors import NoSuchPublicAccessBlockConfiguration
from lightningstor_types.naming import validate_scope_id
from lightningstor_types.resources import scope_resource
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext


async def _org(cc: CoreContext, ctx: RequestContext, org: str, action: Action) -> str:
    """The org asked about (default: the caller's own), validated, the caller authorized."""
    org = org or ctx.principal.org_id
    validate_scope_id(org, "org")
    await authorize_audited(cc.authorizer, ctx, action, scope_resource(Scope(org)))
    return org


async def get_org_public_access_block(
    cc: CoreContext, ctx: RequestContext, req: pb.GetOrgPublicAccessBlockRequest
) -> pb.GetOrgPublicAccessBlockResponse:
    org = await _org(cc, ctx, req.org, Action.ORGS_PUBLIC_ACCESS_BLOCK_READ)
    found = await cc.org_public_access_block(org)
    if found is None:
        raise NoSuchPublicAccessBlockConfiguration()
    return pb.GetOrgPublicAccessBlockResponse(configuration=found)


async def put_org_public_access_block(
    cc: CoreContext, ctx: RequestContext, req: pb.PutOrgPublicAccessBlockRequest
) -> pb.PutOrgPublicAccessBlockResponse:
    value = req.configuration.SerializeToString()
    flags = ", ".join(f for f in FLAGS if getattr(req.configuration, f)) or "no flag"
    await _write(cc, ctx, req.org, lambda key: cc.store.put(key, value), f"= {flags}")
    return pb.PutOrgPublicAccessBlockResponse()


async def delete_org_public_access_block(
    cc: CoreContext, ctx: RequestContext, req: pb.DeleteOrgPublicAccessBlockRequest
) -> pb.DeleteOrgPublicAccessBlockResponse:
    await _write(cc, ctx, req.org, cc.store.delete, "deleted")
    return pb.DeleteOrgPublicAccessBlockResponse()


async def _write(
    cc: CoreContext,
    ctx: RequestContext,
    org: str,
    change: Callable[[bytes], Awaitable[object]],
    what: str,
) -> None:
    """Authorize, ``change`` the org's record, audit the change. This server reads its own
    write at once (the cache entry goes); the watch brings it to the others."""
    action = Action.ORGS_PUBLIC_ACCESS_BLOCK_WRITE
    org = await _org(cc, ctx, org, action)
    key = cc.keys.org_public_access_block(org)
    try:
        changed = await change(key)
    finally:
        if cc.org_cache is not None:
            cc.org_cache.evict(key)
    if changed is not False:  # a delete of nothing changed nothing
        applied = f"applied: org {org} public access block {what}"
        record(ctx, action, scope_resource(Scope(org)), True, applied)
