"""CopyObject, and the copy-source rules UploadPartCopy shares with it.

A copy sealed as its source is (the same SSE-S3 or SSE-KMS key and context, or both clear)
copies no bytes: the new version acquires one more reference on the source version's data
record, whose manifest, size and ETag it takes. Its transaction compares the data record's
revision, so a delete of the source that releases the record at the same time makes the copy
re-resolve its source (NoSuchKey when it is gone) rather than reference a record the collector
is taking apart. A copy to other keys (SSE-C on either side, another KMS key or context, clear
into sealed) is re-sealed: :func:`reseal` streams the source's plaintext through the data path
into new chunks under the destination's keys.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.access.acl.apply import new_object
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.content import content_records, inline_manifest, object_slices
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import (
    checksums_given,
    checksums_message,
    part_count,
    version_id,
)
from lightningstor_api.core.datapath import Piece, WrittenData, read_manifest, write_stream
from lightningstor_api.core.objects import checksum_algorithm, chunk_kind, commit_or_discard
from lightningstor_api.core.reads import check_read_conditions
from lightningstor_api.core.txn import ConflictError
from lightningstor_api.core.versions import (
    MAX_ATTEMPTS,
    backoff,
    commit_version,
    load_current,
    resolve_read,
    try_commit_version,
)
from lightningstor_api.encryption import KeyManager, sealing
from lightningstor_api.encryption import customer as sse_c
from lightningstor_api.objectlock.rules import requested_lock
from lightningstor_storage import ChunkCorrupt, ChunkNotFound, PolicyKind
from lightningstor_types.actions import COPY_SOURCE_ACTION, Action
from lightningstor_types.checksums import ChecksumAlgorithm, MultiHasher
from lightningstor_types.errors import (
    InternalError,
    InvalidRequest,
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
    # S3: the website redirect location is never copied from the source; the request's own
    # (either directive) is the copy's.
    redirect = req.headers.website_redirect_location
    if replace_meta:
        validate_user_metadata(req.user_metadata)
        validate_content_headers(req.headers)
    else:
        validate_content_headers(common_pb2.ContentHeaders(website_redirect_location=redirect))
    if replace_tags:
        validate_tags([(t.key, t.value) for t in req.tags], object_tags=True)
    storage_class = validate_storage_class(req.storage_class) if req.storage_class else ""
    algorithm = checksum_algorithm(req.checksum_algorithm) if req.checksum_algorithm else None
    conditions = req.conditions if req.HasField("conditions") else None
    retention = requested_lock(
        dst.record, req.retention if req.HasField("retention") else None, req.legal_hold
    )
    same_key = (src_ref.scope, src_ref.name, req.source.key) == (dst.scope, dst.name, req.key)
    customer_key = req.customer_key if req.HasField("customer_key") else None
    source_key = req.source_customer_key if req.HasField("source_customer_key") else None
    seal = await sealing.requested(
        cc.keymaster,
        dst.record,
        req.server_side_encryption,
        req.kms_key_id,
        req.kms_context,
        customer_key,
    )
    # Encryption asked (or a bucket default) decides; else the copy keeps the source's.
    asked = seal.keys is not None or seal.sse != ""
    unreadable = ""
    for attempt in range(MAX_ATTEMPTS):
        src = await read_source(cc, src_ref, req.source)
        if src.data_id and src.data_id == unreadable:
            raise InternalError(f"the content of {req.source.key!r} cannot be read")
        changes = (
            replace_meta
            or bool(redirect)
            or algorithm is not None
            or bool(req.server_side_encryption or sse_c.given(customer_key))
        )
        changes = changes or bool(storage_class and storage_class != src.storage_class)
        if same_key and not changes and await _is_current(cc, src_ref, src):
            raise InvalidRequest(SELF_COPY)
        src_keys = sealing.read_keys(cc.keymaster, src, source_key)
        target = seal if asked else sealing.inherited(cc.keymaster, src)
        headers = common_pb2.ContentHeaders()
        headers.CopyFrom(req.headers if replace_meta else src.headers)
        headers.website_redirect_location = redirect
        rec = records_pb2.ObjectRecord(
            etag=src.etag,
            size=src.size,
            headers=headers,
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
        )
        target.stamp(rec)
        if not target.shares_with(src):
            try:
                stored = await _resealed_copy(cc, dst, req, src, src_keys, target, rec, algorithm)
            except ChunkNotFound:  # released meanwhile? re-resolve the source
                unreadable = src.data_id
                continue
            return _copied(stored, dst, src, src_ref)
        if algorithm is not None and not full_object_checksum(src.checksums, algorithm):
            try:
                whole = object_slices(cc.data_cache, src.manifest, src.data_id, 0, src.size - 1)
                _, sums = await digest_content(cc, whole, [algorithm], src_keys)
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
        return _copied(stored, dst, src, src_ref)
    raise SlowDown("too much contention on this copy; retry")


def _copied(
    stored: records_pb2.ObjectRecord,
    dst: BucketRef,
    src: records_pb2.ObjectRecord,
    src_ref: BucketRef,
) -> object_pb2.CopyObjectResponse:
    return object_pb2.CopyObjectResponse(
        etag=stored.etag,
        last_modified=stored.last_modified,
        version_id=version_id(stored, dst.record.versioning),
        source_version_id=version_id(src, src_ref.record.versioning),
        checksums=stored.checksums,
        server_side_encryption=stored.server_side_encryption,
        sse_customer_algorithm=stored.sse_customer_algorithm,
        sse_customer_key_md5=stored.sse_customer_key_md5,
        kms_key_id=stored.kms_key_id,
        kms_context=stored.kms_context,
    )


async def _resealed_copy(
    cc: CoreContext,
    dst: BucketRef,
    req: object_pb2.CopyObjectRequest,
    src: records_pb2.ObjectRecord,
    src_keys: KeyManager | None,
    target: sealing.Sealing,
    rec: records_pb2.ObjectRecord,
    algorithm: ChecksumAlgorithm | None,
) -> records_pb2.ObjectRecord:
    """Commit ``rec`` as a copy of ``src`` whose content is re-sealed under ``target``."""
    kind = chunk_kind(cc, rec.storage_class)
    data = await reseal(cc, src, src_keys, (0, src.size - 1), target, algorithm, kind=kind)
    rec.etag = target.etag(data.md5_hex)
    rec.size = data.size
    rec.checksums.CopyFrom(checksums_message(data.checksums))
    rec.part_count = 0
    rec.ClearField("parts")
    rec.ClearField("manifest")
    rec.data_id = ""
    new_data = content_records(data, cc.bounds)
    if new_data:
        rec.data_id = new_data[0].data_id
        rec.manifest.extend(inline_manifest(data.chunks, cc.bounds))
    conditions = req.conditions if req.HasField("conditions") else None
    commit = commit_version(cc, dst, req.key, rec, new_data=new_data, conditions=conditions)
    return await commit_or_discard(cc, commit, rec.data_id, [c.chunk_id for c in data.chunks])


async def reseal(
    cc: CoreContext,
    src: records_pb2.ObjectRecord,
    src_keys: KeyManager | None,
    span: tuple[int, int],
    target: sealing.Sealing,
    algorithm: ChecksumAlgorithm | None,
    *,
    kind: PolicyKind,
) -> WrittenData:
    """Bytes ``span`` (inclusive) of ``src``, opened with ``src_keys`` and written as new
    chunks sealed under ``target`` (clear without keys): streamed, never held whole. The
    checksums are ``algorithm``'s and the full-object ones the source has; ChunkNotFound when
    the source's chunks went meanwhile."""
    first, last = span
    length = last - first + 1 if src.size else 0
    algorithms = {algorithm} if algorithm is not None else set()
    if src.checksums.type != common_pb2.CHECKSUM_TYPE_COMPOSITE and length == src.size:
        algorithms.update(checksums_given(src.checksums))
    slices: Sequence[Piece] | AsyncIterable[Piece] = []
    if length:
        slices = object_slices(cc.data_cache, src.manifest, src.data_id, first, last)
    return await write_stream(
        cc.storage,
        _opened(read_manifest(cc.storage, slices, src_keys)),
        chunk_size=cc.settings.storage.chunk_size,
        max_size=length,
        expected_length=length,
        algorithms=algorithms,
        inline_max=cc.settings.storage.inline_max_bytes,
        kind=kind,
        keys=target.keys,
    )


