"""Objects: put/get/head round trips, checksums, ranges, parts, conditions, deletes, tagging,
unreadable chunks and concurrent writers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_types.errors import (
    InternalError,
    InvalidPartNumber,
    InvalidRequest,
    MalformedXML,
    NoSuchKey,
    NotModified,
    PreconditionFailed,
)
from lightningstor_types.service import RequestContext

from .conftest import MIB
from .helpers import chunk_files, data_records, etag_of, gc_entries, get, put, snapshot

Conditions = common_pb2.Conditions
ByteRange = common_pb2.ByteRange


def body(size: int, seed: int = 0) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32) + b"x" * (size % 32)


async def head(core: Core, ctx: RequestContext, bucket: str, key: str, **req: Any) -> Any:
    resp = await core.head_object(ctx, object_pb2.HeadObjectRequest(bucket=bucket, key=key, **req))
    return resp.header


class CountingStorage:
    """The real backend, counting the chunk reads (instrumentation, not a mock)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads: list[tuple[str, int, int | None]] = []

    def get_chunk(
        self, chunk_id: str, offset: int = 0, length: int | None = None, **hints: Any
    ) -> Any:
        self.reads.append((chunk_id, offset, length))
        return self.inner.get_chunk(chunk_id, offset, length, **hints)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# ---- put and get ----


async def test_round_trip_spanning_chunks(core: Core, ctx: RequestContext, bucket: str) -> None:
    data = body(2 * MIB + 12345)
    resp = await put(
        core,
        ctx,
        bucket,
        "dir/file.bin",
        data,
        headers=common_pb2.ContentHeaders(content_type="application/x-test"),
        user_metadata={"Owner": "me"},
        tags=[common_pb2.Tag(key="k", value="v")],
    )
    assert resp.etag == etag_of(data)
    assert resp.size == len(data)
    assert resp.version_id == ""  # never-versioned bucket
    header, got = await get(core, ctx, bucket, "dir/file.bin")
    assert got == data
    info = header.object
    assert header.content_length == len(data) and not header.is_partial
    assert (info.key, info.etag, info.size) == ("dir/file.bin", etag_of(data), len(data))
    assert info.headers.content_type == "application/x-test"
    assert dict(info.user_metadata) == {"owner": "me"}
    assert info.tag_count == 1 and info.parts_count == 0
    assert info.storage_class == "STANDARD" and info.is_latest
    (record,) = await data_records(core)
    assert record.refcount == 1 and record.size == len(data)
    assert len(record.chunks.chunks) == 3
    assert (await head(core, ctx, bucket, "dir/file.bin")).object == info


async def test_empty_object_has_no_data(core: Core, ctx: RequestContext, bucket: str) -> None:
    resp = await put(core, ctx, bucket, "empty")
    assert resp.etag == etag_of(b"") and resp.size == 0
    header, got = await get(core, ctx, bucket, "empty")
    assert got == b"" and header.content_length == 0
    assert await data_records(core) == []
    assert chunk_files(core.cc.settings.server.data_dir) == set()


async def test_body_of_unknown_length(core: Core, ctx: RequestContext, bucket: str) -> None:
    data = body(MIB + 7)
    await core.put_object(
        ctx, object_pb2.PutObjectHeader(bucket=bucket, key="stream"), iter_body(data)
    )
    assert (await get(core, ctx, bucket, "stream"))[1] == data


async def iter_body(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 1000):
        yield data[i : i + 1000]


async def test_checksums(core: Core, ctx: RequestContext, bucket: str) -> None:
    data = body(5000)
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    resp = await put(
        core,
        ctx,
        bucket,
        "summed",
        data,
        content_md5=md5,
        expected_checksums=common_pb2.Checksums(sha256=sha),
        checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32C,
    )
    assert resp.checksums.sha256 == sha
    assert resp.checksums.crc32c  # computed as asked
    assert resp.checksums.type == common_pb2.CHECKSUM_TYPE_FULL_OBJECT
    plain = (await head(core, ctx, bucket, "summed")).object
    assert not plain.checksums.sha256  # only with checksum mode
    with_mode = (await head(core, ctx, bucket, "summed", checksum_mode=True)).object
    assert with_mode.checksums == resp.checksums


