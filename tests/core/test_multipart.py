"""Multipart uploads through the Core: round trips, part replacement, copies, refusals that
change nothing, racing completes, abort, listings and checksums."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib
from pathlib import Path
from typing import Any

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.usage import read_usage
from lightningstor_types.config import Settings
from lightningstor_types.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    LightningStorError,
    MalformedXML,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
)
from lightningstor_types.service import RequestContext

from .conftest import MIB, make_settings
from .helpers import chunk_files, chunks_of, data_records, etag_of, gc_entries, get, put, snapshot

MIN_PART = 256 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, limits={"min_part_size": MIN_PART})


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(*parts: bytes) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


async def create(core: Core, ctx: RequestContext, bucket: str, key: str, **kw: Any) -> str:
    req = object_pb2.CreateMultipartUploadRequest(bucket=bucket, key=key, **kw)
    return (await core.create_multipart_upload(ctx, req)).upload_id


async def upload(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    data: bytes,
    **header: Any,
) -> object_pb2.UploadPartResponse:
    header.setdefault("content_length", len(data))
    h = object_pb2.UploadPartHeader(
        bucket=bucket, key=key, upload_id=upload_id, part_number=number, **header
    )
    return await core.upload_part(ctx, h, chunks_of(data))


async def complete(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    key: str,
    upload_id: str,
    parts: list[tuple[int, str]],
    **kw: Any,
) -> object_pb2.CompleteMultipartUploadResponse:
    req = object_pb2.CompleteMultipartUploadRequest(
        bucket=bucket,
        key=key,
        upload_id=upload_id,
        parts=[object_pb2.CompletedPart(part_number=n, etag=e) for n, e in parts],
        **kw,
    )
    return await core.complete_multipart_upload(ctx, req)


async def copy_part(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    src_key: str,
    first: int | None = None,
    last: int | None = None,
    **source: Any,
) -> object_pb2.UploadPartCopyResponse:
    req = object_pb2.UploadPartCopyRequest(
        bucket=bucket,
        key=key,
        upload_id=upload_id,
        part_number=number,
        source=object_pb2.CopySource(bucket=bucket, key=src_key, **source),
    )
    if first is not None:
        req.source_range.first = first
    if last is not None:
        req.source_range.last = last
    return await core.upload_part_copy(ctx, req)


# ---- round trip ----


async def test_round_trip_three_parts(core: Core, ctx: RequestContext, bucket: str) -> None:
    parts = [os.urandom(MIB + MIB // 2), os.urandom(MIB + 12345), os.urandom(300_001)]
    uid = await create(
        core, ctx, bucket, "big", headers=common_pb2.ContentHeaders(content_type="text/x")
    )
    etags = []
    for n, data in enumerate(parts, 1):
        resp = await upload(core, ctx, bucket, "big", uid, n, data)
        assert resp.etag == etag_of(data) and resp.size == len(data)
        etags.append(resp.etag)
    done = await complete(core, ctx, bucket, "big", uid, list(enumerate(etags, 1)))
    whole = b"".join(parts)
    assert done.etag == multipart_etag(*parts)
    assert done.size == len(whole)

    header, body = await get(core, ctx, bucket, "big")
    assert body == whole
    assert header.object.etag == done.etag
    assert header.object.parts_count == 3
    assert header.object.headers.content_type == "text/x"
    b1, b2 = len(parts[0]), len(parts[0]) + len(parts[1])
    ranges = [(0, 0), (b1 - 10, b1 + 10), (MIB - 1, MIB), (b2 - 1, b2), (5, len(whole) - 1)]
    ranges += [(b1 - 1, b2 + 1), (len(whole) - 3, len(whole) - 1)]
    for first, last in ranges:
        _, got = await get(
            core, ctx, bucket, "big", range=common_pb2.ByteRange(first=first, last=last)
        )
        assert got == whole[first : last + 1], (first, last)
    for n, data in enumerate(parts, 1):
        _, got = await get(core, ctx, bucket, "big", part_number=n)
        assert got == data

    # The upload is gone; a root over one segment holds the three parts' data records.
    with pytest.raises(NoSuchUpload):
        await upload(core, ctx, bucket, "big", uid, 4, b"x")
    kinds = sorted(str(r.WhichOneof("content")) for r in await data_records(core))
    assert kinds == ["children", "children", "chunks", "chunks", "chunks"]
    assert not await gc_entries(core)


async def test_reupload_replaces_part_and_old_chunks_are_collected(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data_dir = core.cc.settings.server.data_dir
    uid = await create(core, ctx, bucket, "k")
    old, new = os.urandom(MIB + 1), os.urandom(MIB // 2)
    await upload(core, ctx, bucket, "k", uid, 1, old)
    old_files = chunk_files(data_dir)
    assert len(old_files) == 2
    second = await upload(core, ctx, bucket, "k", uid, 1, new)
    assert len(chunk_files(data_dir)) == 3  # old chunks wait for the collector
    [entry] = await gc_entries(core)
    assert entry.reason == "part replaced"
    stats = await core.gc.run_once()
    assert (stats.entries, stats.chunks_deleted, stats.bytes_freed) == (1, 2, len(old))
    assert not chunk_files(data_dir) & old_files
    done = await complete(core, ctx, bucket, "k", uid, [(1, second.etag)])
    assert done.etag == multipart_etag(new)
    assert (await get(core, ctx, bucket, "k"))[1] == new


async def test_single_part_may_be_small_and_empty(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    uid = await create(core, ctx, bucket, "tiny")
    p = await upload(core, ctx, bucket, "tiny", uid, 1, b"")
    done = await complete(core, ctx, bucket, "tiny", uid, [(1, p.etag)])
    assert done.size == 0 and done.etag == multipart_etag(b"")
    assert (await get(core, ctx, bucket, "tiny"))[1] == b""


async def test_versioned_complete_returns_version(
    core: Core, ctx: RequestContext, versioned: str
) -> None:
    uid = await create(core, ctx, versioned, "v")
    p = await upload(core, ctx, versioned, "v", uid, 1, b"abc")
    done = await complete(core, ctx, versioned, "v", uid, [(1, p.etag)])
    assert done.version_id and done.version_id != "null"


# ---- refusals change nothing ----


@pytest.fixture
async def three_parts(core: Core, ctx: RequestContext, bucket: str) -> tuple[str, list[str]]:
    """An upload of "k" with parts 1 (big), 2 (small) and 3 (big)."""
    uid = await create(core, ctx, bucket, "k")
    sizes = [MIN_PART, MIN_PART - 1, MIN_PART]
    etags = [
        (await upload(core, ctx, bucket, "k", uid, n, os.urandom(s))).etag
        for n, s in enumerate(sizes, 1)
    ]
    return uid, etags


@pytest.mark.parametrize(
    ("parts", "error"),
    [
        ([(2, 1), (1, 0)], InvalidPartOrder),
        ([(1, 0), (3, 2), (1, 0)], InvalidPartOrder),
        ([(1, 0), (1, 1)], InvalidPart),  # a number listed twice: its last entry names it
        ([(1, 0), (4, 0)], InvalidPart),
        ([(1, 1)], InvalidPart),
        ([(2, 1), (3, 2)], EntityTooSmall),
        ([], MalformedXML),
    ],
    ids=[
        "out-of-order",
        "repeated-apart",
        "repeated-wrong-etag",
        "missing",
        "wrong-etag",
        "too-small",
        "empty",
    ],
)
async def test_bad_complete_changes_nothing(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    three_parts: tuple[str, list[str]],
    parts: list[tuple[int, int]],
    error: type[LightningStorError],
) -> None:
    uid, etags = three_parts
    before = await snapshot(core)
    with pytest.raises(error):
        await complete(core, ctx, bucket, "k", uid, [(n, etags[i]) for n, i in parts])
    assert await snapshot(core) == before
    # The upload is intact: a correct complete still works.
    done = await complete(core, ctx, bucket, "k", uid, [(1, etags[0]), (3, etags[2])])
    assert done.size == 2 * MIN_PART


async def test_unknown_upload_is_no_such_upload_everywhere(
    core: Core, ctx: RequestContext, bucket: str, three_parts: tuple[str, list[str]]
) -> None:
    uid, etags = three_parts
    before = await snapshot(core)
    for bad in ("0" * 32, "not-an-id", uid.upper(), ""):
        with pytest.raises(NoSuchUpload):
            await complete(core, ctx, bucket, "k", bad, [(1, etags[0])])
        with pytest.raises(NoSuchUpload):
            await upload(core, ctx, bucket, "k", bad, 1, b"data")
        with pytest.raises(NoSuchUpload):
            await core.abort_multipart_upload(
                ctx, object_pb2.AbortMultipartUploadRequest(bucket=bucket, key="k", upload_id=bad)
            )
    with pytest.raises(NoSuchUpload):  # the right id under another key
        await complete(core, ctx, bucket, "other", uid, [(1, etags[0])])
    assert await snapshot(core) == before


@pytest.mark.parametrize("number", [0, -1, 10001])
async def test_part_number_out_of_range(
    core: Core, ctx: RequestContext, bucket: str, number: int
) -> None:
    uid = await create(core, ctx, bucket, "k")
    before = await snapshot(core)
    with pytest.raises(InvalidArgument, match="Part number"):
        await upload(core, ctx, bucket, "k", uid, number, b"data")
    assert await snapshot(core) == before


async def test_bad_digests_leave_nothing(core: Core, ctx: RequestContext, bucket: str) -> None:
    uid = await create(core, ctx, bucket, "k")
    data = os.urandom(MIB + 7)
    before = await snapshot(core)
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(BadDigest):
        await upload(core, ctx, bucket, "k", uid, 1, data, content_md5=wrong_md5)
    wrong_crc = base64.b64encode((zlib.crc32(data) ^ 1).to_bytes(4, "big")).decode()
    with pytest.raises(BadDigest):
        await upload(
            core,
            ctx,
            bucket,
            "k",
            uid,
            1,
            data,
            expected_checksums=common_pb2.Checksums(crc32=wrong_crc),
        )
    assert await snapshot(core) == before
    good_md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    assert (await upload(core, ctx, bucket, "k", uid, 1, data, content_md5=good_md5)).size == len(
        data
    )


async def test_complete_conditions(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "k", b"existing")
    uid = await create(core, ctx, bucket, "k")
    p = await upload(core, ctx, bucket, "k", uid, 1, b"new")
    before = await snapshot(core)
    with pytest.raises(PreconditionFailed):
        await complete(
            core,
            ctx,
            bucket,
            "k",
            uid,
            [(1, p.etag)],
            conditions=common_pb2.Conditions(if_none_match="*"),
        )
    with pytest.raises(PreconditionFailed):
        await complete(
            core,
            ctx,
            bucket,
            "k",
            uid,
            [(1, p.etag)],
            conditions=common_pb2.Conditions(if_match='"0123"'),
        )
    assert await snapshot(core) == before
    await complete(
        core,
        ctx,
        bucket,
        "k",
        uid,
        [(1, p.etag)],
        conditions=common_pb2.Conditions(if_match=etag_of(b"existing")),
    )
    assert (await get(core, ctx, bucket, "k"))[1] == b"new"


# ---- races, abort ----


async def test_concurrent_completes_exactly_one_wins(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data_dir = core.cc.settings.server.data_dir
    for i in range(8):
        key = f"race-{i}"
        uid = await create(core, ctx, bucket, key)
        a = await upload(core, ctx, bucket, key, uid, 1, os.urandom(MIN_PART))
        b = await upload(core, ctx, bucket, key, uid, 2, os.urandom(1000))
        results = await asyncio.gather(
            complete(core, ctx, bucket, key, uid, [(1, a.etag), (2, b.etag)]),
            complete(core, ctx, bucket, key, uid, [(1, a.etag)]),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, object_pb2.CompleteMultipartUploadResponse)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], NoSuchUpload)
        _, body = await get(core, ctx, bucket, key)
        assert len(body) == won[0].size
    # Every reference is accounted for: deleting everything frees every chunk.
    for i in range(8):
        await core.delete_object(
            ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=f"race-{i}")
        )
    await core.gc.run_once()
    assert not chunk_files(data_dir)
    assert not await data_records(core) and not await gc_entries(core)


async def test_complete_racing_abort_exactly_one_wins(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data_dir = core.cc.settings.server.data_dir

    async def late_complete(key: str, uid: str, etag: str, delay: float) -> Any:
        await asyncio.sleep(delay)
        return await complete(core, ctx, bucket, key, uid, [(1, etag)])

    async def late_abort(key: str, uid: str, delay: float) -> None:
        await asyncio.sleep(delay)
        req = object_pb2.AbortMultipartUploadRequest(bucket=bucket, key=key, upload_id=uid)
        await core.abort_multipart_upload(ctx, req)

    for i in range(16):
        key, data = f"k{i}", os.urandom(3000)
        uid = await create(core, ctx, bucket, key)
        p1 = await upload(core, ctx, bucket, key, uid, 1, data)
        skew = (i - 8) * 0.0003  # which one starts first, and by how much
        results = await asyncio.gather(
            late_complete(key, uid, p1.etag, max(0.0, -skew)),
            late_abort(key, uid, max(0.0, skew)),
            return_exceptions=True,
        )
        assert sum(isinstance(r, NoSuchUpload) for r in results) == 1, results
        await core.gc.run_once()
        if isinstance(results[0], object_pb2.CompleteMultipartUploadResponse):
            assert (await get(core, ctx, bucket, key))[1] == data
            await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=key))
    await core.gc.run_once()
    assert not chunk_files(data_dir)
    assert not await data_records(core) and not await gc_entries(core)


async def test_part_upload_racing_complete_is_never_lost(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """A part committed while a complete runs either makes the complete retry or fails; the
    complete succeeds either way with exactly the parts it listed."""
    data_dir = core.cc.settings.server.data_dir

    async def late_complete(
        key: str, uid: str, etag: str, delay: float
    ) -> object_pb2.CompleteMultipartUploadResponse:
        await asyncio.sleep(delay)  # skews the racers' start: the window is swept, not awaited
        return await complete(core, ctx, bucket, key, uid, [(1, etag)])

    outcomes = {"part landed": 0, "part refused": 0}
    for i in range(200):  # until each outcome has happened a few times: both are checked
        if min(outcomes.values()) >= 3:
            break
        key = f"k{i}"
        uid = await create(core, ctx, bucket, key)
        first = os.urandom(1000)
        p1 = await upload(core, ctx, bucket, key, uid, 1, first)
        done, part = await asyncio.gather(
            late_complete(key, uid, p1.etag, (i % 16) * 0.0005),
            upload(core, ctx, bucket, key, uid, 2, os.urandom(2000)),
            return_exceptions=True,
        )
        assert isinstance(done, object_pb2.CompleteMultipartUploadResponse), done
        assert (await get(core, ctx, bucket, key))[1] == first  # only the listed part
        if isinstance(part, BaseException):
            assert isinstance(part, NoSuchUpload), part  # too late: the upload was completed
            outcomes["part refused"] += 1
        else:
            outcomes["part landed"] += 1
        await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=key))
    assert min(outcomes.values()) >= 3, outcomes
    # Neither outcome leaks: the unlisted part 2 and the deleted objects free every chunk.
    await core.gc.run_once()
    assert not chunk_files(data_dir)
    assert not await data_records(core)


async def test_parallel_part_uploads_all_land(core: Core, ctx: RequestContext, bucket: str) -> None:
    """Part commits all rewrite the upload record; concurrent ones retry, none is lost."""
    uid = await create(core, ctx, bucket, "par")
    parts = [os.urandom(MIN_PART + n) for n in range(24)]
    resps = await asyncio.gather(
        *(upload(core, ctx, bucket, "par", uid, n, d) for n, d in enumerate(parts, 1))
    )
    done = await complete(
        core, ctx, bucket, "par", uid, [(n, r.etag) for n, r in enumerate(resps, 1)]
    )
    assert done.etag == multipart_etag(*parts)
    assert (await get(core, ctx, bucket, "par"))[1] == b"".join(parts)


async def test_abort_reclaims_every_chunk(core: Core, ctx: RequestContext, bucket: str) -> None:
    data_dir = core.cc.settings.server.data_dir
    uid = await create(core, ctx, bucket, "k")
    for n in (1, 2, 3):
        await upload(core, ctx, bucket, "k", uid, n, os.urandom(MIB + n))
    assert len(chunk_files(data_dir)) == 6
    abort = object_pb2.AbortMultipartUploadRequest(bucket=bucket, key="k", upload_id=uid)
    await core.abort_multipart_upload(ctx, abort)
    with pytest.raises(NoSuchUpload):
        await core.abort_multipart_upload(ctx, abort)
    with pytest.raises(NoSuchUpload):
        await upload(core, ctx, bucket, "k", uid, 4, b"late")
    stats = await core.gc.run_once()
    assert stats.chunks_deleted == 6 and stats.references_released == 3
    assert not chunk_files(data_dir)
    assert not await data_records(core) and not await gc_entries(core)
    metadata_left = (await core.cc.store.range(core.cc.keys.root)).kvs
    usage = core.cc.keys.usage_prefix()
    left = [kv.key for kv in metadata_left if not kv.key.startswith(usage)]
    assert left == [core.cc.keys.bucket(ctx.principal.scope, bucket)]
    # The parts counted while they were stored, and not after.
    await core.usage_folder.run_once()
    scope = ctx.principal.scope
    report = await read_usage(core.cc.store, core.cc.keys, scope.org_id, project=scope.project_id)
    assert report.total.bytes_stored == 0


# ---- upload part copy ----


async def test_upload_part_copy_shares_data(core: Core, ctx: RequestContext, bucket: str) -> None:
    data_dir = core.cc.settings.server.data_dir
    src = os.urandom(2 * MIB + 5000)
    src_etag = (await put(core, ctx, bucket, "src", src)).etag
    uid = await create(core, ctx, bucket, "dst")
    files = chunk_files(data_dir)
    whole = await copy_part(core, ctx, bucket, "dst", uid, 1, "src")
    assert whole.etag == src_etag
    first, last = 100, MIB + 200_000
    ranged = await copy_part(core, ctx, bucket, "dst", uid, 2, "src", first, last)
    assert ranged.etag == etag_of(src[first : last + 1])
    assert chunk_files(data_dir) == files  # nothing copied
    tail = os.urandom(10)
    p3 = await upload(core, ctx, bucket, "dst", uid, 3, tail)
    done = await complete(
        core, ctx, bucket, "dst", uid, [(1, whole.etag), (2, ranged.etag), (3, p3.etag)]
    )
    expected = src + src[first : last + 1] + tail
    assert (await get(core, ctx, bucket, "dst"))[1] == expected
    assert done.etag == multipart_etag(src, src[first : last + 1], tail)
    _, got = await get(
        core, ctx, bucket, "dst", range=common_pb2.ByteRange(first=len(src) - 3, last=len(src) + 3)
    )
    assert got == expected[len(src) - 3 : len(src) + 4]

    # The source can go; the copy holds its content. Then everything can go.
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="src"))
    await core.gc.run_once()
    assert (await get(core, ctx, bucket, "dst"))[1] == expected
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="dst"))
    await core.gc.run_once()
    assert not chunk_files(data_dir)
    assert not await data_records(core)


async def test_upload_part_copy_of_multipart_source(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    a, b = os.urandom(MIN_PART), os.urandom(5000)
    uid = await create(core, ctx, bucket, "mp")
    pa = await upload(core, ctx, bucket, "mp", uid, 1, a)
    pb = await upload(core, ctx, bucket, "mp", uid, 2, b)
    await complete(core, ctx, bucket, "mp", uid, [(1, pa.etag), (2, pb.etag)])
    uid2 = await create(core, ctx, bucket, "again")
    whole = await copy_part(core, ctx, bucket, "again", uid2, 1, "mp")
    assert whole.etag == etag_of(a + b)  # a real MD5, read (not copied) from the source
    await complete(core, ctx, bucket, "again", uid2, [(1, whole.etag)])
    assert (await get(core, ctx, bucket, "again"))[1] == a + b


async def test_upload_part_copy_refusals(core: Core, ctx: RequestContext, bucket: str) -> None:
    src = os.urandom(1000)
    await put(core, ctx, bucket, "src", src)
    uid = await create(core, ctx, bucket, "dst")
    before = await snapshot(core)
    with pytest.raises(InvalidRange):
        await copy_part(core, ctx, bucket, "dst", uid, 1, "src", 0, 1000)
    with pytest.raises(InvalidRange):
        await copy_part(core, ctx, bucket, "dst", uid, 1, "src", 10, 5)
    with pytest.raises(InvalidArgument):
        await copy_part(core, ctx, bucket, "dst", uid, 1, "src", first=10)
    with pytest.raises(NoSuchKey):
        await copy_part(core, ctx, bucket, "dst", uid, 1, "missing")
    with pytest.raises(PreconditionFailed):
        await copy_part(
            core,
            ctx,
            bucket,
            "dst",
            uid,
            1,
            "src",
            conditions=common_pb2.Conditions(if_match='"nope"'),
        )
    with pytest.raises(PreconditionFailed):
        await copy_part(
            core,
            ctx,
            bucket,
            "dst",
            uid,
            1,
            "src",
            conditions=common_pb2.Conditions(if_none_match=etag_of(src)),
        )
    with pytest.raises(NoSuchUpload):
        await copy_part(core, ctx, bucket, "dst", "f" * 32, 1, "src")
    with pytest.raises(InvalidArgument):
        await copy_part(core, ctx, bucket, "dst", uid, 0, "src")
    assert await snapshot(core) == before
    ok = await copy_part(
        core,
        ctx,
        bucket,
        "dst",
        uid,
        1,
        "src",
        0,
        999,
        conditions=common_pb2.Conditions(if_match=etag_of(src)),
    )
    assert ok.etag == etag_of(src)


# ---- checksums ----


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize(
    "kind", [common_pb2.CHECKSUM_TYPE_COMPOSITE, common_pb2.CHECKSUM_TYPE_FULL_OBJECT]
)
async def test_multipart_checksums(
    core: Core, ctx: RequestContext, bucket: str, kind: common_pb2.ChecksumType.ValueType
) -> None:
    parts = [os.urandom(MIN_PART), os.urandom(MIN_PART + 3), os.urandom(17)]
    uid = await create(
        core,
        ctx,
        bucket,
        "sum",
        checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32,
        checksum_type=kind,
    )
    done_parts = []
    for n, data in enumerate(parts, 1):
        resp = await upload(core, ctx, bucket, "sum", uid, n, data)
        assert resp.checksums.crc32 == crc32_b64(data)
        done_parts.append((n, resp.etag))
    done = await complete(core, ctx, bucket, "sum", uid, done_parts)
    if kind == common_pb2.CHECKSUM_TYPE_FULL_OBJECT:
        assert done.checksums.crc32 == crc32_b64(b"".join(parts))
    else:
        digests = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
        assert done.checksums.crc32 == f"{crc32_b64(digests)}-3"
    assert done.checksums.type == kind


async def test_complete_verifies_expected_checksum(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data = os.urandom(1000)
    uid = await create(
        core,
        ctx,
        bucket,
        "sum",
        checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32,
        checksum_type=common_pb2.CHECKSUM_TYPE_FULL_OBJECT,
    )
    p = await upload(core, ctx, bucket, "sum", uid, 1, data)
    before = await snapshot(core)
    with pytest.raises(BadDigest):
        await complete(
            core,
            ctx,
            bucket,
            "sum",
            uid,
            [(1, p.etag)],
            expected_checksums=common_pb2.Checksums(crc32=crc32_b64(data + b"x")),
        )
    assert await snapshot(core) == before
    done = await complete(
        core,
        ctx,
        bucket,
        "sum",
        uid,
        [(1, p.etag)],
        expected_checksums=common_pb2.Checksums(crc32=crc32_b64(data)),
    )
    assert done.checksums.crc32 == crc32_b64(data)


# ---- listings ----


async def test_list_uploads_order_markers_and_delimiter(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    ids: dict[str, list[str]] = {}
    for key in ["b", "a/1", "a/2", "c", "b"]:
        ids.setdefault(key, []).append(await create(core, ctx, bucket, key))
    req = object_pb2.ListMultipartUploadsRequest(bucket=bucket)
    resp = await core.list_multipart_uploads(ctx, req)
    listed = [(u.key, u.upload_id) for u in resp.uploads]
    expected = [(k, u) for k in sorted(ids) for u in ids[k]]  # by key, then initiation
    assert listed == expected and not resp.is_truncated

    paged: list[tuple[str, str]] = []
    req = object_pb2.ListMultipartUploadsRequest(bucket=bucket, max_uploads=2)
    while True:
        page = await core.list_multipart_uploads(ctx, req)
        paged += [(u.key, u.upload_id) for u in page.uploads]
        if not page.is_truncated:
            break
        req.key_marker, req.upload_id_marker = page.next_key_marker, page.next_upload_id_marker
    assert paged == expected

    req = object_pb2.ListMultipartUploadsRequest(bucket=bucket, delimiter="/")
    resp = await core.list_multipart_uploads(ctx, req)
    assert list(resp.common_prefixes) == ["a/"]
    assert [u.key for u in resp.uploads] == ["b", "b", "c"]
    req = object_pb2.ListMultipartUploadsRequest(bucket=bucket, delimiter="/", max_uploads=1)
    page = await core.list_multipart_uploads(ctx, req)
    assert list(page.common_prefixes) == ["a/"] and page.is_truncated
    req.key_marker = page.next_key_marker
    page = await core.list_multipart_uploads(ctx, req)
    assert [u.key for u in page.uploads] == ["b"] and not page.common_prefixes

    req = object_pb2.ListMultipartUploadsRequest(bucket=bucket, prefix="a/")
    assert [u.key for u in (await core.list_multipart_uploads(ctx, req)).uploads] == ["a/1", "a/2"]
    req = object_pb2.ListMultipartUploadsRequest(bucket=bucket, key_marker="b")
    assert [u.key for u in (await core.list_multipart_uploads(ctx, req)).uploads] == ["c"]


async def test_list_parts_paginates(core: Core, ctx: RequestContext, bucket: str) -> None:
    uid = await create(core, ctx, bucket, "k", storage_class="STANDARD_IA")
    for n in (1, 2, 3, 5, 8):
        await upload(core, ctx, bucket, "k", uid, n, b"x" * n)
    req = object_pb2.ListPartsRequest(bucket=bucket, key="k", upload_id=uid, max_parts=2)
    seen: list[tuple[int, int]] = []
    while True:
        page = await core.list_parts(ctx, req)
        assert page.upload.upload_id == uid and page.upload.storage_class == "STANDARD_IA"
        seen += [(p.part_number, p.size) for p in page.parts]
        if not page.is_truncated:
            break
        req.part_number_marker = page.next_part_number_marker
    assert seen == [(n, n) for n in (1, 2, 3, 5, 8)]
    with pytest.raises(NoSuchUpload):
        await core.list_parts(
            ctx, object_pb2.ListPartsRequest(bucket=bucket, key="j", upload_id=uid)
        )


async def test_upload_record_layout(core: Core, ctx: RequestContext, bucket: str) -> None:
    uid = await create(core, ctx, bucket, "a/b", user_metadata={"m": "v"})
    key = core.cc.keys.upload(ctx.principal.scope, bucket, "a/b", uid)
    kv = await core.cc.store.get(key)
    assert kv is not None
    rec = records_pb2.UploadRecord.FromString(kv.value)
    bucket_kv = await core.cc.store.get(core.cc.keys.bucket(ctx.principal.scope, bucket))
    assert bucket_kv is not None
    assert rec.bucket_id == records_pb2.BucketRecord.FromString(bucket_kv.value).bucket_id
    assert rec.key == "a/b" and dict(rec.user_metadata) == {"m": "v"}