async def _opened(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A source's plaintext; a chunk that fails authentication is an error, never bytes."""
    try:
        async for piece in pieces:
            yield piece
    except ChunkCorrupt as exc:
        raise InternalError("the content of the copy source cannot be read") from exc
    finally:
        aclose = getattr(pieces, "aclose", None)
        if aclose is not None:
            await aclose()


async def locate_source(
    cc: CoreContext, ctx: RequestContext, dst_scope: Scope, source: object_pb2.CopySource
) -> BucketRef:
    """Authorize reading the copy source and look its bucket up; an empty scope is the
    destination's (which may differ from the caller's own)."""
    scope = source.scope
    if not scope.org_id:
        scope = common_pb2.Scope(org_id=dst_scope.org_id, project_id=dst_scope.project_id or "")
    # The source version's own ACL decides, not the request's (the destination's) version.
    ref = await locate(
        cc, ctx, scope, source.bucket, COPY_SOURCE_ACTION, source.key, version=source.version_id
    )
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
    keys: KeyManager | None,
) -> tuple[str, dict[ChecksumAlgorithm, str]]:
    """Hex MD5 and checksums of the bytes a manifest names, read (never copied) from storage
    (sealed chunks opened with ``keys``)."""
    hasher = MultiHasher(algorithms)
    async for piece in read_manifest(cc.storage, manifest, keys):
        await hasher.update_async(piece)
    return hasher.md5_hex(), hasher.checksums()


async def _is_current(cc: CoreContext, ref: BucketRef, rec: records_pb2.ObjectRecord) -> bool:
    cur = await load_current(cc, ref.scope, ref.name, rec.key)
    return cur is not None and cur.record.sort_id == rec.sort_id
