"""The bucket cache: reads are served from it, another server's change is seen within a bounded
time (watch), and a stale entry never lets a write through (compare, evict, re-read)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.bucket_cache import BucketCache
from lightningstor_api.metadata import EmbeddedStore, KeyValue
from lightningstor_types.errors import NoSuchBucket
from lightningstor_types.service import RequestContext
from tests.core.conftest import make_settings
from tests.core.helpers import chunks_of
from tests.wait import await_until


class CountingStore:
    """A real store that counts point reads."""

    def __init__(self, inner: EmbeddedStore) -> None:
        self.inner = inner
        self.gets = 0

    async def get(self, key: bytes) -> KeyValue | None:
        self.gets += 1
        return await self.inner.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def two_cores(tmp_path: Path) -> AsyncIterator[tuple[Core, Core]]:
    """Two cores over one metadata file and one chunk directory: two servers, in one process."""
    a = await Core.open(make_settings(tmp_path))
    b = await Core.open(make_settings(tmp_path))
    for c in (a, b):
        await c.start_background()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_repeated_lookups_read_the_store_once(tmp_path: Path) -> None:
    store = await EmbeddedStore.open(tmp_path / "m.db")
    counting = CountingStore(store)
    cache = BucketCache(counting, b"lightningstor/buckets/")  # type: ignore[arg-type]
    cache.start()
    try:
        await store.put(b"lightningstor/buckets/o/_/b", b"v1")
        for _ in range(5):
            kv = await cache.get(b"lightningstor/buckets/o/_/b")
            assert kv is not None and kv.value == b"v1"
        assert counting.gets == 1
        await store.put(b"lightningstor/buckets/o/_/b", b"v2")  # the watch evicts it

        async def evicted() -> bool:
            kv = await cache.get(b"lightningstor/buckets/o/_/b")
            assert kv is not None
            return kv.value == b"v2"

        await await_until(evicted, message="the watch to evict the cached v1")
    finally:
        await cache.stop()
        await store.close()


async def test_a_change_on_one_server_is_seen_by_the_other(
    two_cores: tuple[Core, Core], ctx: RequestContext
) -> None:
    a, b = two_cores
    await a.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="shared"))
    head = await b.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name="shared"))  # now cached
    assert head.bucket.versioning == bucket_pb2.VERSIONING_STATUS_UNVERSIONED
    await a.put_bucket_versioning(
        ctx,
        bucket_pb2.PutBucketVersioningRequest(
            name="shared", status=bucket_pb2.VERSIONING_STATUS_ENABLED
        ),
    )

    async def seen() -> bool:
        head = await b.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name="shared"))
        return head.bucket.versioning == bucket_pb2.VERSIONING_STATUS_ENABLED

    await await_until(seen, message="the other core's cache to see versioning enabled")


async def test_a_write_through_a_stale_entry_never_lands(
    two_cores: tuple[Core, Core], ctx: RequestContext
) -> None:
    a, b = two_cores
    for round_ in range(10):
        name = f"gone-{round_}"
        await a.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=name))
        await b.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name=name))  # b caches it
        await a.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=name))
        # At once, before b's watch can have seen the delete: the put must still fail.
        header = object_pb2.PutObjectHeader(bucket=name, key="k")
        with pytest.raises(NoSuchBucket):
            await b.put_object(ctx, header, chunks_of(b"data"))
        objects = await b.cc.store.range(b.cc.keys.objects_prefix(ctx.principal.scope, name))
        assert not objects.kvs


async def test_a_server_reads_its_own_bucket_writes_at_once(
    two_cores: tuple[Core, Core], ctx: RequestContext
) -> None:
    a, _ = two_cores
    await a.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="mine"))
    for i in range(30):
        await a.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name="mine"))  # cached
        tags = [common_pb2.Tag(key="round", value=str(i))]
        await a.put_bucket_tagging(ctx, bucket_pb2.PutBucketTaggingRequest(name="mine", tags=tags))
        got = await a.get_bucket_tagging(ctx, bucket_pb2.GetBucketTaggingRequest(name="mine"))
        assert list(got.tags) == tags
