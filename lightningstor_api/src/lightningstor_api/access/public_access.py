"""A bucket's public access block: Get/Put/DeletePublicAccessBlock (S3's four flags).

Kept in the bucket record (``BucketRecord.public_access_block``). ``block_public_policy``
refuses a PutBucketPolicy of a public policy (``bucket_policy.py``); ``restrict_public_buckets``
narrows a public policy to the bucket's own org (``decision.py``). The two ACL flags are kept
and answered, and have no effect until ACLs are.
"""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2
from lightningstor_api.core.buckets import update_bucket
from lightningstor_api.core.context import CoreContext
from lightningstor_types.actions import Action
from lightningstor_types.errors import NoSuchPublicAccessBlockConfiguration
from lightningstor_types.service import RequestContext


async def get_public_access_block(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetPublicAccessBlockRequest
) -> bucket_pb2.GetPublicAccessBlockResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_PUBLIC_ACCESS_BLOCK_READ)
    if not ref.record.HasField("public_access_block"):
        raise NoSuchPublicAccessBlockConfiguration(BucketName=req.name)
    return bucket_pb2.GetPublicAccessBlockResponse(configuration=ref.record.public_access_block)


async def put_public_access_block(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutPublicAccessBlockRequest
) -> bucket_pb2.PutPublicAccessBlockResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_PUBLIC_ACCESS_BLOCK_WRITE)

    def change(rec: records_pb2.BucketRecord) -> None:
        rec.public_access_block.CopyFrom(req.configuration)

    await update_bucket(cc, ref, change)
    return bucket_pb2.PutPublicAccessBlockResponse()


async def delete_public_access_block(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.DeletePublicAccessBlockRequest
) -> bucket_pb2.DeletePublicAccessBlockResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_PUBLIC_ACCESS_BLOCK_WRITE)
    if ref.record.HasField("public_access_block"):
        await update_bucket(cc, ref, lambda rec: rec.ClearField("public_access_block"))
    return bucket_pb2.DeletePublicAccessBlockResponse()
