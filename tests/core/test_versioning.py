"""Versioning: versions by id, delete markers, promotion on delete, null versions in suspended
buckets, and ListObjectVersions order and markers."""

from __future__ import annotations

from typing import Any

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_types.errors import (
    InvalidArgument,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchVersion,
)
from lightningstor_types.service import RequestContext

from .helpers import data_records, gc_entries, get, put

SUSPENDED = bucket_pb2.VERSIONING_STATUS_SUSPENDED
ENABLED = bucket_pb2.VERSIONING_STATUS_ENABLED


async def delete(
    core: Core, ctx: RequestContext, bucket: str, key: str, version_id: str = ""
) -> object_pb2.DeleteObjectResponse:
    return await core.delete_object(
        ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=key, version_id=version_id)
    )


async def versions(
    core: Core, ctx: RequestContext, bucket: str, **req: Any
) -> object_pb2.ListObjectVersionsResponse:
    return await core.list_object_versions(
        ctx, object_pb2.ListObjectVersionsRequest(bucket=bucket, **req)
    )


async def set_versioning(core: Core, ctx: RequestContext, bucket: str, status: int) -> None:
    await core.put_bucket_versioning(
        ctx,
        bucket_pb2.PutBucketVersioningRequest(name=bucket, status=status),  # type: ignore[arg-type]
    )


async def test_versions_by_id_and_delete_markers(
    core: Core, ctx: RequestContext, versioned: str
) -> None:
    ids = [(await put(core, ctx, versioned, "doc", f"v{i}".encode())).version_id for i in range(3)]
    assert len(set(ids)) == 3 and all(ids)
    for i, vid in enumerate(ids):
        header, got = await get(core, ctx, versioned, "doc", version_id=vid)
        assert got == f"v{i}".encode()
        assert header.object.version_id == vid
        assert header.object.is_latest == (i == 2)
    assert (await get(core, ctx, versioned, "doc"))[1] == b"v2"

    marker = await delete(core, ctx, versioned, "doc")
    assert marker.delete_marker and marker.version_id not in ids
    with pytest.raises(NoSuchKey):
        await get(core, ctx, versioned, "doc")
    assert (await get(core, ctx, versioned, "doc", version_id=ids[1]))[1] == b"v1"
    with pytest.raises(MethodNotAllowed):
        await get(core, ctx, versioned, "doc", version_id=marker.version_id)
    with pytest.raises(MethodNotAllowed):
        await core.head_object(
            ctx,
            object_pb2.HeadObjectRequest(bucket=versioned, key="doc", version_id=marker.version_id),
        )
    listed = await versions(core, ctx, versioned)
    assert [(v.version_id, v.is_delete_marker, v.is_latest) for v in listed.versions] == [
        (marker.version_id, True, True),
        (ids[2], False, False),
        (ids[1], False, False),
        (ids[0], False, False),
    ]
    assert (
        list(
            (await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=versioned))).objects
        )
        == []
    )

    # Removing the marker by id brings the newest version back.
    removed = await delete(core, ctx, versioned, "doc", marker.version_id)
    assert removed.delete_marker and removed.version_id == marker.version_id
    assert (await get(core, ctx, versioned, "doc"))[1] == b"v2"


async def test_deleting_the_newest_version_promotes_the_previous(
    core: Core, ctx: RequestContext, versioned: str
) -> None:
    ids = [(await put(core, ctx, versioned, "k", f"v{i}".encode())).version_id for i in range(3)]
    resp = await delete(core, ctx, versioned, "k", ids[2])
    assert (resp.version_id, resp.delete_marker) == (ids[2], False)
    assert (await get(core, ctx, versioned, "k"))[1] == b"v1"
    with pytest.raises(NoSuchVersion):
        await get(core, ctx, versioned, "k", version_id=ids[2])
    # An older version goes without touching the current one.
    await delete(core, ctx, versioned, "k", ids[0])
    assert (await get(core, ctx, versioned, "k"))[1] == b"v1"
    assert [v.version_id for v in (await versions(core, ctx, versioned)).versions] == [ids[1]]
    assert len(await data_records(core)) == 1
    assert await gc_entries(core) == []  # inline records go with their last reference
    # A version that is no longer there: deleting it again succeeds, as in S3.
    await delete(core, ctx, versioned, "k", ids[0])
    await delete(core, ctx, versioned, "k", ids[1])
    with pytest.raises(NoSuchKey):
        await get(core, ctx, versioned, "k")


