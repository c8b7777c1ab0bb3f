"""Multipart uploads: create, upload a part (streamed or copied), abort; what complete
(:mod:`.multipart_complete`) and the listings (:mod:`.multipart_list`) share.

An upload lives at ``uploads/…/{key}\\0{upload id}``; its parts at ``parts/{upload id}/{n}``,
each holding one reference on its own data record. Three transactions meet on the upload key:

- a part commit compares the upload key *and rewrites it*, bumping its revision;
- complete and abort read the parts, then compare the upload key, delete it and drop every part
  record with one ``DeletePrefix``.

So a part committed after a complete or abort read the parts makes that complete or abort
retry: no part record is ever dropped without its reference being moved or released. Complete
moves the chosen parts' references into one ``children`` data record (the new version's
content) and abort hands the parts' references to one GC journal entry
(:meth:`Txn.release_later`), so both stay a handful of operations whatever the part count.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.access.acl.apply import new_object
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.content import (
    chunk_records,
    collect_manifest,
    inline_manifest,
    object_slices,
)
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import ALGORITHMS, checksums_message, version_id
from lightningstor_api.core.copy import (
    digest_content,
    full_object_checksum,
    locate_source,
    read_source,
    reseal,
)
from lightningstor_api.core.datapath import WrittenData
from lightningstor_api.core.ids import is_upload_id, new_data_id, new_upload_id
from lightningstor_api.core.objects import (
    checksum_algorithm,
    chunk_kind,
    commit_or_discard,
    parse_content_md5,
    parse_expected_checksums,
    receive_body,
)
from lightningstor_api.core.quotas import commit_counted
from lightningstor_api.core.txn import ConflictError, Txn
from lightningstor_api.core.versions import MAX_ATTEMPTS, backoff, now_timestamp
from lightningstor_api.encryption import sealing
from lightningstor_api.metadata import Compare, KeyValue, Put
from lightningstor_api.objectlock.rules import requested_lock
from lightningstor_storage import ChunkNotFound
from lightningstor_types.actions import Action
from lightningstor_types.checksums import ChecksumAlgorithm
from lightningstor_types.errors import (
    EntityTooLarge,
    InternalError,
    InvalidArgument,
    InvalidRange,
    InvalidRequest,
    NoSuchBucket,
    NoSuchUpload,
    SlowDown,
)
from lightningstor_types.header_values import validate_content_headers
from lightningstor_types.naming import (
    validate_object_key,
    validate_storage_class,
    validate_tags,
    validate_user_metadata,
)
from lightningstor_types.scope import principal_arn
from lightningstor_types.service import RequestContext

COMPOSITE = common_pb2.CHECKSUM_TYPE_COMPOSITE
FULL_OBJECT = common_pb2.CHECKSUM_TYPE_FULL_OBJECT
_CRCS = frozenset({ChecksumAlgorithm.CRC32, ChecksumAlgorithm.CRC32C, ChecksumAlgorithm.CRC64NVME})
_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Upload:
    """An upload record as read, under its metadata key."""

    key: bytes
    kv: KeyValue
    record: records_pb2.UploadRecord

    @property
    def algorithm(self) -> ChecksumAlgorithm | None:
        """The checksum every part carries (chosen at create), if any."""
        return ALGORITHMS.get(self.record.checksum_algorithm)


# ---- create ----


async def create_multipart_upload(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.CreateMultipartUploadRequest
) -> object_pb2.CreateMultipartUploadResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.UPLOADS_CREATE, req.key)
    validate_object_key(req.key)
    validate_user_metadata(req.user_metadata)
    validate_content_headers(req.headers)
    validate_tags([(t.key, t.value) for t in req.tags], object_tags=True)
    owner, acl = await new_object(cc, ref, req.acl, principal_arn(ctx.principal))
    rec = records_pb2.UploadRecord(
        upload_id=new_upload_id(),
        key=req.key,
        initiated=now_timestamp(),
        headers=req.headers,
        user_metadata=req.user_metadata,
        tags=req.tags,
        storage_class=validate_storage_class(req.storage_class),
        checksum_algorithm=req.checksum_algorithm,
        checksum_type=_checksum_type(req.checksum_algorithm, req.checksum_type),
        owner_id=owner,
        acl=acl,
        bucket_id=ref.record.bucket_id,
        retention=requested_lock(
            ref.record, req.retention if req.HasField("retention") else None, req.legal_hold
        ),
        legal_hold=req.legal_hold,
    )
    seal = await sealing.requested(
        cc.keymaster,
        ref.record,
        req.server_side_encryption,
        req.kms_key_id,
        req.kms_context,
        req.customer_key if req.HasField("customer_key") else None,
    )
    seal.stamp(rec)  # the parts check the SSE-C key against it; the key itself is not kept
    key = cc.keys.upload(ref.scope, ref.name, req.key, rec.upload_id)
    for attempt in range(MAX_ATTEMPTS):
        current = await cc.bucket(ref.scope, ref.name, fresh=attempt > 0)
        if current.record.bucket_id != ref.record.bucket_id:
            raise NoSuchBucket(BucketName=ref.name)
        current.ensure_writable()
        same_bucket = Compare.mod_revision(current.kv.key, current.kv.mod_revision)
        if (await cc.store.txn([same_bucket], [Put(key, rec.SerializeToString())])).succeeded:
            break
        await backoff(attempt)
    else:
        raise SlowDown("too much contention on this bucket; retry")
    return object_pb2.CreateMultipartUploadResponse(
        bucket=ref.name,
        key=req.key,
        upload_id=rec.upload_id,
        server_side_encryption=rec.server_side_encryption,
        sse_customer_algorithm=rec.sse_customer_algorithm,
        sse_customer_key_md5=rec.sse_customer_key_md5,
        kms_key_id=rec.kms_key_id,
        kms_context=rec.kms_context,
    )


def _checksum_type(
    alg_value: common_pb2.ChecksumAlgorithm.ValueType, kind: common_pb2.ChecksumType.ValueType
) -> common_pb2.ChecksumType.ValueType:
    """The object checksum a complete will compute, as S3 defaults and restricts it."""
    if not alg_value:
        if kind:
            raise InvalidRequest(
                "The x-amz-checksum-type header can only be used with "
                "the x-amz-checksum-algorithm header."
            )
        return common_pb2.CHECKSUM_TYPE_UNSPECIFIED
    alg = checksum_algorithm(alg_value)
    if not kind:
        return FULL_OBJECT if alg is ChecksumAlgorithm.CRC64NVME else COMPOSITE
    if kind == FULL_OBJECT and alg not in _CRCS:
        raise InvalidRequest(f"The FULL_OBJECT checksum type cannot be used with {alg.value}.")
    if kind == COMPOSITE and alg is ChecksumAlgorithm.CRC64NVME:
        raise InvalidRequest("The COMPOSITE checksum type cannot be used with CRC64NVME.")
    return kind


# ---- parts ----


async def upload_part(
    cc: CoreContext,
    ctx: RequestContext,
    header: object_pb2.UploadPartHeader,
    body: AsyncIterable[bytes],
) -> object_pb2.UploadPartResponse:
    ref = await locate(cc, ctx, header.scope, header.bucket, Action.UPLOADS_WRITE, header.key)
    validate_object_key(header.key)
    check_part_number(cc, header.part_number)
    upload = await load_upload(cc, ref, header.key, header.upload_id)
    customer_key = header.customer_key if header.HasField("customer_key") else None
    seal = sealing.for_part(cc.keymaster, upload.record, customer_key)
    content_md5 = parse_content_md5(header.content_md5)
    expected = parse_expected_checksums(header.expected_checksums)
    algorithms = set(expected)
    if header.checksum_algorithm:
        algorithms.add(checksum_algorithm(header.checksum_algorithm))
    if upload.algorithm is not None:
        algorithms.add(upload.algorithm)
    length = header.content_length if header.HasField("content_length") else None
    if length is not None and length < 0:
        raise InvalidArgument("Content-Length must not be negative", ArgumentName="content-length")

    data = await receive_body(
        cc,
        body,
        cc.settings.limits.max_part_size,
        length,
        algorithms,
        content_md5,
        expected,
        kind=chunk_kind(cc, upload.record.storage_class),
        keys=seal.keys,
    )
    part = records_pb2.PartRecord(
        part_number=header.part_number,
        etag=seal.etag(data.md5_hex),
        size=data.size,
        last_modified=now_timestamp(),
        checksums=checksums_message(data.checksums),
    )
    await _commit_written_part(cc, upload, part, data)
    return object_pb2.UploadPartResponse(
        etag=part.etag,
        checksums=part.checksums,
        size=part.size,
        server_side_encryption=upload.record.server_side_encryption,
        sse_customer_algorithm=upload.record.sse_customer_algorithm,
        sse_customer_key_md5=upload.record.sse_customer_key_md5,
        kms_key_id=upload.record.kms_key_id,
    )


async def _commit_written_part(
    cc: CoreContext, upload: Upload, part: records_pb2.PartRecord, data: WrittenData
) -> None:
    """Commit a part whose content was just written as ``data``'s chunks (deleted unless the
    commit makes them reachable)."""
    new_data = chunk_records(data.chunks, data.size, cc.bounds) if data.chunks else []
    if new_data:
        part.data_id = new_data[0].data_id
        part.manifest.extend(inline_manifest(data.chunks, cc.bounds))

    async def commit() -> None:
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await _try_commit_part(
                    cc, upload.key, upload.record.upload_id, part, new_data
                )
            except ConflictError:
                await backoff(attempt)
        raise SlowDown("too much contention on this upload; retry")

    await commit_or_discard(cc, commit(), part.data_id, [c.chunk_id for c in data.chunks])


async def upload_part_copy(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.UploadPartCopyRequest
) -> object_pb2.UploadPartCopyResponse:
    """A part that is a byte range of another object: a ``slice`` data record holding one
    reference on the source's data record. Bytes are read only when the part's MD5 (or the
    upload's checksum) is not known already, and never written."""
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.UPLOADS_WRITE, req.key)
    validate_object_key(req.key)
    check_part_number(cc, req.part_number)
    src_ref = await locate_source(cc, ctx, ref.scope, req.source)
    upload = await load_upload(cc, ref, req.key, req.upload_id)
    seal = sealing.for_part(
        cc.keymaster, upload.record, req.customer_key if req.HasField("customer_key") else None
    )
    source_key = req.source_customer_key if req.HasField("source_customer_key") else None
    alg = upload.algorithm
    unreadable = ""
    for attempt in range(MAX_ATTEMPTS):
        src = await read_source(cc, src_ref, req.source)
        if src.data_id and src.data_id == unreadable:
            raise InternalError(f"the content of {req.source.key!r} cannot be read")
        src_keys = sealing.read_keys(cc.keymaster, src, source_key)
        first, last = copy_range(req, src.size)
        length = last - first + 1
        if length > cc.settings.limits.max_part_size:
            raise EntityTooLarge(MaxSizeAllowed=str(cc.settings.limits.max_part_size))
        part = records_pb2.PartRecord(
            part_number=req.part_number,
            size=length,
            last_modified=now_timestamp(),
        )
        answer = object_pb2.UploadPartCopyResponse(
            source_version_id=version_id(src, src_ref.record.versioning),
            server_side_encryption=upload.record.server_side_encryption,
            sse_customer_algorithm=upload.record.sse_customer_algorithm,
            sse_customer_key_md5=upload.record.sse_customer_key_md5,
            kms_key_id=upload.record.kms_key_id,
        )
        target = sealing.part_copy_target(cc.keymaster, seal, src)
        if not target.shares_with(src):  # other keys (or clear into sealed): re-sealed
            try:
                kind = chunk_kind(cc, upload.record.storage_class)
                data = await reseal(cc, src, src_keys, (first, last), target, alg, kind=kind)
            except ChunkNotFound:  # released meanwhile? re-resolve the source
                unreadable = src.data_id
                continue
            part.etag = target.etag(data.md5_hex)
            part.checksums.CopyFrom(checksums_message(data.checksums))
            await _commit_written_part(cc, upload, part, data)
            answer.etag = part.etag
            answer.checksums.CopyFrom(part.checksums)
            answer.last_modified.CopyFrom(part.last_modified)
            return answer
        if length:
            slices = object_slices(cc.data_cache, src.manifest, src.data_id, first, last)
            try:
                part.manifest.extend(await collect_manifest(slices, cc.bounds))
            except ChunkNotFound:  # the source's records were released: re-resolve it
                unreadable = src.data_id
                continue
        whole = length == src.size and "-" not in src.etag  # the ETag is the MD5
        known = "" if alg is None else full_object_checksum(src.checksums, alg)
        if whole and (alg is None or known):
            part.etag = src.etag
            part.checksums.CopyFrom(checksums_message({alg: known} if alg else {}))
        else:
            try:
                content = object_slices(cc.data_cache, src.manifest, src.data_id, first, last)
                md5, sums = await digest_content(cc, content, [alg] if alg else [], src_keys)
            except ChunkNotFound:  # released meanwhile? re-resolve the source
                unreadable = src.data_id
                continue
            part.etag = f'"{md5}"'
            part.checksums.CopyFrom(checksums_message(sums))
        new_data = []
        if length:
            part.data_id = new_data_id()
            span = records_pb2.DataSpan(data_id=src.data_id, offset=first, length=length)
            new_data = [records_pb2.DataRecord(data_id=part.data_id, size=length, slice=span)]
        try:
            await _try_commit_part(
                cc, upload.key, req.upload_id, part, new_data, acquire=src.data_id if length else ""
            )
        except ConflictError:  # the upload changed, or the source's content was released
            await backoff(attempt)
            continue
        answer.etag = part.etag
        answer.checksums.CopyFrom(part.checksums)
        answer.last_modified.CopyFrom(part.last_modified)
        return answer
    raise SlowDown("too much contention on this upload; retry")


