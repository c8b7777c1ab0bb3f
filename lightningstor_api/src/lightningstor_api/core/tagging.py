"""Object tagging: read, replace and remove the tag set of one version."""

from __future__ import annotations

from collections.abc import Sequence

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import sorted_tags, version_id
from lightningstor_api.core.versions import resolve_read, rewrite_version
from lightningstor_types.actions import Action
from lightningstor_types.errors import MethodNotAllowed
from lightningstor_types.naming import validate_object_key, validate_tags
from lightningstor_types.service import RequestContext


async def get_object_tagging(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.GetObjectTaggingRequest
) -> object_pb2.GetObjectTaggingResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_TAGGING_READ, req.key)
    validate_object_key(req.key)
    rec = await resolve_read(cc, ref.scope, ref.name, req.key, req.version_id)
    if rec.is_delete_marker:
        raise MethodNotAllowed(Method="GET", ResourceType="DeleteMarker")
    return object_pb2.GetObjectTaggingResponse(
        tags=sorted_tags(rec.tags), version_id=version_id(rec, ref.record.versioning)
    )


async def put_object_tagging(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.PutObjectTaggingRequest
) -> object_pb2.PutObjectTaggingResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_TAGGING_WRITE, req.key)
    validate_object_key(req.key)
    validate_tags([(t.key, t.value) for t in req.tags], object_tags=True)
    rec = await _retag(cc, ref, req.key, req.version_id, req.tags)
    return object_pb2.PutObjectTaggingResponse(version_id=version_id(rec, ref.record.versioning))


async def delete_object_tagging(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.DeleteObjectTaggingRequest
) -> object_pb2.DeleteObjectTaggingResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_TAGGING_WRITE, req.key)
    validate_object_key(req.key)
    rec = await _retag(cc, ref, req.key, req.version_id, [])
    return object_pb2.DeleteObjectTaggingResponse(version_id=version_id(rec, ref.record.versioning))


async def _retag(
    cc: CoreContext,
    ref: BucketRef,
    key: str,
    version: str,
    tags: Sequence[common_pb2.Tag],
) -> records_pb2.ObjectRecord:
    def change(rec: records_pb2.ObjectRecord) -> None:
        del rec.tags[:]
        rec.tags.extend(tags)

    return await rewrite_version(cc, ref, key, version, change)
