"""Get/Put/DeleteBucketOwnershipControls (``BucketRecord.object_ownership``; the settings and
their meaning are in ``ownership.py``)."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2
from lightningstor_api.access.acl.ownership import ENFORCED, check_setting, only_owner
from lightningstor_api.core.buckets import update_bucket
from lightningstor_api.core.context import CoreContext
from lightningstor_types.actions import Action
from lightningstor_types.errors import (
    InvalidBucketAclWithObjectOwnership,
    MalformedXML,
    OwnershipControlsNotFoundError,
)
from lightningstor_types.service import RequestContext


async def get_bucket_ownership_controls(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketOwnershipControlsRequest
) -> bucket_pb2.GetBucketOwnershipControlsResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_OWNERSHIP_READ)
    if not ref.record.object_ownership:
        raise OwnershipControlsNotFoundError(BucketName=req.name)
    return bucket_pb2.GetBucketOwnershipControlsResponse(
        object_ownership=ref.record.object_ownership
    )


async def put_bucket_ownership_controls(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutBucketOwnershipControlsRequest
) -> bucket_pb2.PutBucketOwnershipControlsResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_OWNERSHIP_WRITE)
    if not req.object_ownership:
        raise MalformedXML("ObjectOwnership is required")
    setting = check_setting(req.object_ownership)
    if setting == ENFORCED and ref.record.HasField("acl") and not only_owner(ref.record.acl):
        raise InvalidBucketAclWithObjectOwnership(BucketName=req.name)

    def change(rec: records_pb2.BucketRecord) -> None:
        rec.object_ownership = setting

    await update_bucket(cc, ref, change)
    return bucket_pb2.PutBucketOwnershipControlsResponse()


async def delete_bucket_ownership_controls(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.DeleteBucketOwnershipControlsRequest
) -> bucket_pb2.DeleteBucketOwnershipControlsResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_OWNERSHIP_WRITE)
    if ref.record.object_ownership:
        await update_bucket(cc, ref, lambda rec: rec.ClearField("object_ownership"))
    return bucket_pb2.DeleteBucketOwnershipControlsResponse()
