"""GetBucketAcl and PutBucketAcl (``BucketRecord.acl``)."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, common_pb2
from lightningstor_api.access.acl import grants
from lightningstor_api.access.acl.apply import asks, checked
from lightningstor_api.access.acl.ownership import (
    acls_enabled,
    only_owner,
    ownership_of,
    refuse_if_enforced,
)
from lightningstor_api.core.buckets import update_bucket
from lightningstor_api.core.context import CoreContext
from lightningstor_types.actions import Action
from lightningstor_types.errors import MalformedACLError
from lightningstor_types.service import RequestContext


def bucket_acl(rec: records_pb2.BucketRecord) -> common_pb2.AccessControlList:
    """The bucket's ACL as answered: its owner's FULL_CONTROL when it has none or ACLs are off."""
    if rec.HasField("acl") and acls_enabled(rec):
        return rec.acl
    return grants.private(rec.owner_id)


async def get_bucket_acl(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketAclRequest
) -> bucket_pb2.GetBucketAclResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_ACL_READ)
    return bucket_pb2.GetBucketAclResponse(acl=bucket_acl(ref.record))


async def put_bucket_acl(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutBucketAclRequest
) -> bucket_pb2.PutBucketAclResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_ACL_WRITE)
    if not asks(req.acl):
        raise MalformedACLError()
    refuse_if_enforced(ownership_of(ref.record), req.acl)
    acl = await checked(cc, ref, req.acl, ref.record.owner_id)

    def change(rec: records_pb2.BucketRecord) -> None:
        if only_owner(acl):
            rec.ClearField("acl")
        else:
            rec.acl.CopyFrom(acl)

    await update_bucket(cc, ref, change)
    return bucket_pb2.PutBucketAclResponse()
