"""Object tagging: read, replace and remove the tag set of one version."""

from __future__ import annotations

from collections.abc import Sequence

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import sorted_tags, version_id
from lightningstor_api.core.versions import (
    MAX_ATTEMPTS,
    Version,
    backoff,
    load_current,
    load_version,
    resolve_read,
)
from lightningstor_api.metadata import Compare, Put
from lightningstor_types.actions import Action
from lightningstor_types.errors import MethodNotAllowed, NoSuchKey, NoSuchVersion, SlowDown
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
    """Rewrite one version's tags in place: its version record and, when it is the current
    version, the current copy too, both compared against what was read."""
    obj_key = cc.keys.object(ref.scope, ref.name, key)
    for attempt in range(MAX_ATTEMPTS):
        cur = await load_current(cc, ref.scope, ref.name, key)
        target: Version | None
        if version:
            target = await load_version(cc, ref.scope, ref.name, key, version)
            if target is None:
                raise NoSuchVersion(Key=key, VersionId=version)
        elif cur is None:
            raise NoSuchKey(Key=key)
        else:
            target = await load_version(cc, ref.scope, ref.name, key, cur.record.sort_id)
        if target is not None:
            if target.record.is_delete_marker:
                raise MethodNotAllowed(Method="PUT", ResourceType="DeleteMarker")
            rec = records_pb2.ObjectRecord()
            rec.CopyFrom(target.record)
            del rec.tags[:]
            rec.tags.extend(tags)
            value = rec.SerializeToString()
            compares = [
                Compare.mod_revision(target.kv.key, target.kv.mod_revision),
                Compare.mod_revision(obj_key, cur.kv.mod_revision if cur else 0),
            ]
            ops = [Put(target.kv.key, value)]
            if cur is not None and cur.record.sort_id == rec.sort_id:
                ops.append(Put(obj_key, value))
            if (await cc.store.txn(compares, ops)).succeeded:
                return rec
        await backoff(attempt)
    raise SlowDown("too much contention on this key; retry")
