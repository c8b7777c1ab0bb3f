"""Objects read through the data-record tree: every read path with the record bounds lowered,
so a few MiB exercise what 10,000 parts or 5,120 chunks do at the real bounds (those run on
etcd in tests/metadata/test_etcd_large_objects.py)."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import google_crc32c
import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.content import DataCache, RecordBounds
from lightningstor_storage import ChunkNotFound
from lightningstor_types.config import Settings
from lightningstor_types.service import RequestContext

from .conftest import MIB, make_settings
from .helpers import chunk_files, data_records, gc_entries, get, put
from .test_multipart import complete, copy_part, create, upload


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, limits={"min_part_size": 1})


@pytest.fixture
def small_bounds(core: Core) -> RecordBounds:
    core.cc.bounds = RecordBounds(inline_slices=2, segment_chunks=2, segment_parts=2)
    return core.cc.bounds


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


async def stored(
    core: Core, ctx: RequestContext, bucket: str, key: str
) -> records_pb2.ObjectRecord:
    kv = await core.cc.store.get(core.cc.keys.object(ctx.principal.scope, bucket, key))
    assert kv is not None
    return records_pb2.ObjectRecord.FromString(kv.value)


async def test_every_read_of_tree_objects(
    core: Core, ctx: RequestContext, bucket: str, small_bounds: RecordBounds
) -> None:
    # A PUT of 6 chunks: a root over three segments of two chunks, no inline manifest.
    big = os.urandom(5 * MIB + 3)
    await put(core, ctx, bucket, "big", big)
    rec = await stored(core, ctx, bucket, "big")
    assert not rec.manifest and rec.data_id
    _, got = await get(core, ctx, bucket, "big")
    assert got == big
    for first, last in [
        (0, 0),
        (2 * MIB - 1, 2 * MIB),
        (MIB + 7, 4 * MIB + 9),
        (5 * MIB, 5 * MIB + 2),
    ]:
        _, got = await get(
            core, ctx, bucket, "big", range=common_pb2.ByteRange(first=first, last=last)
        )
        assert got == big[first : last + 1], (first, last)

    # Five parts: a tree part of its own (3 chunks), two small ones, a copy of a range of "big"
    # that crosses its segment boundary, and an empty last part; CRC32C per part.
    uid = await create(
        core, ctx, bucket, "mp", checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32C
    )
    bodies = [
        os.urandom(2 * MIB + 1),
        b"second",
        b"third part",
        big[2 * MIB - 5 : 2 * MIB + 5],
        b"",
    ]
    etags = []
    for n, body in enumerate(bodies, 1):
        if n == 4:
            done = await copy_part(core, ctx, bucket, "mp", uid, n, "big", 2 * MIB - 5, 2 * MIB + 4)
            etags.append(done.etag)
        else:
            etags.append((await upload(core, ctx, bucket, "mp", uid, n, body)).etag)
    await complete(core, ctx, bucket, "mp", uid, list(enumerate(etags, 1)))
    whole = b"".join(bodies)
    rec = await stored(core, ctx, bucket, "mp")
    assert rec.part_count == 5 and not rec.parts and not rec.manifest

    head = await core.head_object(ctx, object_pb2.HeadObjectRequest(bucket=bucket, key="mp"))
    assert head.header.object.parts_count == 5
    _, got = await get(core, ctx, bucket, "mp")
    assert got == whole
    edges = [len(b"".join(bodies[:i])) for i in range(1, 5)]
    for edge in edges:
        first, last = max(0, edge - 3), min(len(whole) - 1, edge + 2)
        _, got = await get(
            core, ctx, bucket, "mp", range=common_pb2.ByteRange(first=first, last=last)
        )
        assert got == whole[first : last + 1], edge
    for n, body in enumerate(bodies, 1):
        header, got = await get(core, ctx, bucket, "mp", part_number=n, checksum_mode=True)
        assert got == body, n
        assert header.object.parts_count == 5
        assert header.object.checksums.crc32c == crc32c_b64(body), n

    # A copy asking for a new checksum reads every byte through the tree; an UploadPartCopy of
    # a multipart object's range too.
    copied = await core.copy_object(
        ctx,
        object_pb2.CopyObjectRequest(
            bucket=bucket,
            key="copy",
            source=object_pb2.CopySource(bucket=bucket, key="mp"),
            checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_SHA256,
        ),
    )
    assert copied.checksums.sha256 == base64.b64encode(hashlib.sha256(whole).digest()).decode()
    uid2 = await create(core, ctx, bucket, "mp2")
    first, last = 2 * MIB - 2, len(whole) - 3
    done = await copy_part(core, ctx, bucket, "mp2", uid2, 1, "mp", first, last)
    assert done.etag == f'"{hashlib.md5(whole[first : last + 1]).hexdigest()}"'
    await complete(core, ctx, bucket, "mp2", uid2, [(1, done.etag)])

    # Deleting the sources leaves the copies whole; deleting everything leaves nothing.
    for key in ("big", "mp"):
        await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=key))
    await core.gc.run_once()
    _, got = await get(core, ctx, bucket, "copy", part_number=3)
    assert got == bodies[2]
    _, got = await get(core, ctx, bucket, "mp2")
    assert got == whole[first : last + 1]
    for key in ("copy", "mp2"):
        await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=key))
    await core.gc.run_once()
    assert not await data_records(core)
    assert not await gc_entries(core)
    assert not chunk_files(core.cc.settings.server.data_dir)


async def test_small_objects_keep_their_manifest_inline(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """At the real bounds a multi-chunk object still reads with its own record's manifest."""
    data = os.urandom(3 * MIB)
    await put(core, ctx, bucket, "k", data)
    rec = await stored(core, ctx, bucket, "k")
    assert len(rec.manifest) == 3
    uid = await create(core, ctx, bucket, "mp")
    e1 = (await upload(core, ctx, bucket, "mp", uid, 1, data)).etag
    e2 = (await upload(core, ctx, bucket, "mp", uid, 2, b"tail")).etag
    await complete(core, ctx, bucket, "mp", uid, [(1, e1), (2, e2)])
    rec = await stored(core, ctx, bucket, "mp")
    assert len(rec.manifest) == 4 and rec.part_count == 2