async def test_overwrite_releases_the_old_data(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await put(core, ctx, bucket, "k", body(5000, 1))  # chunks (above storage.inline_max_bytes)
    await put(core, ctx, bucket, "k", body(6000, 2))
    assert (await get(core, ctx, bucket, "k"))[1] == body(6000, 2)
    (live,) = await data_records(core)
    assert live.size == 6000
    (entry,) = await gc_entries(core)
    assert entry.data.size == 5000 and entry.reason == "replaced"


async def test_twenty_concurrent_puts_leave_one_of_them(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    bodies = [body(5000 + i, i) for i in range(20)]  # chunks, so the losers are journaled
    await asyncio.gather(*(put(core, ctx, bucket, "hot", b) for b in bodies))
    _, got = await get(core, ctx, bucket, "hot")
    assert got in bodies
    (live,) = await data_records(core)
    assert live.refcount == 1 and live.size == len(got)
    current = await core.cc.store.get(core.cc.keys.object(ctx.principal.scope, bucket, "hot"))
    assert current is not None and live.data_id.encode() in current.value
    assert len(await gc_entries(core)) == 19
    versions = await core.list_object_versions(
        ctx, object_pb2.ListObjectVersionsRequest(bucket=bucket)
    )
    assert len(versions.versions) == 1


# ---- ranges and parts ----


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        (ByteRange(first=0, last=0), 0, 0),
        (ByteRange(first=10, last=19), 10, 19),
        (ByteRange(first=MIB - 5, last=MIB + 5), MIB - 5, MIB + 5),  # across a chunk boundary
        (ByteRange(first=2 * MIB), 2 * MIB, 2 * MIB + 99),  # open end
        (ByteRange(first=5, last=10**12), 5, 2 * MIB + 99),  # clamped end
        (ByteRange(suffix_length=150), 2 * MIB - 50, 2 * MIB + 99),
        (ByteRange(suffix_length=10**9), 0, 2 * MIB + 99),
    ],
)
async def test_ranges(
    core: Core, ctx: RequestContext, bucket: str, spec: ByteRange, first: int, last: int
) -> None:
    data = body(2 * MIB + 100)
    await put(core, ctx, bucket, "r", data)
    header, got = await get(core, ctx, bucket, "r", range=spec)
    assert got == data[first : last + 1]
    assert header.is_partial
    assert (header.range_first, header.range_last) == (first, last)
    assert header.content_length == last - first + 1
    assert header.object.size == len(data)


