"""Records as the API shows them: bucket and object infos, checksums, version ids, tokens."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, common_pb2
from lightningstor_api.core.ids import NULL_VERSION
from lightningstor_types.checksums import ChecksumAlgorithm
from lightningstor_types.errors import InvalidContinuationToken
from lightningstor_types.scope import display_name

UNVERSIONED = bucket_pb2.VERSIONING_STATUS_UNVERSIONED

ALGORITHMS: dict[int, ChecksumAlgorithm] = {
    common_pb2.CHECKSUM_ALGORITHM_CRC32: ChecksumAlgorithm.CRC32,
    common_pb2.CHECKSUM_ALGORITHM_CRC32C: ChecksumAlgorithm.CRC32C,
    common_pb2.CHECKSUM_ALGORITHM_SHA1: ChecksumAlgorithm.SHA1,
    common_pb2.CHECKSUM_ALGORITHM_SHA256: ChecksumAlgorithm.SHA256,
    common_pb2.CHECKSUM_ALGORITHM_CRC64NVME: ChecksumAlgorithm.CRC64NVME,
}
"""The API's checksum enum → the algorithm (UNSPECIFIED is absent)."""

_FIELDS: dict[ChecksumAlgorithm, str] = {alg: alg.value.lower() for alg in ChecksumAlgorithm}


def checksums_given(msg: common_pb2.Checksums) -> dict[ChecksumAlgorithm, str]:
    """The checksum values set in ``msg``, by algorithm."""
    values = {alg: getattr(msg, field) for alg, field in _FIELDS.items()}
    return {alg: value for alg, value in values.items() if value}


def checksums_message(
    values: Mapping[ChecksumAlgorithm, str],
    kind: common_pb2.ChecksumType.ValueType = common_pb2.CHECKSUM_TYPE_FULL_OBJECT,
) -> common_pb2.Checksums:
    """``values`` as the API message (empty, with no type, when there are none)."""
    msg = common_pb2.Checksums()
    for alg, value in values.items():
        setattr(msg, _FIELDS[alg], value)
    if values:
        msg.type = kind
    return msg


def version_id(rec: records_pb2.ObjectRecord, versioning: int) -> str:
    """The version id a client sees: none at all in a bucket that was never versioned."""
    return "" if versioning == UNVERSIONED and rec.version_id == NULL_VERSION else rec.version_id


def object_info(
    bucket: str,
    rec: records_pb2.ObjectRecord,
    *,
    version: str,
    is_latest: bool,
    checksums: bool = True,
) -> common_pb2.ObjectInfo:
    """One version as the API shows it; ``version`` is the id to show (see :func:`version_id`)."""
    info = common_pb2.ObjectInfo()
    fill_object_info(info, bucket, rec, version=version, is_latest=is_latest, checksums=checksums)
    return info


def fill_object_info(
    info: common_pb2.ObjectInfo,
    bucket: str,
    rec: records_pb2.ObjectRecord,
    *,
    version: str,
    is_latest: bool,
    checksums: bool = True,
    owner: bool = True,
) -> None:
    """Fill an empty ``info`` in place: listings fill ``resp.objects.add()``, which costs a
    third of building each message and then copying it into the page.

    Scalars equal to their default are not assigned: proto3 neither keeps nor sends them, so the
    message is the same, and a listing fills 1,000 of these per page."""
    info.bucket = bucket
    info.key = rec.key
    if version:
        info.version_id = version
    if is_latest:
        info.is_latest = True
    info.last_modified.CopyFrom(rec.last_modified)
    if owner:
        info.owner.id = rec.owner_id
        info.owner.display_name = display_name(rec.owner_id)
    if rec.is_delete_marker:
        info.is_delete_marker = True
        return
    info.etag = rec.etag
    if size := rec.size:
        info.size = size
    info.headers.CopyFrom(rec.headers)
    if rec.user_metadata:
        info.user_metadata.update(rec.user_metadata)
    info.storage_class = rec.storage_class or "STANDARD"
    if checksums:
        info.checksums.CopyFrom(rec.checksums)
    if parts := part_count(rec):
        info.parts_count = parts
    if rec.tags:
        info.tag_count = len(rec.tags)
    if rec.HasField("retention"):
        info.retention.CopyFrom(rec.retention)
    if rec.legal_hold:
        info.legal_hold = True
    if rec.server_side_encryption:
        info.server_side_encryption = rec.server_side_encryption
    if rec.sse_customer_algorithm:
        info.sse_customer_algorithm = rec.sse_customer_algorithm
    if rec.sse_customer_key_md5:
        info.sse_customer_key_md5 = rec.sse_customer_key_md5
    if rec.kms_key_id:
        info.kms_key_id = rec.kms_key_id
    if rec.kms_context:
        info.kms_context = rec.kms_context


def timestamp_of(seconds: float) -> Timestamp:
    """A Unix time in seconds (``time.time()``, a file's mtime) as a Timestamp."""
    ts = Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def part_count(rec: records_pb2.ObjectRecord) -> int:
    """The parts of a multipart version (0 for a simple one); old records list them inline."""
    return rec.part_count or len(rec.parts)


def bucket_info(rec: records_pb2.BucketRecord) -> bucket_pb2.BucketInfo:
    """A bucket record as the API shows it."""
    info = bucket_pb2.BucketInfo(
        name=rec.name,
        scope=common_pb2.Scope(org_id=rec.org_id, project_id=rec.project_id),
        region=rec.region,
        versioning=rec.versioning,
    )
    info.created_at.CopyFrom(rec.created_at)
    return info


def sorted_tags(tags: Iterable[common_pb2.Tag]) -> list[common_pb2.Tag]:
    """A tag set as S3 returns it: sorted by key, whatever order it was put in."""
    return sorted(tags, key=lambda t: t.key)


def encode_token(last: str) -> str:
    """An opaque continuation token naming the last entry a page returned."""
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    """The entry a continuation token names (empty for no token)."""
    if not token:
        return ""
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
        return raw.decode()
    except (binascii.Error, ValueError) as exc:
        raise InvalidContinuationToken(ArgumentName="continuation-token") from exc
