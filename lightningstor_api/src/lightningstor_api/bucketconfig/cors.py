"""A bucket's CORS configuration: the three API operations and the lookup CORS answers use.

The configuration lives in the bucket record (``BucketRecord.cors``), so every request that
already reads the (cached) bucket record gets it for free, and a configuration disappears with
its bucket. :func:`bucket_cors` is deliberately not authorized: a browser learns the rules that
apply to it from any preflight, without credentials, exactly as from S3.
"""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2
from lightningstor_api.core.buckets import update_bucket
from lightningstor_api.core.context import CoreContext
from lightningstor_types.actions import Action
from lightningstor_types.cors import validate_cors
from lightningstor_types.errors import InvalidBucketName, NoSuchBucket, NoSuchCORSConfiguration
from lightningstor_types.naming import validate_bucket_name
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext


async def get_bucket_cors(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketCorsRequest
) -> bucket_pb2.GetBucketCorsResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_CORS_READ)
    if not ref.record.HasField("cors"):
        raise NoSuchCORSConfiguration(BucketName=req.name)
    return bucket_pb2.GetBucketCorsResponse(configuration=ref.record.cors)


async def put_bucket_cors(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutBucketCorsRequest
) -> bucket_pb2.PutBucketCorsResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_CORS_WRITE)
    validate_cors(req.configuration)

    def change(rec: records_pb2.BucketRecord) -> None:
        rec.cors.CopyFrom(req.configuration)

    await update_bucket(cc, ref, change)
    return bucket_pb2.PutBucketCorsResponse()


async def delete_bucket_cors(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.DeleteBucketCorsRequest
) -> bucket_pb2.DeleteBucketCorsResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_CORS_WRITE)
    if ref.record.HasField("cors"):  # S3 answers 204 either way
        await update_bucket(cc, ref, lambda rec: rec.ClearField("cors"))
    return bucket_pb2.DeleteBucketCorsResponse()


async def bucket_cors(
    cc: CoreContext, scope: Scope, name: str
) -> bucket_pb2.CorsConfiguration | None:
    """The CORS configuration of bucket ``name`` as seen from ``scope`` (a project's bucket
    shadows the org's); None when the bucket or its configuration does not exist."""
    try:
        validate_bucket_name(name)
    except InvalidBucketName:
        return None
    for where in (scope, Scope(scope.org_id, None)) if scope.project_id else (scope,):
        try:
            ref = await cc.bucket(where, name)
        except NoSuchBucket:
            continue
        return ref.record.cors if ref.record.HasField("cors") else None
    return None