async def test_range_reads_only_the_chunks_it_touches(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data = body(3 * MIB)
    await put(core, ctx, bucket, "r", data)
    counting = CountingStorage(core.cc.storage)
    core.cc.storage = counting
    _, got = await get(core, ctx, bucket, "r", range=ByteRange(first=MIB + 10, last=MIB + 20))
    assert got == data[MIB + 10 : MIB + 21]
    assert [(offset, length) for _, offset, length in counting.reads] == [(10, 11)]


async def test_invalid_range_spec_is_ignored(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "r", b"0123456789")
    header, got = await get(core, ctx, bucket, "r", range=ByteRange(first=5, last=2))
    assert got == b"0123456789" and not header.is_partial


async def test_part_number_of_a_simple_object(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "p", b"abc")
    header, got = await get(core, ctx, bucket, "p", part_number=1)
    assert got == b"abc" and not header.is_partial
    with pytest.raises(InvalidPartNumber):
        await get(core, ctx, bucket, "p", part_number=2)
    with pytest.raises(InvalidRequest):
        await get(core, ctx, bucket, "p", part_number=1, range=ByteRange(first=0, last=1))


# ---- conditions ----


def ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


async def test_read_conditions(core: Core, ctx: RequestContext, bucket: str) -> None:
    resp = await put(core, ctx, bucket, "c", b"hello")
    etag, modified = resp.etag, resp.last_modified.seconds
    before, after = ts(modified - 100), ts(modified + 100)

    async def read(**cond: Any) -> bytes:
        return (await get(core, ctx, bucket, "c", conditions=Conditions(**cond)))[1]

    assert await read(if_match=etag) == b"hello"
    assert await read(if_match="*") == b"hello"
    assert await read(if_match=f'"other", {etag}') == b"hello"
    with pytest.raises(PreconditionFailed):
        await read(if_match='"other"')
    with pytest.raises(NotModified):
        await read(if_none_match=etag)
    with pytest.raises(NotModified):
        await read(if_none_match="*")
    assert await read(if_none_match='"other"') == b"hello"
    assert await read(if_modified_since=before) == b"hello"
    with pytest.raises(NotModified):
        await read(if_modified_since=after)
    with pytest.raises(NotModified):
        await read(if_modified_since=ts(modified))  # same second: not modified since
    assert await read(if_unmodified_since=after) == b"hello"
    with pytest.raises(PreconditionFailed):
        await read(if_unmodified_since=before)
    # Precedence (RFC 7232 §6, as S3): If-Match wins over If-Unmodified-Since ...
    assert await read(if_match=etag, if_unmodified_since=before) == b"hello"
    # ... and If-None-Match over If-Modified-Since.
    assert await read(if_none_match='"other"', if_modified_since=after) == b"hello"
    with pytest.raises(NotModified):
        await read(if_none_match=etag, if_modified_since=before)
    with pytest.raises(PreconditionFailed):  # 412 before 304
        await read(if_match='"other"', if_none_match=etag)
    with pytest.raises(NotModified):  # HEAD too
        await head(core, ctx, bucket, "c", conditions=Conditions(if_none_match=etag))


async def test_write_conditions(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "w", b"one", conditions=Conditions(if_none_match="*"))
    before = await snapshot(core)
    with pytest.raises(PreconditionFailed):
        await put(core, ctx, bucket, "w", b"two", conditions=Conditions(if_none_match="*"))
    with pytest.raises(PreconditionFailed):
        await put(core, ctx, bucket, "w", b"two", conditions=Conditions(if_match='"nope"'))
    with pytest.raises(NoSuchKey):
        await put(core, ctx, bucket, "absent", b"two", conditions=Conditions(if_match='"x"'))
    assert await snapshot(core) == before
    await put(core, ctx, bucket, "w", b"two", conditions=Conditions(if_match=etag_of(b"one")))
    assert (await get(core, ctx, bucket, "w"))[1] == b"two"


# ---- unreadable chunks ----


def chunk_path(core: Core, chunk_id: str) -> Any:
    root = core.cc.settings.server.data_dir / "chunks"
    return root / chunk_id[:2] / chunk_id[2:4] / chunk_id


async def test_corrupt_chunk_is_an_internal_error(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await put(core, ctx, bucket, "bad", body(10000))
    (record,) = await data_records(core)
    path = chunk_path(core, record.chunks.chunks[0].chunk_id)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(InternalError):
        await get(core, ctx, bucket, "bad")


async def test_missing_chunk_is_an_internal_error(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await put(core, ctx, bucket, "gone", body(10000))
    (record,) = await data_records(core)
    os.unlink(chunk_path(core, record.chunks.chunks[0].chunk_id))
    with pytest.raises(InternalError):
        await get(core, ctx, bucket, "gone")


# ---- delete ----


async def test_delete_in_an_unversioned_bucket(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await put(core, ctx, bucket, "d", b"data")
    resp = await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="d"))
    assert (resp.version_id, resp.delete_marker) == ("", False)
    with pytest.raises(NoSuchKey):
        await get(core, ctx, bucket, "d")
    assert await data_records(core) == []
    assert await gc_entries(core) == []  # an inline record leaves nothing to collect
    versions = await core.list_object_versions(
        ctx, object_pb2.ListObjectVersionsRequest(bucket=bucket)
    )
    assert list(versions.versions) == []
    # Deleting what is not there succeeds, as in S3.
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="d"))


