"""CopyObject without copying bytes, and the copy-source rules UploadPartCopy shares with it.

The new version acquires one more reference on the source version's data record: the manifest,
size and ETag are the source's. Its transaction compares the data record's revision, so a delete
of the source that releases the record at the same time makes the copy re-resolve its source
(NoSuchKey when it is gone) rather than reference a record the collector is taking apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.access.acl.apply import new_object
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.content import object_slices
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import (
    checksums_given,
    checksums_message,
    part_count,
    version_id,
)
from lightningstor_api.core.datapath import Piece, read_manifest
from lightningstor_api.core.objects import checksum_algorithm, effective_encryption
from lightningstor_api.core.reads import check_read_conditions
from lightningstor_api.core.txn import ConflictError
from lightningstor_api.core.versions import (
    MAX_ATTEMPTS,
    backoff,
    load_current,
    resolve_read,
    try_commit_version,
)
from lightningstor_api.encryption import customer as sse_c
from lightningstor_api.objectlock.rules import requested_lock
from lightningstor_storage import ChunkNotFound
from lightningstor_types.actions import COPY_SOURCE_ACTION, Action
from lightningstor_types.checksums import ChecksumAlgorithm, MultiHasher
from lightningstor_types.errors import (
    InternalError,
    InvalidRequest,
    NotImplemented_,
    NotModified,
    PreconditionFailed,
    SlowDown,
)
from lightningstor_types.header_values import validate_content_headers
from lightningstor_types.naming import (
    validate_object_key,
    validate_storage_class,
    validate_tags,
    validate_user_metadata,
)
from lightningstor_types.scope import Scope, principal_arn
from lightningstor_types.service import RequestContext

REPLACE = object_pb2.METADATA_DIRECTIVE_REPLACE
FULL_OBJECT = common_pb2.CHECKSUM_TYPE_FULL_OBJECT

SELF_COPY = (
    "This copy request is illegal because it is trying to copy an object to itself without "
    "changing the object's metadata, storage class, website redirect location or encryption "
    "attributes."
)


async def copy_object(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.CopyObjectRequest
) -> object_pb2.CopyObjectResponse:
    dst = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_COPY, req.key)
    validate_object_key(req.key)
    owner, acl = await new_object(cc, dst, req.acl, principal_arn(ctx.principal))
    src_ref = await locate_source(cc, ctx, dst.scope, req.source)
    replace_meta = req.metadata_directive == REPLACE
    replace_tags = req.tagging_directive == REPLACE
    if replace_meta:
        validate_user_metadata(req.user_metadata)
        validate_content_headers(req.headers)
    if replace_tags:
        validate_tags([(t.key, t.value) for t in req.tags], object_tags=True)
    storage_class = validate_storage_class(req.storage_class) if req.storage_class else ""
    algorithm = checksum_algorithm(req.checksum_algorithm) if req.checksum_algorithm else None
    conditions = req.conditions if req.HasField("conditions") else None
    retention = requested_lock(
        dst.record, req.retention if req.HasField("retention") else None, req.legal_hold
    )
    same_key = (src_ref.scope, src_ref.name, req.source.key) == (dst.scope, dst.name, req.key)
    unreadable = ""
    for attempt in range(MAX_ATTEMPTS):
        src = await read_source(cc, src_ref, req.source)
        if src.data_id and src.data_id == unreadable:
            raise InternalError(f"the content of {req.source.key!r} cannot be read")
        changes = replace_meta or algorithm is not None
        changes = changes or bool(storage_class and storage_class != src.storage_class)
        if same_key and not changes and await _is_current(cc, src_ref, src):
            raise InvalidRequest(SELF_COPY)
        sse_c.refuse_copy(src)
        if effective_encryption(dst.record, "") and not src.server_side_encryption:
            # The copy would share the source's clear chunks; re-sealing is not built.
            raise NotImplemented_(
                "Copying an unencrypted object into a bucket with default encryption is not "
                "implemented",
                Header="x-amz-copy-source",
            )
        rec = records_pb2.ObjectRecord(
            etag=src.etag,
            size=src.size,
            headers=req.headers if replace_meta else src.headers,
            user_metadata=req.user_metadata if replace_meta else src.user_metadata,
            storage_class=storage_class or "STANDARD",  # as S3: not copied
            checksums=src.checksums,
            tags=req.tags if replace_tags else src.tags,
            owner_id=owner,
            acl=acl,
            data_id=src.data_id,
            manifest=src.manifest,
            part_count=part_count(src),
            parts=src.parts,  # an old record's inline list (its data record has no segments)
            retention=retention,  # never the source's lock: the request's, or the default
            legal_hold=req.legal_hold,
            server_side_encryption=src.server_side_encryption,  # the shared chunks stay sealed
            kms_key_id=src.kms_key_id,
        )
        if algorithm is not None and not full_object_checksum(src.checksums, algorithm):
            try:
                whole = object_slices(cc.data_cache, src.manifest, src.data_id, 0, src.size - 1)
                _, sums = await digest_content(cc, whole, [algorithm])
            except ChunkNotFound:  # released meanwhile? re-resolve the source
                unreadable = src.data_id
                continue
            rec.checksums.CopyFrom(checksums_message(sums))
        try:
            stored = await try_commit_version(
                cc, dst, req.key, rec, acquire=src.data_id, conditions=conditions, fresh=attempt > 0
            )
        except ConflictError:
            await backoff(attempt)
            continue
        return object_pb2.CopyObjectResponse(
            etag=stored.etag,
            last_modified=stored.last_modified,
            version_id=version_id(stored, dst.record.versioning),
            source_version_id=version_id(src, src_ref.record.versioning),
            checksums=stored.checksums,
        )
    raise SlowDown("too much contention on this copy; retry")


async def locate_source(
    cc: CoreContext, ctx: RequestContext, dst_scope: Scope, source: object_pb2.CopySource
) -> BucketRef:
    """Authorize reading the copy source and look its bucket up; an empty scope is the
    destination's (which may differ from the caller's own)."""
    scope = source.scope
    if not scope.org_id:
        scope = common_pb2.Scope(org_id=dst_scope.org_id, project_id=dst_scope.project_id or "")
    ref = await locate(cc, ctx, scope, source.bucket, COPY_SOURCE_ACTION, source.key)
    validate_object_key(source.key)
    return ref


async def read_source(
    cc: CoreContext, ref: BucketRef, source: object_pb2.CopySource
) -> records_pb2.ObjectRecord:
    """The version a copy reads, after its x-amz-copy-source-if-* conditions."""
    rec = await resolve_read(cc, ref.scope, ref.name, source.key, source.version_id)
    if rec.is_delete_marker:
        raise InvalidRequest(
            "The source of a copy request may not specifically refer to a delete marker "
            "by version id."
        )
    check_source_conditions(source.conditions if source.HasField("conditions") else None, rec)
    return rec


def check_source_conditions(
    cond: common_pb2.Conditions | None, rec: records_pb2.ObjectRecord
) -> None:
    """The conditions of a GET, except that every failure is 412 PreconditionFailed."""
    try:
        check_read_conditions(cond, rec)
    except NotModified:
        raise PreconditionFailed(
            Condition="x-amz-copy-source-If-None-Match or x-amz-copy-source-If-Modified-Since"
        ) from None


def full_object_checksum(sums: common_pb2.Checksums, alg: ChecksumAlgorithm) -> str:
    """The stored checksum of ``alg`` over the whole content, or "" (absent or composite)."""
    if sums.type == common_pb2.CHECKSUM_TYPE_COMPOSITE:
        return ""
    return checksums_given(sums).get(alg, "")


async def digest_content(
    cc: CoreContext,
    manifest: Sequence[Piece] | AsyncIterable[Piece],
    algorithms: Iterable[ChecksumAlgorithm],
) -> tuple[str, dict[ChecksumAlgorithm, str]]:
    """Hex MD5 and checksums of the bytes a manifest names, read (never copied) from storage."""
    hasher = MultiHasher(algorithms)
    async for piece in read_manifest(cc.storage, manifest, cc.keymaster):
        await hasher.update_async(piece)
    return hasher.md5_hex(), hasher.checksums()


async def _is_current(cc: CoreContext, ref: BucketRef, rec: records_pb2.ObjectRecord) -> bool:
    cur = await load_current(cc, ref.scope, ref.name, rec.key)
    return cur is not None and cur.record.sort_id == rec.sort_id