async def test_records_of_the_earlier_layout_still_read_and_collect(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """A multipart version written before the tree: its part list inline, its root spanning the
    parts directly. Rewritten here from a fresh complete, then read, copied and collected."""
    bodies = [os.urandom(MIB + 5), b"two", b"three!"]
    uid = await create(core, ctx, bucket, "old")
    etags = [
        (await upload(core, ctx, bucket, "old", uid, n, b)).etag for n, b in enumerate(bodies, 1)
    ]
    await complete(core, ctx, bucket, "old", uid, list(enumerate(etags, 1)))
    rec = await stored(core, ctx, bucket, "old")
    store, keys = core.cc.store, core.cc.keys
    root_kv = await store.get(keys.data(rec.data_id))
    assert root_kv is not None
    root = records_pb2.DataRecord.FromString(root_kv.value)
    (segment_span,) = root.children.spans
    seg_kv = await store.get(keys.data(segment_span.data_id))
    assert seg_kv is not None
    segment = records_pb2.DataRecord.FromString(seg_kv.value)
    root.children.CopyFrom(segment.children)  # the root holds the parts' references itself
    root.ClearField("parts_per_segment")
    await store.put(keys.data(rec.data_id), root.SerializeToString())
    await store.delete(keys.data(segment_span.data_id))
    rec.parts.extend(segment.parts)
    rec.ClearField("part_count")
    for key in (
        keys.object(ctx.principal.scope, bucket, "old"),
        keys.version(ctx.principal.scope, bucket, "old", rec.sort_id),
    ):
        await store.put(key, rec.SerializeToString())

    whole = b"".join(bodies)
    head = await core.head_object(ctx, object_pb2.HeadObjectRequest(bucket=bucket, key="old"))
    assert head.header.object.parts_count == 3
    for n, body in enumerate(bodies, 1):
        assert (await get(core, ctx, bucket, "old", part_number=n))[1] == body
    first, last = MIB, MIB + 8
    _, got = await get(core, ctx, bucket, "old", range=common_pb2.ByteRange(first=first, last=last))
    assert got == whole[first : last + 1]
    await core.copy_object(
        ctx,
        object_pb2.CopyObjectRequest(
            bucket=bucket, key="copy", source=object_pb2.CopySource(bucket=bucket, key="old")
        ),
    )
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="old"))
    await core.gc.run_once()
    assert (await get(core, ctx, bucket, "copy", part_number=3))[1] == bodies[2]
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="copy"))
    await core.gc.run_once()
    assert not await data_records(core)
    assert not chunk_files(core.cc.settings.server.data_dir)


async def test_the_data_cache_is_bounded_by_bytes_least_recently_used_out(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """Records stay cached while they fit the byte budget, the least recently used goes first,
    and a record larger than the whole budget is read but never cached."""
    for key, size in (("a", 3000), ("b", 3000), ("c", 3000), ("big", 4000)):
        await put(core, ctx, bucket, key, os.urandom(size))  # inline: one data record each
    records = await data_records(core)
    small = [r.data_id for r in records if r.size == 3000]
    (big,) = [r.data_id for r in records if r.size == 4000]
    encoded = {}
    for r in records:
        kv = await core.cc.store.get(core.cc.keys.data(r.data_id))
        assert kv is not None
        encoded[r.data_id] = len(kv.value)
    a, b, c = small
    lru = DataCache(core.cc.store, core.cc.keys, budget=encoded[a] + encoded[big])
    for data_id in (a, b, a, c):  # three do not fit; b is the least recently used
        await lru.load(data_id)
    tiny = DataCache(core.cc.store, core.cc.keys, budget=encoded[big] - 1)
    await tiny.load(big)

    for data_id in (a, b, c, big):  # gone from the store: only cached records still load
        await core.cc.store.delete(core.cc.keys.data(data_id))

    async def cached(cache: DataCache, data_id: str) -> bool:
        try:
            await cache.load(data_id)
        except ChunkNotFound:
            return False
        return True

    assert [await cached(lru, d) for d in (a, b, c)] == [True, False, True]
    assert not await cached(tiny, big)