async def test_delete_objects(core: Core, ctx: RequestContext, bucket: str) -> None:
    for key in ("a", "b", "c"):
        await put(core, ctx, bucket, key, key.encode())
    objects = [object_pb2.ObjectIdentifier(key=k) for k in ("a", "b", "missing")]
    objects.append(object_pb2.ObjectIdentifier(key="x" * 1100))
    objects.append(object_pb2.ObjectIdentifier(key="c", version_id="not-a-version"))
    resp = await core.delete_objects(
        ctx, object_pb2.DeleteObjectsRequest(bucket=bucket, objects=objects)
    )
    assert [d.key for d in resp.deleted] == ["a", "b", "missing"]
    assert [(e.key[:3], e.code) for e in resp.errors] == [
        ("xxx", "KeyTooLongError"),
        ("c", "InvalidArgument"),
    ]
    listed = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket))
    assert [o.key for o in listed.objects] == ["c"]
    quiet = await core.delete_objects(
        ctx,
        object_pb2.DeleteObjectsRequest(
            bucket=bucket, objects=[object_pb2.ObjectIdentifier(key="c")], quiet=True
        ),
    )
    assert list(quiet.deleted) == [] and list(quiet.errors) == []
    assert (
        list((await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket))).objects)
        == []
    )


async def test_delete_objects_bounds(core: Core, ctx: RequestContext, bucket: str) -> None:
    limit = core.cc.settings.limits.max_delete_objects
    many = [object_pb2.ObjectIdentifier(key=f"k{i}") for i in range(limit + 1)]
    with pytest.raises(MalformedXML):
        await core.delete_objects(ctx, object_pb2.DeleteObjectsRequest(bucket=bucket, objects=many))
    with pytest.raises(MalformedXML):
        await core.delete_objects(ctx, object_pb2.DeleteObjectsRequest(bucket=bucket))


# ---- tagging ----


async def test_object_tagging(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "t", b"x", tags=[common_pb2.Tag(key="a", value="1")])
    got = await core.get_object_tagging(
        ctx, object_pb2.GetObjectTaggingRequest(bucket=bucket, key="t")
    )
    assert [(t.key, t.value) for t in got.tags] == [("a", "1")]
    new = [common_pb2.Tag(key="b", value="2"), common_pb2.Tag(key="c", value="3")]
    await core.put_object_tagging(
        ctx, object_pb2.PutObjectTaggingRequest(bucket=bucket, key="t", tags=new)
    )
    got = await core.get_object_tagging(
        ctx, object_pb2.GetObjectTaggingRequest(bucket=bucket, key="t")
    )
    assert list(got.tags) == new
    # Both the current copy and the version record were rewritten.
    assert (await head(core, ctx, bucket, "t")).object.tag_count == 2
    versions = await core.list_object_versions(
        ctx, object_pb2.ListObjectVersionsRequest(bucket=bucket)
    )
    assert versions.versions[0].tag_count == 2
    await core.delete_object_tagging(
        ctx, object_pb2.DeleteObjectTaggingRequest(bucket=bucket, key="t")
    )
    assert (await head(core, ctx, bucket, "t")).object.tag_count == 0
    assert (await get(core, ctx, bucket, "t"))[1] == b"x"  # content untouched
    with pytest.raises(NoSuchKey):
        await core.get_object_tagging(
            ctx, object_pb2.GetObjectTaggingRequest(bucket=bucket, key="nope")
        )