def copy_range(req: object_pb2.UploadPartCopyRequest, size: int) -> tuple[int, int]:
    """The inclusive source range a part copies: x-amz-copy-source-range, else everything."""
    r = req.source_range
    if not (r.HasField("first") or r.HasField("last") or r.HasField("suffix_length")):
        return 0, size - 1
    if r.HasField("suffix_length") or not (r.HasField("first") and r.HasField("last")):
        raise InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            ArgumentName="x-amz-copy-source-range",
        )
    if not 0 <= r.first <= r.last < size:
        raise InvalidRange(
            f"Range specified is not valid for source object of size: {size}",
            ActualObjectSize=str(size),
        )
    return r.first, r.last


async def _try_commit_part(
    cc: CoreContext,
    upload_key: bytes,
    upload_id: str,
    part: records_pb2.PartRecord,
    new_data: Sequence[records_pb2.DataRecord],
    *,
    acquire: str = "",
) -> None:
    """Store ``part``, replacing (and releasing) a part of its number; raises ConflictError."""
    async with cc.upload_locks.hold(upload_id):
        await _commit_part(cc, upload_key, upload_id, part, new_data, acquire)


async def _commit_part(
    cc: CoreContext,
    upload_key: bytes,
    upload_id: str,
    part: records_pb2.PartRecord,
    new_data: Sequence[records_pb2.DataRecord],
    acquire: str,
) -> None:
    upload_kv = await cc.store.get(upload_key)
    if upload_kv is None:
        raise NoSuchUpload(UploadId=upload_id)
    part_key = cc.keys.part(upload_id, part.part_number)
    old = await cc.store.get(part_key)
    scope, bucket = cc.keys.bucket_of_upload(upload_key)
    usage_key = cc.keys.usage(scope, bucket)
    txn = Txn(cc.store, cc.keys)
    txn.expect(upload_key, upload_kv)
    txn.put(upload_key, upload_kv.value)  # bumps the revision complete and abort compare
    txn.expect(part_key, old)
    if old is not None:
        old_part = records_pb2.PartRecord.FromString(old.value)
        txn.release(old_part.data_id, "part replaced")
        txn.count(usage_key, -old_part.size, 0)
    for data in new_data:
        txn.create_data(data)
    txn.acquire(acquire)
    txn.put(part_key, part.SerializeToString())
    txn.count(usage_key, part.size, 0)  # parts in progress count as stored bytes
    await commit_counted(cc.quotas, txn, scope, bucket, usage_key, part.size)


