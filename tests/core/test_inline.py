"""Small objects kept in their data record (``storage.inline_max_bytes``), on the embedded store
and on etcd: no chunk file, and every reader, copy, release and check handles them."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.consistency import ConsistencyCheck
from lightningstor_types.errors import BadDigest, InvalidRange, PreconditionFailed
from lightningstor_types.service import RequestContext

from .conftest import make_settings
from .helpers import chunk_files, data_records, etag_of, gc_entries, get, put, snapshot
from .test_gc import delete, multipart
from .test_usage import figures, usage_of

LIMIT = 4096  # the default threshold
SIZES_INLINE = [1, LIMIT - 1, LIMIT]


async def open_core(tmp_path: Path, store: dict[str, object], **storage: object) -> Core:
    sections: dict[str, object] = dict(store)
    return await Core.open(
        make_settings(
            tmp_path,
            limits={"min_part_size": 1024},
            storage={"gc_interval_seconds": 3600, **storage},
            **sections,
        )
    )


@pytest.fixture
async def core(tmp_path: Path, store_settings: dict[str, object]) -> AsyncIterator[Core]:
    c = await open_core(tmp_path, store_settings)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def bucket(core: Core, ctx: RequestContext) -> str:
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="small"))
    return "small"


def chunks(core: Core) -> set[str]:
    return chunk_files(core.cc.settings.server.data_dir)


async def kinds(core: Core) -> list[str | None]:
    return sorted(str(r.WhichOneof("content")) for r in await data_records(core))


async def assert_nothing_left(core: Core, *, journaled: bool = False) -> None:
    """After a collection: no chunk, no data record, no journal entry. Releasing inline records
    journals nothing; a multipart object's records over them are ``journaled``."""
    assert bool(await gc_entries(core)) == journaled
    await core.gc.run_once()
    assert not chunks(core)
    assert not await data_records(core)
    assert not await gc_entries(core)


async def check_clean(core: Core) -> None:
    """Run the consistency check; it must find nothing."""
    check = ConsistencyCheck(core.cc, repair=False, grace_seconds=0)
    out = [resp async for resp in check.run()]
    assert [r for r in out if r.HasField("finding")] == []
    assert check.summary.consistent


# ---- round trips and where the bytes go ----


@pytest.mark.parametrize("size", [0, *SIZES_INLINE])
async def test_small_bodies_need_no_chunk(
    core: Core, ctx: RequestContext, bucket: str, size: int
) -> None:
    data = os.urandom(size)
    resp = await put(core, ctx, bucket, "k", data)
    assert resp.etag == etag_of(data) and resp.size == size
    header, body = await get(core, ctx, bucket, "k")
    assert body == data and header.content_length == size and header.object.etag == resp.etag
    assert not chunks(core)
    if size:
        (rec,) = await data_records(core)
        assert rec.WhichOneof("content") == "inline" and rec.inline == data
        assert rec.refcount == 1 and rec.size == size
    else:
        assert not await data_records(core)
    head = await core.head_object(ctx, object_pb2.HeadObjectRequest(bucket=bucket, key="k"))
    assert head.header.content_length == size and head.header.object.etag == resp.etag
    await check_clean(core)
    assert figures(await usage_of(core, ctx, bucket)) == (size, 1)


async def test_one_byte_over_the_threshold_is_chunked(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data = os.urandom(LIMIT + 1)
    await put(core, ctx, bucket, "k", data)
    assert len(chunks(core)) == 1
    assert await kinds(core) == ["chunks"]
    assert (await get(core, ctx, bucket, "k"))[1] == data
    await check_clean(core)


async def test_a_body_of_unknown_length_is_judged_by_what_arrives(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """No Content-Length: the bytes that arrive decide, in whatever pieces they come."""
    small, large = os.urandom(LIMIT), os.urandom(LIMIT + 1)

    async def pieces(data: bytes) -> AsyncIterator[bytes]:
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    for key, data in (("small", small), ("large", large)):
        header = object_pb2.PutObjectHeader(bucket=bucket, key=key)
        await core.put_object(ctx, header, pieces(data))
        assert (await get(core, ctx, bucket, key))[1] == data
    assert len(chunks(core)) == 1
    assert await kinds(core) == ["chunks", "inline"]


async def test_threshold_zero_chunks_everything(tmp_path: Path, ctx: RequestContext) -> None:
    core = await open_core(tmp_path, {}, inline_max_bytes=0)
    try:
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="bkt"))
        await put(core, ctx, "bkt", "one", b"x")
        await put(core, ctx, "bkt", "empty", b"")
        assert len(chunks(core)) == 1
        assert await kinds(core) == ["chunks"]
        assert (await get(core, ctx, "bkt", "one"))[1] == b"x"
    finally:
        await core.close()


