"""CompleteMultipartUpload: the version made of an upload's parts, without copying a byte.

One transaction (:func:`try_commit_version` with this module's extra operations) makes the
version, creates its data records — a root over segments of at most ``segment_parts`` parts,
each spanning its parts' data records (the parts' references move to them) — hands unused
parts to the collector, deletes the upload and drops the part records with one
``DeletePrefix``. Its compare on the upload key lets exactly one of racing completes (or a
complete and an abort) win; the loser re-reads and gets NoSuchUpload.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Sequence

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.content import multipart_records
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import checksums_given, checksums_message, version_id
from lightningstor_api.core.multipart import (
    COMPOSITE,
    FULL_OBJECT,
    Upload,
    load_upload,
    parts_size,
    read_parts,
)
from lightningstor_api.core.txn import ConflictError, Txn
from lightningstor_api.core.versions import (
    MAX_ATTEMPTS,
    backoff,
    newest_versions,
    try_commit_version,
)
from lightningstor_api.encryption import sealing
from lightningstor_types.actions import Action
from lightningstor_types.checksums import (
    ChecksumAlgorithm,
    combine_crcs,
    composite_checksum,
    multipart_etag,
    parse_b64_checksum,
)
from lightningstor_types.errors import (
    BadDigest,
    EntityTooLarge,
    EntityTooSmall,
    InternalError,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    NoSuchUpload,
    SlowDown,
)
from lightningstor_types.naming import validate_object_key
from lightningstor_types.service import RequestContext

RETRY_SCAN = 16
"""How many of a key's newest versions a retried Complete looks through for its upload's."""


async def complete_multipart_upload(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.CompleteMultipartUploadRequest
) -> object_pb2.CompleteMultipartUploadResponse:
    """One transaction makes the version, creates its root and segment records over the chosen
    parts' data (their references move to the segments), hands unused parts to the collector
    and deletes the upload; its compare on the upload key lets exactly one of racing completes
    win."""
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.UPLOADS_COMPLETE, req.key)
    validate_object_key(req.key)
    try:
        return await _complete(cc, ref, req)
    except NoSuchUpload:
        done = await _completed_result(cc, ref, req)
        if done is None:
            raise
        return done


async def _complete(
    cc: CoreContext, ref: BucketRef, req: object_pb2.CompleteMultipartUploadRequest
) -> object_pb2.CompleteMultipartUploadResponse:
    if not req.parts:
        raise MalformedXML("A CompleteMultipartUpload request must name at least one part")
    numbers = [p.part_number for p in req.parts]
    if any(b < a for a, b in itertools.pairwise(numbers)):
        raise InvalidPartOrder(UploadId=req.upload_id)
    # A part number listed twice in a row (a client that re-sent the part and kept both
    # answers) is the part once, as its last entry names it: what S3 accepts.
    listed = _listed(req)
    wanted = set(numbers)
    conditions = req.conditions if req.HasField("conditions") else None
    for attempt in range(MAX_ATTEMPTS):
        upload = await load_upload(cc, ref, req.key, req.upload_id)
        if req.HasField("customer_key"):  # optional, as S3's; never ignored when given
            sealing.for_part(cc.keymaster, upload.record, req.customer_key)
        stored = {p.part_number: p for p in await read_parts(cc, req.upload_id)}
        try:
            chosen = _choose_parts(cc, req.upload_id, listed, stored)
        except (InvalidPart, EntityTooSmall):
            # Parts read after an abort or a complete took them: that one's answer wins.
            fresh = await cc.store.get(upload.key)
            if fresh is None:
                raise NoSuchUpload(UploadId=req.upload_id) from None
            if fresh.mod_revision == upload.kv.mod_revision:
                raise
            await backoff(attempt)
            continue
        rec, children = _assemble(cc, upload, chosen, req.expected_checksums)
        unused = [p.data_id for n, p in stored.items() if n not in wanted]
        finish = functools.partial(
            _finish, cc=cc, upload=upload, unused=unused, parts_bytes=parts_size(stored.values())
        )
        try:
            done = await try_commit_version(
                cc,
                ref,
                req.key,
                rec,
                new_data=children,
                conditions=conditions,
                extra=finish,
                fresh=attempt > 0,
            )
        except ConflictError:
            await backoff(attempt)
            continue
        return _result(ref, done)
    raise SlowDown("too much contention on this upload; retry")


def _result(
    ref: BucketRef, done: records_pb2.ObjectRecord
) -> object_pb2.CompleteMultipartUploadResponse:
    return object_pb2.CompleteMultipartUploadResponse(
        bucket=ref.name,
        key=done.key,
        etag=done.etag,
        version_id=version_id(done, ref.record.versioning),
        checksums=done.checksums,
        size=done.size,
        server_side_encryption=done.server_side_encryption,
        sse_customer_algorithm=done.sse_customer_algorithm,
        sse_customer_key_md5=done.sse_customer_key_md5,
        kms_key_id=done.kms_key_id,
    )


async def _completed_result(
    cc: CoreContext, ref: BucketRef, req: object_pb2.CompleteMultipartUploadRequest
) -> object_pb2.CompleteMultipartUploadResponse | None:
    """A retried Complete of an upload that completed (clients retry after a timeout): the
    version it made, when it is among the key's newest versions, completed less than
    ``limits.completed_upload_result_seconds`` ago, and the retry names the same parts (its
    multipart ETag). Nothing is kept for this but the upload id on that version."""
    window = cc.settings.limits.completed_upload_result_seconds
    if window <= 0 or not req.upload_id or not req.parts:
        return None
    for kv in await newest_versions(cc, ref.scope, ref.name, req.key, limit=RETRY_SCAN):
        rec = records_pb2.ObjectRecord.FromString(kv.value)
        if rec.upload_id != req.upload_id:
            continue
        listed = _listed(req)
        if time.time() - rec.last_modified.ToNanoseconds() / 1e9 > window or rec.etag.strip(
            '"'
        ) != multipart_etag([p.etag.strip('"') for p in listed]):
            return None
        return _result(ref, rec)
    return None


def _listed(req: object_pb2.CompleteMultipartUploadRequest) -> list[object_pb2.CompletedPart]:
    """The parts a Complete names, a number listed twice in a row once, as its last entry."""
    numbers = [p.part_number for p in req.parts]
    return [p for p, n in zip(req.parts, [*numbers[1:], 0], strict=True) if n != p.part_number]


def _choose_parts(
    cc: CoreContext,
    upload_id: str,
    listed: Sequence[object_pb2.CompletedPart],
    stored: dict[int, records_pb2.PartRecord],
) -> list[records_pb2.PartRecord]:
    """The stored parts the request names: each present with its ETag (and checksums), and all
    but the last at least ``limits.min_part_size``."""
    chosen: list[records_pb2.PartRecord] = []
    min_size = cc.settings.limits.min_part_size
    for i, want in enumerate(listed):
        part = stored.get(want.part_number)
        if (
            part is None
            or want.etag.strip('"') != part.etag.strip('"')
            or any(
                checksums_given(part.checksums).get(alg) != value
                for alg, value in checksums_given(want.checksums).items()
            )
        ):
            raise InvalidPart(UploadId=upload_id, PartNumber=str(want.part_number), ETag=want.etag)
        if i < len(listed) - 1 and part.size < min_size:
            raise EntityTooSmall(
                ProposedSize=str(part.size),
                MinSizeAllowed=str(min_size),
                PartNumber=str(part.part_number),
                ETag=part.etag,
            )
        chosen.append(part)
    return chosen


def _assemble(
    cc: CoreContext,
    upload: Upload,
    parts: list[records_pb2.PartRecord],
    expected: common_pb2.Checksums,
) -> tuple[records_pb2.ObjectRecord, list[records_pb2.DataRecord]]:
    """The version and its data records (a root over segments) made of ``parts``, in order."""
    size = sum(p.size for p in parts)
    if size > cc.settings.limits.max_object_size:
        raise EntityTooLarge(MaxSizeAllowed=str(cc.settings.limits.max_object_size))
    records = multipart_records(parts, upload.algorithm, cc.bounds)
    up = upload.record
    md5s = [p.etag.strip('"') for p in parts]
    rec = records_pb2.ObjectRecord(
        etag=f'"{multipart_etag(md5s)}"',
        size=size,
        headers=up.headers,
        user_metadata=up.user_metadata,
        storage_class=up.storage_class,
        checksums=_object_checksums(upload, parts, expected),
        tags=up.tags,
        owner_id=up.owner_id,
        acl=up.acl if up.HasField("acl") else None,
        data_id=records[0].data_id,
        part_count=len(parts),
        upload_id=up.upload_id,
        retention=up.retention if up.HasField("retention") else None,
        legal_hold=up.legal_hold,
        server_side_encryption=up.server_side_encryption,
        sse_customer_algorithm=up.sse_customer_algorithm,
        sse_customer_key_md5=up.sse_customer_key_md5,
        sse_customer_key_hmac=up.sse_customer_key_hmac,  # a read checks its key against it
        kms_key_id=up.kms_key_id,
        kms_context=up.kms_context,
    )
    # Inline only when every part's manifest is and the whole stays within the bound.
    if sum(len(p.manifest) for p in parts) <= cc.bounds.inline_slices and all(
        p.manifest or not p.data_id for p in parts
    ):
        for p in parts:
            rec.manifest.extend(p.manifest)
    return rec, records


def _object_checksums(
    upload: Upload, parts: list[records_pb2.PartRecord], expected: common_pb2.Checksums
) -> common_pb2.Checksums:
    """The upload's checksum of the whole object (composite or full), checked against what
    the client expects; ``-N`` suffixes compare either way."""
    alg = upload.algorithm
    sums: dict[ChecksumAlgorithm, str] = {}
    kind = upload.record.checksum_type
    if alg is not None:
        digests = []
        for p in parts:
            value = checksums_given(p.checksums).get(alg)
            if value is None:  # every part computes it; only a bug gets here
                raise InternalError(f"part {p.part_number} lacks its {alg.value} checksum")
            digests.append(parse_b64_checksum(alg, value))
        if kind == FULL_OBJECT:
            sums[alg] = combine_crcs(alg, digests, [p.size for p in parts])
        else:
            sums[alg] = composite_checksum(alg, digests)
    if expected.type and expected.type != kind:
        mode = common_pb2.ChecksumType.Name(kind or COMPOSITE).removeprefix("CHECKSUM_TYPE_")
        raise InvalidRequest(
            f"The upload was created using the {mode if alg else 'no'} checksum mode. "
            "The complete request must use the same checksum mode."
        )
    for want_alg, want in checksums_given(expected).items():
        got = sums.get(want_alg)
        if got is None:
            raise InvalidRequest(f"The upload does not compute a {want_alg.value} checksum.")
        if got.partition("-")[0] != want.partition("-")[0]:
            raise BadDigest(
                f"The {want_alg.value} you specified did not match the calculated checksum."
            )
    return checksums_message(sums, kind or COMPOSITE)


def _finish(
    txn: Txn, *, cc: CoreContext, upload: Upload, unused: list[str], parts_bytes: int
) -> None:
    txn.count(cc.keys.usage(*cc.keys.bucket_of_upload(upload.key)), -parts_bytes, 0)
    txn.expect(upload.key, upload.kv)
    txn.delete(upload.key)
    txn.delete_prefix(cc.keys.parts_prefix(upload.record.upload_id))
    txn.release_later(unused, "part not completed")
