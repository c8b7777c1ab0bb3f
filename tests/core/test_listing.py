"""ListObjects: byte order, prefixes and delimiters, tokens and markers, page sizes, and a cost
proportional to the page rather than to the bucket."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.ids import NULL_VERSION, new_sort_id
from lightningstor_api.core.versions import now_timestamp
from lightningstor_api.metadata import MetadataStore, Put
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.service import RequestContext

from .helpers import put

EMPTY_ETAG = f'"{hashlib.md5(b"").hexdigest()}"'
UNUSUAL = [
    "a",
    "a/b",
    "a b",
    "a/b/c",
    "a0",
    "a.",
    "é",
    "日本/語",
    "z\u00a0",
    "~",
    "A",
    "a/",
    "a//b",
]


async def seed(core: Core, ctx: RequestContext, bucket: str, keys: Iterable[str]) -> None:
    """Current 0-byte objects, written as commit_version writes them, many per transaction
    (thousands of puts one by one would only make the test slow)."""
    scope, k = ctx.principal.scope, core.cc.keys
    ops: list[Put] = []
    for key in keys:
        rec = records_pb2.ObjectRecord(
            key=key, version_id=NULL_VERSION, sort_id=new_sort_id(), etag=EMPTY_ETAG
        )
        rec.last_modified.CopyFrom(now_timestamp())
        value = rec.SerializeToString()
        ops += [
            Put(k.object(scope, bucket, key), value),
            Put(k.version(scope, bucket, key, rec.sort_id), value),
        ]
        if len(ops) >= 1000:
            await core.cc.store.txn([], ops)
            ops = []
    if ops:
        await core.cc.store.txn([], ops)


def byte_order(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode())


async def list_all(
    core: Core, ctx: RequestContext, bucket: str, **req: Any
) -> tuple[list[str], list[str], int]:
    """Every key and common prefix, following continuation tokens; and the number of pages."""
    keys: list[str] = []
    prefixes: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await core.list_objects(
            ctx, object_pb2.ListObjectsRequest(bucket=bucket, continuation_token=token, **req)
        )
        pages += 1
        keys += [o.key for o in page.objects]
        prefixes += list(page.common_prefixes)
        assert page.key_count == len(page.objects) + len(page.common_prefixes)
        if not page.is_truncated:
            assert not page.next_continuation_token
            return keys, prefixes, pages
        token = page.next_continuation_token


@pytest.fixture
async def many(core: Core, ctx: RequestContext, bucket: str) -> list[str]:
    """2 500 keys: nested directories, unicode, spaces, and keys that prefix one another."""
    keys = [f"dir{d}/sub{s}/file {f}.txt" for d in range(5) for s in range(20) for f in range(24)]
    keys += [f"top-{i:03d}" for i in range(87)] + UNUSUAL
    assert len(keys) == 2500
    await seed(core, ctx, bucket, keys)
    return keys


async def test_every_key_once_in_byte_order(
    core: Core, ctx: RequestContext, bucket: str, many: list[str]
) -> None:
    keys, prefixes, pages = await list_all(core, ctx, bucket, max_keys=333)
    assert keys == byte_order(many)
    assert prefixes == []
    assert pages == 8


async def test_delimiter_pages(
    core: Core, ctx: RequestContext, bucket: str, many: list[str]
) -> None:
    keys, prefixes, _ = await list_all(core, ctx, bucket, delimiter="/", max_keys=7)
    assert prefixes == byte_order({"a/", "日本/"} | {f"dir{d}/" for d in range(5)})
    assert keys == byte_order(k for k in many if "/" not in k)
    # Inside a prefix: the next level rolls up, `a/` itself is a key of prefix `a/`.
    keys, prefixes, _ = await list_all(core, ctx, bucket, prefix="a/", delimiter="/", max_keys=1)
    assert keys == ["a/", "a/b"]
    assert prefixes == ["a//", "a/b/"]
    keys, prefixes, _ = await list_all(core, ctx, bucket, prefix="dir3/sub1", delimiter="/")
    assert keys == [] and prefixes == byte_order(f"dir3/sub{s}/" for s in (1, *range(10, 20)))
    keys, _, _ = await list_all(core, ctx, bucket, prefix="dir3/sub1/", delimiter="/", max_keys=5)
    assert keys == byte_order(f"dir3/sub1/file {f}.txt" for f in range(24))


async def test_multi_character_delimiter(core: Core, ctx: RequestContext, bucket: str) -> None:
    await seed(core, ctx, bucket, ["x--1--a", "x--1--b", "x--2", "x-3", "y"])
    keys, prefixes, _ = await list_all(core, ctx, bucket, delimiter="--", max_keys=1)
    assert prefixes == ["x--"]
    assert keys == ["x-3", "y"]


async def test_start_after_and_v1_markers(
    core: Core, ctx: RequestContext, bucket: str, many: list[str]
) -> None:
    ordered = byte_order(many)
    page = await core.list_objects(
        ctx, object_pb2.ListObjectsRequest(bucket=bucket, start_after=ordered[99], max_keys=10)
    )
    assert [o.key for o in page.objects] == ordered[100:110]
    # v1: NextMarker fed back as the marker, including when it is a common prefix.
    keys: list[str] = []
    prefixes: list[str] = []
    marker = ""
    while True:
        page = await core.list_objects(
            ctx,
            object_pb2.ListObjectsRequest(
                bucket=bucket, start_after=marker, delimiter="/", max_keys=3
            ),
        )
        keys += [o.key for o in page.objects]
        prefixes += list(page.common_prefixes)
        if not page.is_truncated:
            break
        marker = page.next_marker
    assert len(prefixes) == 7 and len(keys) == len(set(keys))
    assert keys == byte_order(k for k in many if "/" not in k)


async def test_page_sizes(core: Core, ctx: RequestContext, bucket: str, many: list[str]) -> None:
    default = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket))
    assert len(default.objects) == 1000 and default.is_truncated
    clamped = await core.list_objects(
        ctx, object_pb2.ListObjectsRequest(bucket=bucket, max_keys=5000)
    )
    assert len(clamped.objects) == core.cc.settings.limits.max_keys
    one = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket, max_keys=1))
    assert len(one.objects) == 1 and one.next_marker == one.objects[0].key
    with pytest.raises(InvalidArgument):
        await core.list_objects(
            ctx, object_pb2.ListObjectsRequest(bucket=bucket, continuation_token="%%%")
        )


async def test_exact_page_is_not_truncated(core: Core, ctx: RequestContext, bucket: str) -> None:
    await seed(core, ctx, bucket, ["a", "b", "c"])
    page = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket, max_keys=3))
    assert [o.key for o in page.objects] == ["a", "b", "c"] and not page.is_truncated
    empty = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket, prefix="q"))
    assert list(empty.objects) == [] and empty.key_count == 0 and not empty.is_truncated


async def test_listed_objects_are_real(core: Core, ctx: RequestContext, bucket: str) -> None:
    resp = await put(core, ctx, bucket, "real", b"12345")
    page = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket))
    (info,) = page.objects
    assert (info.key, info.etag, info.size) == ("real", resp.etag, 5)
    assert info.last_modified == resp.last_modified
    assert not info.owner.id
    owned = await core.list_objects(
        ctx, object_pb2.ListObjectsRequest(bucket=bucket, fetch_owner=True)
    )
    assert owned.objects[0].owner.id == "arn:aws:iam::acme:user/web/tester"


class CountingStore:
    """The real store, counting range calls and the rows they return (instrumentation)."""

    def __init__(self, inner: MetadataStore) -> None:
        self.inner = inner
        self.calls = 0
        self.rows = 0

    async def range(self, prefix: bytes, **kw: Any) -> Any:
        result = await self.inner.range(prefix, **kw)
        self.calls += 1
        self.rows += len(result.kvs)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_cost_is_proportional_to_the_page(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    keys = [f"big/{i:05d}" for i in range(5000)] + [f"k{i}" for i in range(20)] + ["a1", "b/1"]
    await seed(core, ctx, bucket, keys)
    counting = CountingStore(core.cc.store)
    core.cc.store = counting  # type: ignore[assignment]
    page = await core.list_objects(
        ctx, object_pb2.ListObjectsRequest(bucket=bucket, delimiter="/", max_keys=10)
    )
    assert [*page.common_prefixes] == ["b/", "big/"]
    assert [o.key for o in page.objects] == ["a1", *byte_order(f"k{i}" for i in range(20))[:7]]
    assert counting.rows <= 40, counting.rows  # O(page), not the 5 000 keys under big/
    # Versions listing skips the big prefix the same way.
    counting.rows = 0
    versions = await core.list_object_versions(
        ctx, object_pb2.ListObjectVersionsRequest(bucket=bucket, delimiter="/", max_keys=10)
    )
    assert [*versions.common_prefixes] == ["b/", "big/"]
    assert counting.rows <= 40, counting.rows
    # A page of 10 keys inside the big prefix reads about 10 rows too.
    counting.rows = 0
    inside = await core.list_objects(
        ctx,
        object_pb2.ListObjectsRequest(
            bucket=bucket, prefix="big/", start_after="big/02500", max_keys=10
        ),
    )
    assert [o.key for o in inside.objects] == [f"big/{i:05d}" for i in range(2501, 2511)]
    assert counting.rows <= 11