# ---- abort ----


async def abort_multipart_upload(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.AbortMultipartUploadRequest
) -> object_pb2.AbortMultipartUploadResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.UPLOADS_ABORT, req.key)
    validate_object_key(req.key)
    upload = await load_upload(cc, ref, req.key, req.upload_id)
    await abort_upload(cc, upload.key, req.upload_id)
    return object_pb2.AbortMultipartUploadResponse()


async def abort_upload(cc: CoreContext, upload_key: bytes, upload_id: str) -> None:
    """Delete an upload and its parts, handing the parts' references to the collector, in one
    transaction (also what expiry of stale uploads runs). NoSuchUpload when already gone."""
    for attempt in range(MAX_ATTEMPTS):
        kv = await cc.store.get(upload_key)
        if kv is None:
            raise NoSuchUpload(UploadId=upload_id)
        parts = await read_parts(cc, upload_id)
        txn = Txn(cc.store, cc.keys)
        txn.expect(upload_key, kv)
        txn.delete(upload_key)
        txn.delete_prefix(cc.keys.parts_prefix(upload_id))
        txn.release_later([p.data_id for p in parts], "upload aborted")
        scope, bucket = cc.keys.bucket_of_upload(upload_key)
        usage_key = cc.keys.usage(scope, bucket)
        txn.count(usage_key, -parts_size(parts), 0)
        try:
            await commit_counted(cc.quotas, txn, scope, bucket, usage_key, 0)
            return
        except ConflictError:
            await backoff(attempt)
    raise SlowDown("too much contention on this upload; retry")


