"""What a GET or HEAD returns of a version: its conditions (RFC 7232) and its byte window
(a Range per RFC 7233, or one part of a multipart object)."""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2
from lightningstor_api.core.content import DataCache, locate_part
from lightningstor_api.core.convert import part_count
from lightningstor_api.core.versions import etag_matches
from lightningstor_storage import ChunkNotFound
from lightningstor_types.errors import (
    InternalError,
    InvalidArgument,
    InvalidPartNumber,
    InvalidRange,
    InvalidRequest,
    NotModified,
    PreconditionFailed,
)


@dataclass(frozen=True, slots=True)
class Window:
    """The bytes ``[first, first + length)`` of a version that a read returns."""

    first: int
    length: int
    partial: bool
    checksums: common_pb2.Checksums | None
    """What to report instead of the object's checksums (a part's own, none for a range)."""


def check_read_conditions(
    cond: common_pb2.Conditions | None, rec: records_pb2.ObjectRecord
) -> None:
    """RFC 7232 §6 order, which S3 follows: If-Match, else If-Unmodified-Since (412); then
    If-None-Match, else If-Modified-Since (304). Dates compare at HTTP's one-second precision."""
    if cond is None:
        return
    modified = rec.last_modified.seconds
    if cond.if_match:
        if not etag_matches(cond.if_match, rec.etag):
            raise PreconditionFailed(Condition="If-Match")
    elif cond.HasField("if_unmodified_since") and modified > cond.if_unmodified_since.seconds:
        raise PreconditionFailed(Condition="If-Unmodified-Since")
    if cond.if_none_match:
        if etag_matches(cond.if_none_match, rec.etag):
            raise NotModified(ETag=rec.etag, LastModified=rec.last_modified.ToJsonString())
    elif cond.HasField("if_modified_since") and modified <= cond.if_modified_since.seconds:
        raise NotModified(ETag=rec.etag, LastModified=rec.last_modified.ToJsonString())


async def read_window(
    cache: DataCache,
    rec: records_pb2.ObjectRecord,
    byte_range: common_pb2.ByteRange | None,
    part_number: int,
) -> Window:
    """The window a Range or a part number selects; the whole version when neither is given."""
    whole = Window(0, rec.size, False, None)
    ranged = byte_range is not None and (
        byte_range.HasField("first")
        or byte_range.HasField("last")
        or byte_range.HasField("suffix_length")
    )
    if part_number:
        if ranged:
            raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
        return await _part_window(cache, rec, part_number) or whole
    if byte_range is None or not ranged:
        return whole
    span = satisfy_range(byte_range, rec.size)
    if span is None:
        return whole
    first, last = span
    return Window(first, last - first + 1, True, common_pb2.Checksums())


async def _part_window(
    cache: DataCache, rec: records_pb2.ObjectRecord, part_number: int
) -> Window | None:
    count = part_count(rec) or 1  # a simple object is its own part 1
    if part_number < 1:
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
        )
    if part_number > count:
        raise InvalidPartNumber(PartNumberRequested=str(part_number), ActualPartCount=str(count))
    if not part_count(rec):
        return None
    try:
        part = await locate_part(cache, rec, part_number)
    except ChunkNotFound as exc:  # the version's records were released after it was read
        raise InternalError(f"part {part_number} of {rec.key!r} cannot be read") from exc
    return Window(part.first, part.size, True, part.checksums)


def satisfy_range(r: common_pb2.ByteRange, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` a range selects of ``size`` bytes; None when the range
    is syntactically invalid (``last < first``: ignored, RFC 7233 §3.1); InvalidRange when it
    cannot be satisfied (it starts at or past the end, or the object is empty)."""
    unsatisfiable = InvalidRange(ActualObjectSize=str(size))
    if r.HasField("suffix_length"):
        if r.HasField("first") or r.HasField("last"):
            raise InvalidArgument("A range is either first-last or a suffix", ArgumentName="Range")
        if r.suffix_length <= 0 or size == 0:
            raise unsatisfiable
        return max(0, size - r.suffix_length), size - 1
    if not r.HasField("first"):
        raise InvalidArgument("A range without its first byte", ArgumentName="Range")
    if r.first < 0:
        raise unsatisfiable
    if r.HasField("last") and r.last < r.first:
        return None
    if r.first >= size:
        raise unsatisfiable
    last = min(r.last, size - 1) if r.HasField("last") else size - 1
    return r.first, last
