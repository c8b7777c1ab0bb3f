"""Object operations: put, get, head and delete (one and many), and the body checks (digests,
checksums, storage class, commit-or-discard) that multipart and copy share."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from typing import TypeVar

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
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
    resolve_read,
)
from lightningstor_api.encryption import ChosenKey, KeyManager, UnknownKeyError
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
    KMSNotFoundException,
    LightningStorError,
    MalformedXML,
    MethodNotAllowed,
    NotImplemented_,
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

SSE_S3 = "AES256"
"""Server-side encryption with the server's active master key (SSE-S3)."""
SSE_KMS = "aws:kms"
"""Server-side encryption with a master key the request names (SSE-KMS, PutObject only)."""


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
    own_key = sse_c.given(header.customer_key)
    if own_key and header.server_side_encryption:
        raise InvalidArgument(
            "Server Side Encryption with Customer provided key is incompatible with the "
            "encryption method specified",
            ArgumentName="x-amz-server-side-encryption",
        )
    sse = "" if own_key else effective_encryption(ref.record, header.server_side_encryption)
    kms_key = ""
    keys: KeyManager | None
    if sse == SSE_KMS:
        keys, kms_key = await kms_keys(cc, header.kms_key_id)
    else:
        if header.kms_key_id:
            raise InvalidArgument(
                "Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                ArgumentName="x-amz-server-side-encryption-aws-kms-key-id",
            )
        keys = encryption_keys(cc, sse)
    key_check = given_key = b""
    if own_key:  # SSE-C: the customer's key wraps the data keys, and is not kept
        given_key = sse_c.check_customer_key(header.customer_key)
        keys, key_check = sse_c.customer_keys(given_key), sse_c.key_check(given_key)
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
        keys=keys,
    )
    chunk_ids = [c.chunk_id for c in data.chunks]
    rec = records_pb2.ObjectRecord(
        etag=f'"{data.md5_hex}"',
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
        server_side_encryption=sse,
        kms_key_id=kms_key,
    )
    if kms_key:  # as S3's: an SSE-KMS ETag is no MD5 of the plaintext (opaque, per version)
        rec.etag = f'"{os.urandom(16).hex()}"'
    if own_key:
        rec.etag = f'"{sse_c.opaque_etag(given_key, data.md5_hex)}"'
        rec.sse_customer_algorithm = header.customer_key.algorithm
        rec.sse_customer_key_md5 = header.customer_key.key_md5
        rec.sse_customer_key_hmac = key_check
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


def effective_encryption(bucket: records_pb2.BucketRecord, requested: str) -> str:
    """The encryption a new object gets: its own request's, else the bucket's default."""
    if requested or not bucket.HasField("encryption"):
        return requested
    return bucket.encryption.sse_algorithm


async def kms_keys(cc: CoreContext, key_id: str) -> tuple[KeyManager, str]:
    """SSE-KMS: the key manager seen through the named master key (the active one when none
    is named), and that key's id; KMS.NotFoundException when it holds no such key."""
    if cc.keymaster is None:
        raise InvalidRequest("Server-side encryption is not configured on this server")
    chosen = key_id.removeprefix("alias/") or cc.keymaster.active_key
    try:  # asked before the body is read: a wrong key id costs no upload
        await cc.keymaster.wrap(chosen, bytes(32))
    except UnknownKeyError:
        raise KMSNotFoundException(f"Invalid keyId {key_id}") from None
    return ChosenKey(cc.keymaster, chosen), chosen


def encryption_keys(cc: CoreContext, sse: str) -> KeyManager | None:
    """The key manager that seals a body written with server-side encryption ``sse`` (None:
    stored in clear); InvalidArgument for an algorithm other than AES256."""
    if not sse:
        return None
    if sse.startswith("aws:kms"):
        raise NotImplemented_(
            "SSE-KMS is served on PutObject only", Header="x-amz-server-side-encryption"
        )
    if sse != SSE_S3:
        raise InvalidArgument(
            "The encryption method specified is not supported",
            ArgumentName="x-amz-server-side-encryption",
            ArgumentValue=sse,
        )
    if cc.keymaster is None:
        raise InvalidRequest("Server-side encryption is not configured on this server")
    return cc.keymaster


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
    keys = sse_c.keys_for_read(rec, req.customer_key) or cc.keymaster
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
    rec = await resolve_read(cc, ref.scope, ref.name, req.key, req.version_id)
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