# ---- shared ----


def parts_size(parts: Iterable[records_pb2.PartRecord]) -> int:
    """Bytes the parts of an upload count for in usage (until complete or abort)."""
    return sum(p.size for p in parts)


def check_part_number(cc: CoreContext, number: int) -> None:
    limit = cc.settings.limits.max_parts
    if not 1 <= number <= limit:
        raise InvalidArgument(
            f"Part number must be an integer between 1 and {limit}, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=str(number),
        )


async def load_upload(cc: CoreContext, ref: BucketRef, key: str, upload_id: str) -> Upload:
    """The upload ``upload_id`` of ``key`` in this bucket (this incarnation), or NoSuchUpload."""
    if is_upload_id(upload_id):
        upload_key = cc.keys.upload(ref.scope, ref.name, key, upload_id)
        kv = await cc.store.get(upload_key)
        if kv is not None:
            rec = records_pb2.UploadRecord.FromString(kv.value)
            if rec.bucket_id == ref.record.bucket_id:
                return Upload(upload_key, kv, rec)
    raise NoSuchUpload(UploadId=upload_id)


async def read_parts(
    cc: CoreContext, upload_id: str, *, after: int = 0, limit: int = 0
) -> list[records_pb2.PartRecord]:
    """Parts of an upload by number: those after ``after``, at most ``limit`` (0: all)."""
    prefix = cc.keys.parts_prefix(upload_id)
    start = cc.keys.part(upload_id, after + 1) if after else None
    parts: list[records_pb2.PartRecord] = []
    while True:
        want = min(_PAGE, limit - len(parts)) if limit else _PAGE
        page = await cc.store.range(prefix, start=start, limit=want)
        parts.extend(records_pb2.PartRecord.FromString(kv.value) for kv in page.kvs)
        if not page.more or not page.kvs or (limit and len(parts) >= limit):
            return parts
        start = page.kvs[-1].key + b"\x00"
