"""Get, put and delete a bucket's lifecycle configuration (BucketService), kept in its record."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import lifecycle_pb2
from lightningstor_api.core.buckets import locate, update_bucket
from lightningstor_api.core.context import CoreContext
from lightningstor_api.lifecycle.rules import validate
from lightningstor_types.actions import Action
from lightningstor_types.errors import NoSuchLifecycleConfiguration
from lightningstor_types.service import RequestContext


async def get_bucket_lifecycle_configuration(
    cc: CoreContext, ctx: RequestContext, req: lifecycle_pb2.GetBucketLifecycleConfigurationRequest
) -> lifecycle_pb2.GetBucketLifecycleConfigurationResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_LIFECYCLE_READ)
    if not ref.record.lifecycle_rules:
        raise NoSuchLifecycleConfiguration(BucketName=req.name)
    return lifecycle_pb2.GetBucketLifecycleConfigurationResponse(rules=ref.record.lifecycle_rules)


async def put_bucket_lifecycle_configuration(
    cc: CoreContext, ctx: RequestContext, req: lifecycle_pb2.PutBucketLifecycleConfigurationRequest
) -> lifecycle_pb2.PutBucketLifecycleConfigurationResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_LIFECYCLE_WRITE)
    validate(req.rules)

    def change(rec: records_pb2.BucketRecord) -> None:
        del rec.lifecycle_rules[:]
        rec.lifecycle_rules.extend(req.rules)

    await update_bucket(cc, ref, change)
    return lifecycle_pb2.PutBucketLifecycleConfigurationResponse()


async def delete_bucket_lifecycle_configuration(
    cc: CoreContext,
    ctx: RequestContext,
    req: lifecycle_pb2.DeleteBucketLifecycleConfigurationRequest,
) -> lifecycle_pb2.DeleteBucketLifecycleConfigurationResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_LIFECYCLE_WRITE)
    await update_bucket(cc, ref, lambda rec: rec.ClearField("lifecycle_rules"))
    return lifecycle_pb2.DeleteBucketLifecycleConfigurationResponse()
