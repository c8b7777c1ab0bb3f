"""Garbage collection: the journal, concurrent collectors, orphan chunks, expired uploads, the
background loop, and the race of deletes and collection against copies."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from lightningstor.v1 import object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.gc import SPANS_PER_TXN, GarbageCollector
from lightningstor_storage import new_chunk_id
from lightningstor_types.config import Settings
from lightningstor_types.errors import NoSuchKey, NoSuchUpload
from lightningstor_types.service import RequestContext
from tests.wait import alet_time_pass, await_until

from .conftest import MIB, make_settings
from .helpers import chunk_files, chunks_of, data_records, etag_of, gc_entries, get, put

MIN_PART = 64 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path, limits={"min_part_size": MIN_PART}, storage={"gc_interval_seconds": 0.02}
    )


async def delete(core: Core, ctx: RequestContext, bucket: str, key: str) -> None:
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=key))


async def multipart(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    key: str,
    parts: list[bytes | str],
) -> object_pb2.CompleteMultipartUploadResponse:
    """Complete an upload of ``parts``: bytes are uploaded, a str is copied from that key."""
    uid = (
        await core.create_multipart_upload(
            ctx, object_pb2.CreateMultipartUploadRequest(bucket=bucket, key=key)
        )
    ).upload_id
    done = []
    for n, part in enumerate(parts, 1):
        if isinstance(part, str):
            resp: Any = await core.upload_part_copy(
                ctx,
                object_pb2.UploadPartCopyRequest(
                    bucket=bucket,
                    key=key,
                    upload_id=uid,
                    part_number=n,
                    source=object_pb2.CopySource(bucket=bucket, key=part),
                ),
            )
        else:
            header = object_pb2.UploadPartHeader(
                bucket=bucket, key=key, upload_id=uid, part_number=n, content_length=len(part)
            )
            resp = await core.upload_part(ctx, header, chunks_of(part))
        done.append(object_pb2.CompletedPart(part_number=n, etag=resp.etag))
    return await core.complete_multipart_upload(
        ctx,
        object_pb2.CompleteMultipartUploadRequest(
            bucket=bucket, key=key, upload_id=uid, parts=done
        ),
    )


async def assert_empty(core: Core) -> None:
    """Nothing left: no chunk file, no data record, no journal entry."""
    assert not chunk_files(core.cc.settings.server.data_dir)
    assert not await data_records(core)
    assert not await gc_entries(core)


# ---- the journal ----


async def test_run_once_deletes_released_chunks(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data = os.urandom(2 * MIB + 1)
    await put(core, ctx, bucket, "k", data)
    assert (await core.gc.run_once()).entries == 0
    await delete(core, ctx, bucket, "k")
    [entry] = await gc_entries(core)
    assert entry.data.WhichOneof("content") == "chunks" and entry.reason == "version deleted"
    stats = await core.gc.run_once()
    assert (stats.entries, stats.chunks_deleted, stats.bytes_freed) == (1, 3, len(data))
    await assert_empty(core)


async def test_children_released_in_batches(core: Core, ctx: RequestContext, bucket: str) -> None:
    parts: list[bytes | str] = [os.urandom(MIN_PART) for _ in range(SPANS_PER_TXN * 2 + 3)]
    await multipart(core, ctx, bucket, "mp", parts)
    await delete(core, ctx, bucket, "mp")
    stats = await core.gc.run_once()
    assert stats.references_released == 1 + len(parts)  # the segment, then each part
    assert stats.entries == 2 + len(parts)  # the object's root, its segment, each part's
    assert stats.chunks_deleted == len(parts)
    await assert_empty(core)


async def test_two_collectors_never_release_twice(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """Parts copied from one source each hold a reference on its data; two collectors taking
    the multipart object apart at once must drop exactly those references, so the source
    stays readable (a double release would free its chunks)."""
    src = os.urandom(MIN_PART + 10)
    await put(core, ctx, bucket, "src", src)
    for i in range(3):
        await multipart(core, ctx, bucket, f"mp{i}", ["src"] * (SPANS_PER_TXN + 5))
    for i in range(3):
        await delete(core, ctx, bucket, f"mp{i}")
    other = GarbageCollector(core.cc)
    await asyncio.gather(core.gc.run_once(), other.run_once(), core.gc.run_once())
    await core.gc.run_once()
    [rec] = await data_records(core)
    assert rec.refcount == 1
    assert (await get(core, ctx, bucket, "src"))[1] == src
    await delete(core, ctx, bucket, "src")
    await core.gc.run_once()
    await assert_empty(core)


# ---- orphan chunks ----


def age_all_chunks(data_dir: Path, seconds: float) -> None:
    """Make every chunk file look ``seconds`` old."""
    then = time.time() - seconds
    for path in (data_dir / "chunks").rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


async def test_orphan_sweep_respects_grace_and_references(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data_dir = core.cc.settings.server.data_dir
    data = os.urandom(MIB + 5)
    await put(core, ctx, bucket, "kept", data)
    await put(core, ctx, bucket, "released", b"journal only" * 400)  # a chunk, not inline
    await delete(core, ctx, bucket, "released")  # named by a journal entry, not yet collected
    req = object_pb2.CreateMultipartUploadRequest(bucket=bucket, key="open")
    uid = (await core.create_multipart_upload(ctx, req)).upload_id
    header = object_pb2.UploadPartHeader(
        bucket=bucket, key="open", upload_id=uid, part_number=1, content_length=4
    )
    await core.upload_part(ctx, header, chunks_of(b"part"))  # an upload still in progress
    orphan = new_chunk_id()
    await core.cc.storage.put_chunk(orphan, b"written, never committed")
    age_all_chunks(data_dir, 7200)

    assert await core.gc.sweep_orphans(3 * 3600) == 0  # younger than the grace: kept
    assert await core.gc.sweep_orphans(3600) == 1  # only the orphan goes
    assert not any(p.name == orphan for p in (data_dir / "chunks").rglob("*"))
    assert (await get(core, ctx, bucket, "kept"))[1] == data
    assert (await core.gc.run_once()).chunks_deleted == 1  # the journaled one, by the journal
    await delete(core, ctx, bucket, "kept")
    abort = object_pb2.AbortMultipartUploadRequest(bucket=bucket, key="open", upload_id=uid)
    await core.abort_multipart_upload(ctx, abort)
    await core.gc.run_once()
    await assert_empty(core)


async def test_fresh_orphans_wait_for_the_grace(core: Core) -> None:
    orphan = new_chunk_id()
    await core.cc.storage.put_chunk(orphan, b"in flight")
    assert await core.gc.sweep_orphans(60) == 0
    assert await core.cc.storage.exists(orphan)


# ---- expired uploads ----


async def test_expire_uploads(core: Core, ctx: RequestContext, bucket: str) -> None:
    req = object_pb2.CreateMultipartUploadRequest(bucket=bucket, key="stale")
    uid = (await core.create_multipart_upload(ctx, req)).upload_id
    header = object_pb2.UploadPartHeader(
        bucket=bucket, key="stale", upload_id=uid, part_number=1, content_length=MIB + 1
    )
    await core.upload_part(ctx, header, chunks_of(os.urandom(MIB + 1)))
    assert await core.gc.expire_uploads(3600) == 0
    await alet_time_pass(0.01, "the upload becomes older than the 5 ms limit")
    assert await core.gc.expire_uploads(0.005) == 1
    listed = await core.list_multipart_uploads(
        ctx, object_pb2.ListMultipartUploadsRequest(bucket=bucket)
    )
    assert not listed.uploads
    with pytest.raises(NoSuchUpload):
        await core.complete_multipart_upload(
            ctx,
            object_pb2.CompleteMultipartUploadRequest(
                bucket=bucket,
                key="stale",
                upload_id=uid,
                parts=[object_pb2.CompletedPart(part_number=1, etag="x")],
            ),
        )
    await core.gc.run_once()
    await assert_empty(core)


# ---- the background loop ----


async def test_background_loop_collects(core: Core, ctx: RequestContext, bucket: str) -> None:
    data_dir = core.cc.settings.server.data_dir
    await put(core, ctx, bucket, "k", os.urandom(MIB))
    assert chunk_files(data_dir), "the object wrote no chunk: there would be nothing to collect"
    await delete(core, ctx, bucket, "k")
    assert await gc_entries(core), "the delete journaled nothing for the loop to collect"
    core.gc.start()
    try:

        async def collected() -> bool:
            return not chunk_files(data_dir) and not await gc_entries(core)

        await await_until(collected, message="the background loop to collect the chunk")
    finally:
        await core.gc.stop()
    await core.gc.stop()  # idempotent


# ---- the race ----


async def _race_round(core: Core, ctx: RequestContext, bucket: str, i: int, src: bytes) -> None:
    await put(core, ctx, bucket, "src", src)

    async def copy() -> None:
        await core.copy_object(
            ctx,
            object_pb2.CopyObjectRequest(
                bucket=bucket,
                key=f"copy-{i}",
                source=object_pb2.CopySource(bucket=bucket, key="src"),
            ),
        )

    async def part_copy() -> None:
        await multipart(core, ctx, bucket, f"mp-{i}", ["src", b"tail"])

    async def delete_src() -> None:
        await asyncio.sleep(0.0005 * (i % 5))
        await delete(core, ctx, bucket, "src")

    async def collect() -> None:
        for _ in range(4):
            await core.gc.run_once()
            await asyncio.sleep(0)

    results = await asyncio.gather(
        copy(), part_copy(), delete_src(), collect(), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, NoSuchKey):
            raise result


async def test_race_delete_and_collect_while_copying(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """Deletes of the source and collection run while the source is copied (CopyObject, and
    UploadPartCopy then complete): whatever exists afterwards reads back byte-identical (no
    referenced chunk was deleted), and once everything is deleted nothing is left."""
    src = os.urandom(MIB + MIB // 3)
    rounds = 24
    for i in range(rounds):
        await _race_round(core, ctx, bucket, i, src)
    await core.gc.run_once()
    survivors = 0
    for i in range(rounds):
        for key, expected in ((f"copy-{i}", src), (f"mp-{i}", src + b"tail")):
            try:
                header, body = await get(core, ctx, bucket, key)
            except NoSuchKey:
                continue
            survivors += 1
            assert body == expected, key
            if key.startswith("copy"):
                assert header.object.etag == etag_of(src)
    assert survivors > 0
    listed = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket))
    for obj in listed.objects:
        await delete(core, ctx, bucket, obj.key)
    uploads = await core.list_multipart_uploads(
        ctx, object_pb2.ListMultipartUploadsRequest(bucket=bucket)
    )
    for u in uploads.uploads:  # uploads whose part copy lost the race
        await core.abort_multipart_upload(
            ctx,
            object_pb2.AbortMultipartUploadRequest(bucket=bucket, key=u.key, upload_id=u.upload_id),
        )
    await core.gc.run_once()
    await assert_empty(core)
