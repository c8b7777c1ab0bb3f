"""Object operations: put, get, head and delete (one and many), and the body checks (digests,
checksums, storage class, commit-or-discard) that multipart and copy share."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from typing import TypeVar

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.access.absence import resolve_visible
from lightningstor_api.access.acl.apply import new_object
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.content import content_records, inline_manifest, object_slices
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import (
    ALGORITHMS,
    UNVERSIONED,
    checksums_given,
    checksums_message,
    object_info,
    version_id,
)
from lightningstor_api.core.datapath import (
    WrittenData,
    delete_chunks,
    read_manifest,
    write_stream,
)
from lightningstor_api.core.ids import NULL_VERSION
from lightningstor_api.core.reads import check_read_conditions, read_window
from lightningstor_api.core.versions import (
    check_write_conditions,
    commit_version,
    delete_version,
    load_current,
)
from lightningstor_api.encryption import KeyManager, sealing
from lightningstor_api.encryption import customer as sse_c
from lightningstor_api.lifecycle.evaluate import expiry_of
from lightningstor_api.metadata import MetadataUnavailable
from lightningstor_api.objectlock.operations import bypass_allowed
from lightningstor_api.objectlock.rules import LOCK_NEEDS_INTEGRITY, requested_lock
from lightningstor_storage import ChunkCorrupt, ChunkNotFound, PolicyKind
from lightningstor_types.actions import Action
from lightningstor_types.checksums import ChecksumAlgorithm, parse_b64_checksum
from lightningstor_types.errors import (
    BadDigest,
    IamUnavailable,
    InternalError,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
    LightningStorError,
    MalformedXML,
    MethodNotAllowed,
)
from lightningstor_types.header_values import validate_content_headers
from lightningstor_types.naming import (
    validate_object_key,
    validate_storage_class,
    validate_tags,
    validate_user_metadata,
)
from lightningstor_types.scope import principal_arn
from lightningstor_types.service import ObjectStream, RequestContext

log = logging.getLogger(__name__)
T = TypeVar("T")

# ---- put ----


async def put_object(
    cc: CoreContext,
    ctx: RequestContext,
    header: object_pb2.PutObjectHeader,
    body: AsyncIterable[bytes],
) -> object_pb2.PutObjectResponse:
    ref = await locate(cc, ctx, header.scope, header.bucket, Action.OBJECTS_PUT, header.key)
    key = header.key
    validate_object_key(key)
    user_metadata = normalize_user_metadata(header.user_metadata)
    validate_tags([(t.key, t.value) for t in header.tags], object_tags=True)
    validate_content_headers(header.headers)
    storage_class = validate_storage_class(header.storage_class)
    owner, acl = await new_object(cc, ref, header.acl, principal_arn(ctx.principal))
    seal = await sealing.requested(
        cc.keymaster,
        ref.record,
        header.server_side_encryption,
        header.kms_key_id,
        header.kms_context,
        header.customer_key if header.HasField("customer_key") else None,
    )
    content_md5 = parse_content_md5(header.content_md5)
    expected = parse_expected_checksums(header.expected_checksums)
    algorithms = list(expected)
    if header.checksum_algorithm:
        algorithms.append(checksum_algorithm(header.checksum_algorithm))
    length = header.content_length if header.HasField("content_length") else None
    if length is not None and length < 0:
        raise InvalidArgument("Content-Length must not be negative", ArgumentName="content-length")
    conditions = header.conditions if header.HasField("conditions") else None
    if conditions is not None:  # fail fast, before reading the body; checked again at commit
        current = await load_current(cc, ref.scope, ref.name, key)
        check_write_conditions(conditions, current.record if current else None, key)
    retention = requested_lock(
        ref.record, header.retention if header.HasField("retention") else None, header.legal_hold
    )
    if (retention is not None or header.legal_hold) and not (
        content_md5 or expected or header.checksum_algorithm
    ):
        raise InvalidRequest(LOCK_NEEDS_INTEGRITY)

    data = await receive_body(
        cc,
        body,
        cc.settings.limits.max_put_size,
        length,
        algorithms,
        content_md5,
        expected,
        inline_max=cc.settings.storage.inline_max_bytes,
        kind=chunk_kind(cc, storage_class),
        keys=seal.keys,
    )
    chunk_ids = [c.chunk_id for c in data.chunks]
    rec = records_pb2.ObjectRecord(
        etag=seal.etag(data.md5_hex),
        size=data.size,
        headers=header.headers,
        user_metadata=user_metadata,
        storage_class=storage_class,
        checksums=checksums_message(data.checksums),
        tags=header.tags,
        owner_id=owner,
        acl=acl,
        retention=retention,
        legal_hold=header.legal_hold,
    )
    seal.stamp(rec)
    new_data = content_records(data, cc.bounds)
    if new_data:
        rec.data_id = new_data[0].data_id
        rec.manifest.extend(inline_manifest(data.chunks, cc.bounds))
    commit = commit_version(cc, ref, key, rec, new_data=new_data, conditions=conditions)
    stored = await commit_or_discard(cc, commit, rec.data_id, chunk_ids)
    resp = object_pb2.PutObjectResponse(
        etag=stored.etag,
        version_id=version_id(stored, ref.record.versioning),
        checksums=stored.checksums,
        size=stored.size,
        last_modified=stored.last_modified,
        server_side_encryption=stored.server_side_encryption,
        sse_customer_algorithm=stored.sse_customer_algorithm,
        sse_customer_key_md5=stored.sse_customer_key_md5,
        kms_key_id=stored.kms_key_id,
        kms_context=stored.kms_context,
    )
    if due := expiry_of(ref.record.lifecycle_rules, stored, cc.settings.lifecycle.day_seconds):
        resp.expiration_date.FromNanoseconds(int(due.at * 1e9))
        resp.expiration_rule_id = due.rule_id
    return resp


async def commit_or_discard(
    cc: CoreContext, commit: Awaitable[T], data_id: str, chunk_ids: Sequence[str]
) -> T:
    """Run the metadata commit that makes freshly written chunks reachable, and delete the
    chunks unless it committed.

    The commit runs to its end even when the caller is cancelled meanwhile (a store may apply
    a transaction in a thread regardless), so whether it committed is known before any chunk
    is deleted: a refusal (a catalog error) did not; a success did; anything else is asked of
    the store, and when even that fails the orphan sweep decides later.
    """
    task = asyncio.ensure_future(commit)
    try:
        return await asyncio.shield(task)
    except BaseException:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])
        if not await _committed(cc, task, data_id):
            await delete_chunks(cc.storage, chunk_ids)
        raise


async def _committed(cc: CoreContext, task: asyncio.Future[T], data_id: str) -> bool:
    if not task.cancelled():
        error = task.exception()
        if error is None:
            return True
        if isinstance(error, LightningStorError) or not data_id:
            return False
    try:
        return await cc.store.get(cc.keys.data(data_id)) is not None
    except Exception:
        log.warning("cannot tell whether data %s was committed; left to the sweep", data_id)
        return True


def normalize_user_metadata(meta: Mapping[str, str]) -> dict[str, str]:
    """User metadata as stored: validated, names lower-case (HTTP header names are not case
    sensitive, so two names differing only in case are refused)."""
    validate_user_metadata(meta)
    lowered = {name.lower(): value for name, value in meta.items()}
    if len(lowered) != len(meta):
        raise InvalidArgument(
            "User metadata names must differ by more than case", ArgumentName="x-amz-meta-*"
        )
    return lowered


def parse_content_md5(value: str) -> bytes | None:
    """The binary MD5 a Content-MD5 value names (None when absent); InvalidDigest if malformed."""
    if not value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII value
        raw = b""
    if len(raw) != 16:
        raise InvalidDigest(ContentMD5=value)
    return raw


def parse_expected_checksums(msg: common_pb2.Checksums) -> dict[ChecksumAlgorithm, str]:
    """The checksums a client expects, normalized (InvalidRequest when one is malformed)."""
    expected: dict[ChecksumAlgorithm, str] = {}
    for alg, value in checksums_given(msg).items():
        try:
            raw = parse_b64_checksum(alg, value)
        except ValueError as exc:
            raise InvalidRequest(f"Value for {alg.header_name} header is invalid.") from exc
        expected[alg] = base64.b64encode(raw).decode()
    return expected


def checksum_algorithm(value: int) -> ChecksumAlgorithm:
    try:
        return ALGORITHMS[value]
    except KeyError:
        raise InvalidRequest(
            "Checksum algorithm must be one of CRC32, CRC32C, SHA1, SHA256, CRC64NVME"
        ) from None


async def receive_body(
    cc: CoreContext,
    body: AsyncIterable[bytes],
    max_size: int,
    length: int | None,
    algorithms: Iterable[ChecksumAlgorithm],
    content_md5: bytes | None,
    expected: dict[ChecksumAlgorithm, str],
    *,
    inline_max: int = 0,
    kind: PolicyKind = "",
    keys: KeyManager | None = None,
) -> WrittenData:
    """Store an upload's body as chunks of the storage ``kind`` (or keep it, up to
    ``inline_max`` bytes) and check its digests; nothing is left if it fails. With ``keys`` the
    chunks are sealed."""
    data = await write_stream(
        cc.storage,
        body,
        chunk_size=cc.settings.storage.chunk_size,
        max_size=max_size,
        expected_length=length,
        algorithms=algorithms,
        inline_max=inline_max,
        kind=kind,
        keys=keys,
    )
    try:
        verify_digests(data, content_md5, expected)
    except BaseException:
        await delete_chunks(cc.storage, [c.chunk_id for c in data.chunks])
        raise
    return data


def chunk_kind(cc: CoreContext, storage_class: str) -> PolicyKind:
    """How new chunks of ``storage_class`` are stored (``storage.distributed``'s mapping); the
    local backend has one kind."""
    storage = cc.settings.storage
    if storage.backend != "distributed":
        return ""
    return storage.distributed.policy_for(storage_class or "STANDARD")


def verify_digests(
    data: WrittenData, content_md5: bytes | None, expected: dict[ChecksumAlgorithm, str]
) -> None:
    """BadDigest unless the body matches its Content-MD5 and every expected checksum."""
    if content_md5 is not None and content_md5 != bytes.fromhex(data.md5_hex):
        raise BadDigest("The Content-MD5 you specified did not match what we received.")
    for alg, value in expected.items():
        if data.checksums.get(alg) != value:
            raise BadDigest(f"The {alg.value} you specified did not match the calculated checksum.")


# ---- get and head ----


async def get_object(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.GetObjectRequest
) -> ObjectStream:
    header, rec = await _read(cc, ctx, req)
    if header.content_length == 0:
        return ObjectStream(header, _empty())
    first = header.range_first if header.is_partial else 0
    last = first + header.content_length - 1
    keys = sealing.read_keys(cc.keymaster, rec, req.customer_key)
    slices = object_slices(cc.data_cache, rec.manifest, rec.data_id, first, last)
    pieces = read_manifest(cc.storage, slices, keys)
    return ObjectStream(header, _verified(pieces, rec.key))


async def head_object(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.HeadObjectRequest
) -> object_pb2.HeadObjectResponse:
    header, _ = await _read(cc, ctx, req)
    return object_pb2.HeadObjectResponse(header=header)


async def _read(
    cc: CoreContext,
    ctx: RequestContext,
    req: object_pb2.GetObjectRequest | object_pb2.HeadObjectRequest,
) -> tuple[object_pb2.GetObjectHeader, records_pb2.ObjectRecord]:
    """Resolve, check conditions and plan the bytes of a GET or HEAD."""
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_GET, req.key)
    validate_object_key(req.key)
    rec = await resolve_visible(cc, ctx, ref, req.key, req.version_id)
    if rec.is_delete_marker:  # reachable by version id only
        raise MethodNotAllowed(
            Method="GET", ResourceType="DeleteMarker", DeleteMarker="true", VersionId=req.version_id
        )
    sse_c.keys_for_read(rec, req.customer_key)  # the key is checked before anything is told
    check_read_conditions(req.conditions if req.HasField("conditions") else None, rec)
    byte_range = req.range if req.HasField("range") else None
    window = await read_window(cc.data_cache, rec, byte_range, req.part_number)
    is_latest = True
    if req.version_id:
        cur = await load_current(cc, ref.scope, ref.name, req.key)
        is_latest = cur is not None and cur.record.sort_id == rec.sort_id
    info = object_info(
        ref.name,
        rec,
        version=version_id(rec, ref.record.versioning),
        is_latest=is_latest,
        checksums=req.checksum_mode and window.checksums is None,
    )
    if req.checksum_mode and window.checksums is not None:
        info.checksums.CopyFrom(window.checksums)
    header = object_pb2.GetObjectHeader(object=info, content_length=window.length)
    if window.partial:
        header.is_partial = True
        header.range_first = window.first
        header.range_last = window.first + window.length - 1
    if is_latest and (
        due := expiry_of(ref.record.lifecycle_rules, rec, cc.settings.lifecycle.day_seconds)
    ):
        header.expiration_date.FromNanoseconds(int(due.at * 1e9))
        header.expiration_rule_id = due.rule_id
    return header, rec


async def _empty() -> AsyncIterator[bytes]:
    nothing: tuple[bytes, ...] = ()
    for piece in nothing:
        yield piece


async def _verified(pieces: AsyncIterator[bytes], key: str) -> AsyncIterator[bytes]:
    """The body, with a missing or corrupt chunk turned into InternalError (never wrong bytes)."""
    try:
        async for piece in pieces:
            yield piece
    except (ChunkCorrupt, ChunkNotFound) as exc:
        log.error("object %r cannot be read: %s", key, exc)
        raise InternalError() from exc
    finally:
        aclose = getattr(pieces, "aclose", None)
        if aclose is not None:
            await aclose()


# ---- delete ----


async def delete_object(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.DeleteObjectRequest
) -> object_pb2.DeleteObjectResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_DELETE, req.key)
    validate_object_key(req.key)
    cond = req.conditions if req.HasField("conditions") else None
    bypass = await bypass_allowed(cc, ctx, ref, req.key, req.bypass_governance_retention)
    done = await _delete(cc, ctx, ref, req.key, req.version_id, cond, bypass)
    return object_pb2.DeleteObjectResponse(
        version_id=done.delete_marker_version_id or done.version_id,
        delete_marker=done.delete_marker,
    )


async def delete_objects(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.DeleteObjectsRequest
) -> object_pb2.DeleteObjectsResponse:
    """Delete up to ``limits.max_delete_objects`` keys; each key is authorized on its own and
    fails on its own, except a missing bucket, which fails the request."""
    limit = cc.settings.limits.max_delete_objects
    if not req.objects or len(req.objects) > limit:
        raise MalformedXML(f"A Delete request names 1 to {limit} objects")
    scope = cc.scope_of(ctx, req.scope)
    ref: BucketRef | None = None
    resp = object_pb2.DeleteObjectsResponse()
    for obj in req.objects:
        try:
            await cc.authorize(ctx, Action.OBJECTS_DELETE, scope, req.bucket, obj.key)
        except _WHOLE_REQUEST:
            raise
        except LightningStorError as exc:
            resp.errors.append(_delete_error(obj, exc))
            continue
        if ref is None:
            ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_DELETE, obj.key)
        try:
            validate_object_key(obj.key)
            cond = obj.conditions if obj.HasField("conditions") else None
            bypass = await bypass_allowed(cc, ctx, ref, obj.key, req.bypass_governance_retention)
            done = await _delete(cc, ctx, ref, obj.key, obj.version_id, cond, bypass)
        except _WHOLE_REQUEST:
            raise
        except LightningStorError as exc:
            resp.errors.append(_delete_error(obj, exc))
            continue
        if not req.quiet:
            resp.deleted.append(done)
    return resp


# The metadata store or the IAM down fails the whole request (503) instead of each key
# waiting out the same timeout in turn.
_WHOLE_REQUEST = (MetadataUnavailable, IamUnavailable)


def _delete_error(
    obj: object_pb2.ObjectIdentifier, exc: LightningStorError
) -> object_pb2.DeleteError:
    return object_pb2.DeleteError(
        key=obj.key, version_id=obj.version_id, code=exc.code, message=exc.message
    )


async def delete_key_or_version(
    cc: CoreContext,
    ctx: RequestContext,
    ref: BucketRef,
    key: str,
    version: str,
    cond: common_pb2.DeleteConditions | None = None,
) -> object_pb2.DeletedObject:
    """The delete of a user's DeleteObject (with or without a version id, and its conditions),
    for the core's own callers (the lifecycle worker): every rule a user's delete meets applies."""
    return await _delete(cc, ctx, ref, key, version, cond)


async def _delete(
    cc: CoreContext,
    ctx: RequestContext,
    ref: BucketRef,
    key: str,
    version: str,
    cond: common_pb2.DeleteConditions | None,
    bypass: bool = False,
) -> object_pb2.DeletedObject:
    """Delete one key or version as S3 does, reported as DeleteObjects reports it; ``cond``
    is checked against the version removed or hidden, in the transaction that does it, and
    Object Lock against a version removed (``bypass``: a GOVERNANCE retention may go)."""
    if version:
        removed = await delete_version(cc, ref, key, version, cond, bypass_governance=bypass)
        marker = removed is not None and removed.is_delete_marker
        return object_pb2.DeletedObject(
            key=key,
            version_id=version,
            delete_marker=marker,
            delete_marker_version_id=version if marker else "",
        )
    if ref.record.versioning == UNVERSIONED:
        await delete_version(cc, ref, key, NULL_VERSION, cond, bypass_governance=bypass)
        return object_pb2.DeletedObject(key=key)
    marker_rec = records_pb2.ObjectRecord(
        is_delete_marker=True, owner_id=principal_arn(ctx.principal)
    )
    stored = await commit_version(cc, ref, key, marker_rec, delete_conditions=cond)
    return object_pb2.DeletedObject(
        key=key, delete_marker=True, delete_marker_version_id=stored.version_id
    )