async def test_a_raised_threshold_keeps_larger_bodies(tmp_path: Path, ctx: RequestContext) -> None:
    core = await open_core(tmp_path, {}, inline_max_bytes="64KiB")
    try:
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="bkt"))
        data = os.urandom(64 * 1024)
        await put(core, ctx, "bkt", "k", data)
        assert not chunks(core) and await kinds(core) == ["inline"]
        assert (await get(core, ctx, "bkt", "k"))[1] == data
    finally:
        await core.close()


# ---- reads ----


async def test_ranges_parts_and_checksums(core: Core, ctx: RequestContext, bucket: str) -> None:
    data = os.urandom(1000)
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    await put(
        core,
        ctx,
        bucket,
        "k",
        data,
        expected_checksums=common_pb2.Checksums(sha256=sha),
        checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32C,
    )
    for rng, want in [
        ({"first": 10, "last": 19}, data[10:20]),
        ({"first": 990, "last": 5000}, data[990:]),
        ({"first": 0}, data),
        ({"suffix_length": 7}, data[-7:]),
        ({"suffix_length": 5000}, data),
    ]:
        header, body = await get(core, ctx, bucket, "k", range=rng)
        assert body == want and header.is_partial and header.content_length == len(want)
    for bad in ({"first": 1000}, {"first": 5000, "last": 6000}, {"suffix_length": 0}):
        with pytest.raises(InvalidRange):
            await get(core, ctx, bucket, "k", range=bad)
    header, body = await get(core, ctx, bucket, "k", part_number=1, checksum_mode=True)
    assert body == data and header.object.checksums.sha256 == sha
    assert header.object.checksums.crc32c
    assert not chunks(core)