async def test_null_versions_in_a_suspended_bucket(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await put(core, ctx, bucket, "k", b"before versioning")  # the null version
    await set_versioning(core, ctx, bucket, ENABLED)
    kept = (await put(core, ctx, bucket, "k", b"versioned")).version_id
    await set_versioning(core, ctx, bucket, SUSPENDED)
    first = await put(core, ctx, bucket, "k", b"null one")
    second = await put(core, ctx, bucket, "k", b"null two")
    assert first.version_id == second.version_id == "null"
    assert (await get(core, ctx, bucket, "k", version_id="null"))[1] == b"null two"
    listed = await versions(core, ctx, bucket)
    assert [v.version_id for v in listed.versions] == ["null", kept]
    assert len(await data_records(core)) == 2  # the replaced null versions were released
    assert await gc_entries(core) == []  # (inline: with nothing left to collect)

    marker = await delete(core, ctx, bucket, "k")
    assert (marker.version_id, marker.delete_marker) == ("null", True)
    listed = await versions(core, ctx, bucket)
    assert [(v.version_id, v.is_delete_marker) for v in listed.versions] == [
        ("null", True),
        (kept, False),
    ]
    assert (await get(core, ctx, bucket, "k", version_id=kept))[1] == b"versioned"
    with pytest.raises(NoSuchKey):
        await get(core, ctx, bucket, "k")


async def test_unversioned_bucket_lists_null_versions(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    resp = await put(core, ctx, bucket, "k", b"x")
    assert resp.version_id == ""
    (v,) = (await versions(core, ctx, bucket)).versions
    assert (v.version_id, v.is_latest, v.etag) == ("null", True, resp.etag)
    assert (await get(core, ctx, bucket, "k", version_id="null"))[1] == b"x"


async def test_list_versions_order_and_markers(
    core: Core, ctx: RequestContext, versioned: str
) -> None:
    expected: list[tuple[str, str]] = []
    for key in ("b", "a", "c/1", "c/2"):
        ids = [(await put(core, ctx, versioned, key, b"x")).version_id for _ in range(3)]
        expected += [(key, vid) for vid in reversed(ids)]
    marker = (await delete(core, ctx, versioned, "a")).version_id
    expected.insert(0, ("a", marker))
    expected.sort(key=lambda kv: kv[0].encode())  # stable: newest first within a key

    full = await versions(core, ctx, versioned)
    assert [(v.key, v.version_id) for v in full.versions] == expected
    latest = [v.key for v in full.versions if v.is_latest]
    assert latest == ["a", "b", "c/1", "c/2"]
    assert not full.is_truncated

    # Pages of two, resuming from key and version-id markers, give the same list.
    paged: list[tuple[str, str, bool]] = []
    key_marker = version_marker = ""
    while True:
        page = await versions(
            core,
            ctx,
            versioned,
            max_keys=2,
            key_marker=key_marker,
            version_id_marker=version_marker,
        )
        paged += [(v.key, v.version_id, v.is_latest) for v in page.versions]
        if not page.is_truncated:
            break
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
    assert paged == [(v.key, v.version_id, v.is_latest) for v in full.versions]

    # A key marker alone starts after every version of that key.
    after_a = await versions(core, ctx, versioned, key_marker="a")
    assert after_a.versions[0].key == "b"
    # Delimiters roll keys into common prefixes here too.
    rolled = await versions(core, ctx, versioned, delimiter="/")
    assert [*rolled.common_prefixes] == ["c/"]
    assert {v.key for v in rolled.versions} == {"a", "b"}
    with pytest.raises(InvalidArgument):
        await versions(core, ctx, versioned, version_id_marker=marker)
    with pytest.raises(InvalidArgument):
        await versions(core, ctx, versioned, key_marker="a", version_id_marker="bogus")


async def test_tagging_a_version(core: Core, ctx: RequestContext, versioned: str) -> None:
    old = (await put(core, ctx, versioned, "t", b"1")).version_id
    await put(core, ctx, versioned, "t", b"2")
    tags = [common_pb2.Tag(key="state", value="archived")]
    resp = await core.put_object_tagging(
        ctx,
        object_pb2.PutObjectTaggingRequest(bucket=versioned, key="t", version_id=old, tags=tags),
    )
    assert resp.version_id == old
    got = await core.get_object_tagging(
        ctx, object_pb2.GetObjectTaggingRequest(bucket=versioned, key="t", version_id=old)
    )
    assert list(got.tags) == tags
    current = await core.get_object_tagging(
        ctx, object_pb2.GetObjectTaggingRequest(bucket=versioned, key="t")
    )
    assert list(current.tags) == []
    marker = (await delete(core, ctx, versioned, "t")).version_id
    with pytest.raises(MethodNotAllowed):
        await core.put_object_tagging(
            ctx,
            object_pb2.PutObjectTaggingRequest(
                bucket=versioned, key="t", version_id=marker, tags=tags
            ),
        )
