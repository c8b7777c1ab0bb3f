"""Building API request messages from Python arguments."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_client._models import ChecksumName, Part, Versioning

VERSIONING: dict[Versioning, bucket_pb2.VersioningStatus.ValueType] = {
    "Enabled": bucket_pb2.VERSIONING_STATUS_ENABLED,
    "Suspended": bucket_pb2.VERSIONING_STATUS_SUSPENDED,
}


class ContentHeaderArgs(TypedDict, total=False):
    """The HTTP headers S3 stores with an object (keyword arguments of uploads and copies)."""

    content_type: str
    content_encoding: str
    content_disposition: str
    content_language: str
    cache_control: str
    expires: str
    website_redirect_location: str
    """S3's ``x-amz-website-redirect-location``: ``/…``, ``http://…`` or ``https://…`` (at most
    2 KiB), stored and returned; a copy has it only when given (never the source's)."""


def tags(values: Mapping[str, str] | None) -> list[common_pb2.Tag]:
    return [common_pb2.Tag(key=k, value=v) for k, v in (values or {}).items()]


def timestamp(when: datetime | None) -> Timestamp | None:
    if when is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def checksum(name: ChecksumName | None) -> common_pb2.ChecksumAlgorithm.ValueType:
    if name is None:
        return common_pb2.CHECKSUM_ALGORITHM_UNSPECIFIED
    return common_pb2.ChecksumAlgorithm.Value(f"CHECKSUM_ALGORITHM_{name}")


def conditions(
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    if_unmodified_since: datetime | None = None,
) -> common_pb2.Conditions:
    return common_pb2.Conditions(
        if_match=if_match or "",
        if_none_match=if_none_match or "",
        if_modified_since=timestamp(if_modified_since),
        if_unmodified_since=timestamp(if_unmodified_since),
    )


def delete_conditions(
    if_match: str | None = None,
    if_match_last_modified_time: datetime | None = None,
    if_match_size: int | None = None,
) -> common_pb2.DeleteConditions | None:
    if if_match is None and if_match_last_modified_time is None and if_match_size is None:
        return None
    return common_pb2.DeleteConditions(
        if_match=if_match or "",
        if_match_last_modified_time=timestamp(if_match_last_modified_time),
        if_match_size=if_match_size,
    )


def byte_range(value: tuple[int, int | None] | None) -> common_pb2.ByteRange | None:
    """``(first, last)`` inclusive, ``(first, None)`` to the end, ``(-n, None)`` the last n."""
    if value is None:
        return None
    first, last = value
    if first < 0:
        return common_pb2.ByteRange(suffix_length=-first)
    return common_pb2.ByteRange(first=first, last=last)


def object_id(item: str | tuple[str, str | None]) -> object_pb2.ObjectIdentifier:
    key, version_id = (item, None) if isinstance(item, str) else item
    return object_pb2.ObjectIdentifier(key=key, version_id=version_id or "")


def completed_part(part: Part | tuple[int, str]) -> object_pb2.CompletedPart:
    if isinstance(part, Part):
        return object_pb2.CompletedPart(part_number=part.part_number, etag=part.etag)
    return object_pb2.CompletedPart(part_number=part[0], etag=part[1])


def copy_source(
    scope: common_pb2.Scope | None,
    bucket: str,
    key: str,
    version_id: str | None,
    if_match: str | None = None,
    if_none_match: str | None = None,
) -> object_pb2.CopySource:
    return object_pb2.CopySource(
        scope=scope,
        bucket=bucket,
        key=key,
        version_id=version_id or "",
        conditions=conditions(if_match, if_none_match),
    )


def customer_key(key: bytes | None) -> common_pb2.CustomerKey | None:
    """An SSE-C key (32 bytes) as the API takes it: with its base64 MD5, as S3 clients send."""
    if key is None:
        return None
    md5 = base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode()
    return common_pb2.CustomerKey(algorithm="AES256", key=key, key_md5=md5)


def kms_context(context: Mapping[str, str] | None) -> str:
    """An SSE-KMS encryption context as S3 carries it: base64 of its JSON."""
    if not context:
        return ""
    return base64.b64encode(json.dumps(dict(context), sort_keys=True).encode()).decode()