async def test_conditional_put_on_an_inline_object(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    first = await put(core, ctx, bucket, "k", b"one")
    before = await snapshot(core)
    with pytest.raises(PreconditionFailed):
        await put(core, ctx, bucket, "k", b"two", conditions=common_pb2.Conditions(if_match='"x"'))
    assert await snapshot(core) == before
    await put(core, ctx, bucket, "k", b"two", conditions=common_pb2.Conditions(if_match=first.etag))
    assert (await get(core, ctx, bucket, "k"))[1] == b"two"
    assert await kinds(core) == ["inline"]  # the replaced record went with its reference


# ---- bad input ----


async def test_bad_content_md5_stores_nothing(core: Core, ctx: RequestContext, bucket: str) -> None:
    before = await snapshot(core)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(BadDigest):
        await put(core, ctx, bucket, "k", b"small body", content_md5=wrong)
    bad_sum = common_pb2.Checksums(crc32c=base64.b64encode(b"\0\0\0\0").decode())
    with pytest.raises(BadDigest):
        await put(core, ctx, bucket, "k", b"small body", expected_checksums=bad_sum)
    assert await snapshot(core) == before


# ---- copies, versions, deletes ----


async def test_copy_shares_the_record_and_outlives_its_source(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data = os.urandom(2000)
    await put(core, ctx, bucket, "src", data)
    source = object_pb2.CopySource(bucket=bucket, key="src")
    copied = await core.copy_object(
        ctx, object_pb2.CopyObjectRequest(bucket=bucket, key="dst", source=source)
    )
    assert copied.etag == etag_of(data)
    (rec,) = await data_records(core)
    assert rec.refcount == 2
    with_crc = object_pb2.CopyObjectRequest(
        bucket=bucket,
        key="summed",
        source=source,
        checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32,
    )
    assert (await core.copy_object(ctx, with_crc)).checksums.crc32  # read from the record
    await delete(core, ctx, bucket, "src")
    assert (await get(core, ctx, bucket, "dst"))[1] == data
    assert (await get(core, ctx, bucket, "summed", range={"first": 5, "last": 9}))[1] == data[5:10]
    assert figures(await usage_of(core, ctx, bucket)) == (4000, 2)
    await delete(core, ctx, bucket, "dst")
    await delete(core, ctx, bucket, "summed")
    await assert_nothing_left(core)
    assert figures(await usage_of(core, ctx, bucket)) == (0, 0)


async def test_overwrite_releases_the_inline_record(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await put(core, ctx, bucket, "k", b"first")
    await put(core, ctx, bucket, "k", os.urandom(LIMIT + 1))  # chunked now
    await put(core, ctx, bucket, "k", b"third")  # inline again: the chunk goes to the journal
    assert await kinds(core) == ["inline"]
    assert (await core.gc.run_once()).chunks_deleted == 1
    assert not chunks(core)
    await delete(core, ctx, bucket, "k")
    await assert_nothing_left(core)


async def test_versions_of_an_inline_object(core: Core, ctx: RequestContext) -> None:
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="ver"))
    enabled = bucket_pb2.VERSIONING_STATUS_ENABLED
    await core.put_bucket_versioning(
        ctx, bucket_pb2.PutBucketVersioningRequest(name="ver", status=enabled)
    )
    v1 = (await put(core, ctx, "ver", "k", b"one")).version_id
    v2 = (await put(core, ctx, "ver", "k", b"two")).version_id
    await delete(core, ctx, "ver", "k")  # a delete marker: both versions stay
    assert (await get(core, ctx, "ver", "k", version_id=v1))[1] == b"one"
    assert (await get(core, ctx, "ver", "k", version_id=v2))[1] == b"two"
    assert await kinds(core) == ["inline", "inline"] and not chunks(core)
    for version in (v1, v2):
        req = object_pb2.DeleteObjectRequest(bucket="ver", key="k", version_id=version)
        await core.delete_object(ctx, req)
    await assert_nothing_left(core)


async def test_part_copies_of_an_inline_source(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """A part copied (whole, or a range) from an inline object is a slice of its record; the
    completed object reads through the slices, and outlives the source."""
    data = os.urandom(3000)
    await put(core, ctx, bucket, "src", data)
    uid = (
        await core.create_multipart_upload(
            ctx, object_pb2.CreateMultipartUploadRequest(bucket=bucket, key="mp")
        )
    ).upload_id
    source = object_pb2.CopySource(bucket=bucket, key="src")
    etags = []
    for n, rng in enumerate([{"first": 100, "last": 1199}, {}], 1):
        req = object_pb2.UploadPartCopyRequest(
            bucket=bucket,
            key="mp",
            upload_id=uid,
            part_number=n,
            source=source,
            source_range=common_pb2.ByteRange(**rng),
        )
        etags.append((await core.upload_part_copy(ctx, req)).etag)
    assert etags[0] == etag_of(data[100:1200]) and etags[1] == etag_of(data)
    done = [object_pb2.CompletedPart(part_number=n, etag=e) for n, e in enumerate(etags, 1)]
    await core.complete_multipart_upload(
        ctx,
        object_pb2.CompleteMultipartUploadRequest(
            bucket=bucket, key="mp", upload_id=uid, parts=done
        ),
    )
    whole = data[100:1200] + data
    await delete(core, ctx, bucket, "src")
    assert (await get(core, ctx, bucket, "mp"))[1] == whole
    _, body = await get(core, ctx, bucket, "mp", range={"first": 1000, "last": 1299})
    assert body == whole[1000:1300]
    assert (await get(core, ctx, bucket, "mp", part_number=2))[1] == data
    assert not chunks(core)
    await check_clean(core)
    await delete(core, ctx, bucket, "mp")
    await assert_nothing_left(core, journaled=True)


async def test_multipart_parts_are_never_inline(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    parts: list[bytes | str] = [os.urandom(1024), b"tail"]
    await multipart(core, ctx, bucket, "mp", parts)
    assert len(chunks(core)) == 2
    assert "inline" not in await kinds(core)
    assert (await get(core, ctx, bucket, "mp"))[1] == b"".join(
        p for p in parts if isinstance(p, bytes)
    )
