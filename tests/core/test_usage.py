"""Usage counters (exact with the data, on the embedded store and on etcd) and quotas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2, usage_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.usage import UsageReport, read_usage
from lightningstor_api.core.usage_admin import set_quota
from lightningstor_api.telemetry import scan_gauges
from lightningstor_types.errors import QuotaExceeded
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext
from tests.core.conftest import make_settings
from tests.core.helpers import chunk_files, put, snapshot
from tests.core.test_multipart import complete, create, upload

SMALL_PARTS = {"min_part_size": 1024}


@pytest.fixture
async def any_core(tmp_path: Path, store_settings: dict[str, object]) -> AsyncIterator[Core]:
    c = await Core.open(make_settings(tmp_path, limits=SMALL_PARTS, **store_settings))
    try:
        yield c
    finally:
        await c.close()


async def usage_of(core: Core, ctx: RequestContext, bucket: str | None = None) -> UsageReport:
    scope = ctx.principal.scope
    return await read_usage(
        core.cc.store, core.cc.keys, scope.org_id, project=scope.project_id, bucket=bucket
    )


def figures(report: UsageReport) -> tuple[int, int]:
    return report.total.bytes_stored, report.total.object_count


async def deltas(core: Core) -> int:
    page = await core.cc.store.range(core.cc.keys.usage_prefix())
    return sum(1 for kv in page.kvs if b"/+" in kv.key)


async def make_bucket(core: Core, ctx: RequestContext, name: str, versioned: bool = False) -> None:
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=name))
    if versioned:
        status = bucket_pb2.VERSIONING_STATUS_ENABLED
        req = bucket_pb2.PutBucketVersioningRequest(name=name, status=status)
        await core.put_bucket_versioning(ctx, req)


async def delete(core: Core, ctx: RequestContext, bucket: str, key: str, version: str = "") -> None:
    req = object_pb2.DeleteObjectRequest(bucket=bucket, key=key, version_id=version)
    await core.delete_object(ctx, req)


async def test_usage_follows_every_kind_of_write(any_core: Core, ctx: RequestContext) -> None:
    core = any_core
    await make_bucket(core, ctx, "plain")
    await put(core, ctx, "plain", "a", b"x" * 100)
    assert figures(await usage_of(core, ctx, "plain")) == (100, 1)
    await put(core, ctx, "plain", "a", b"x" * 40)  # overwrite: Δbytes = new - old, Δobjects 0
    assert figures(await usage_of(core, ctx, "plain")) == (40, 1)
    await put(core, ctx, "plain", "b", b"y" * 10)
    copy = object_pb2.CopyObjectRequest(
        bucket="plain", key="c", source=object_pb2.CopySource(bucket="plain", key="b")
    )
    await core.copy_object(ctx, copy)  # a copy counts in full, as S3 bills it
    assert figures(await usage_of(core, ctx, "plain")) == (60, 3)
    await delete(core, ctx, "plain", "a")
    assert figures(await usage_of(core, ctx, "plain")) == (20, 2)

    await make_bucket(core, ctx, "ver", versioned=True)
    first = await put(core, ctx, "ver", "k", b"v" * 30)
    await put(core, ctx, "ver", "k", b"w" * 50)
    assert figures(await usage_of(core, ctx, "ver")) == (80, 2)  # every version counts
    await delete(core, ctx, "ver", "k")  # a delete marker counts for nothing
    assert figures(await usage_of(core, ctx, "ver")) == (80, 2)
    await delete(core, ctx, "ver", "k", first.version_id)
    assert figures(await usage_of(core, ctx, "ver")) == (50, 1)

    uid = await create(core, ctx, "ver", "mp")
    p1 = await upload(core, ctx, "ver", "mp", uid, 1, b"p" * 2000)
    p2 = await upload(core, ctx, "ver", "mp", uid, 2, b"q" * 500)
    await upload(core, ctx, "ver", "mp", uid, 3, b"r" * 300)  # left out of the complete
    assert figures(await usage_of(core, ctx, "ver")) == (50 + 2800, 1)  # parts count as bytes
    await complete(core, ctx, "ver", "mp", uid, [(1, p1.etag), (2, p2.etag)])
    assert figures(await usage_of(core, ctx, "ver")) == (2550, 2)
    gone = await create(core, ctx, "ver", "gone")
    await upload(core, ctx, "ver", "gone", gone, 1, b"z" * 700)
    abort = object_pb2.AbortMultipartUploadRequest(bucket="ver", key="gone", upload_id=gone)
    await core.abort_multipart_upload(ctx, abort)

    before = await usage_of(core, ctx)
    assert figures(before) == (20 + 2550, 4)
    assert await deltas(core) > 0
    assert await core.usage_folder.run_once() > 0
    assert await deltas(core) == 0
    after = await usage_of(core, ctx)
    assert after.total == before.total
    assert after.buckets == before.buckets
    assert figures(await usage_of(core, ctx, "plain")) == (20, 2)


async def test_concurrent_writes_and_folds_keep_exact_totals(
    any_core: Core, ctx: RequestContext
) -> None:
    core = any_core
    await make_bucket(core, ctx, "busy", versioned=True)

    async def writer(n: int) -> None:
        for i in range(6):
            await put(core, ctx, "busy", f"k{n}-{i}", b"a" * (n + 1))

    async def folder() -> None:
        for _ in range(10):
            await core.usage_folder.run_once()
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(n) for n in range(8)), folder(), folder())
    await core.usage_folder.run_once()
    expected = sum(6 * (n + 1) for n in range(8))
    assert figures(await usage_of(core, ctx, "busy")) == (expected, 48)
    assert await deltas(core) == 0


async def quota(core: Core, ctx: RequestContext, bucket: str = "", **limits: int) -> None:
    scope = ctx.principal.scope
    req = usage_pb2.SetQuotaRequest(
        scope=common_pb2.Scope(org_id=scope.org_id, project_id=scope.project_id or ""),
        bucket=bucket,
        quota=usage_pb2.Quota(**limits),
    )
    await set_quota(core.cc, ctx, req)


@pytest.fixture
async def small_core(tmp_path: Path) -> AsyncIterator[Core]:
    c = await Core.open(make_settings(tmp_path, limits=SMALL_PARTS))
    try:
        yield c
    finally:
        await c.close()


async def test_max_object_size_refuses_and_leaves_nothing(
    small_core: Core, ctx: RequestContext
) -> None:
    core = small_core
    await make_bucket(core, ctx, "bkt")
    await quota(core, ctx, "bkt", max_object_size=10)
    await put(core, ctx, "bkt", "ok", b"1234567890")
    before = await snapshot(core)
    with pytest.raises(QuotaExceeded) as err:
        await put(core, ctx, "bkt", "big", b"x" * 11)
    assert err.value.http_status == 403
    assert await snapshot(core) == before  # no record, no delta, no chunk left behind


async def test_max_buckets_per_project(small_core: Core, ctx: RequestContext) -> None:
    core = small_core
    await quota(core, ctx, max_buckets=2)
    await make_bucket(core, ctx, "one")
    await make_bucket(core, ctx, "two")
    with pytest.raises(QuotaExceeded):
        await make_bucket(core, ctx, "three")
    names = (await core.list_buckets(ctx, bucket_pb2.ListBucketsRequest())).buckets
    assert sorted(b.name for b in names) == ["one", "two"]


async def test_parts_count_against_max_bytes(small_core: Core, ctx: RequestContext) -> None:
    core = small_core
    await make_bucket(core, ctx, "bkt")
    await quota(core, ctx, "bkt", max_bytes=3000)
    uid = await create(core, ctx, "bkt", "k")
    await upload(core, ctx, "bkt", "k", uid, 1, b"a" * 2000)
    with pytest.raises(QuotaExceeded):  # never completing an upload does not bypass the quota
        await upload(core, ctx, "bkt", "k", uid, 2, b"b" * 1001)
    assert figures(await usage_of(core, ctx, "bkt")) == (2000, 0)


async def test_complete_over_quota_is_refused_and_the_upload_stays(
    small_core: Core, ctx: RequestContext
) -> None:
    core = small_core
    data_dir = core.cc.settings.server.data_dir
    await make_bucket(core, ctx, "bkt")
    uid = await create(core, ctx, "bkt", "k")
    p1 = await upload(core, ctx, "bkt", "k", uid, 1, b"a" * 2000)
    p2 = await upload(core, ctx, "bkt", "k", uid, 2, b"b" * 2000)
    await quota(core, ctx, "bkt", max_bytes=3000)  # lowered while the upload was in progress
    with pytest.raises(QuotaExceeded):
        await complete(core, ctx, "bkt", "k", uid, [(1, p1.etag), (2, p2.etag)])
    listed = await core.list_multipart_uploads(
        ctx, object_pb2.ListMultipartUploadsRequest(bucket="bkt")
    )
    assert [u.upload_id for u in listed.uploads] == [uid]  # the client may still abort
    objects = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket="bkt"))
    assert not objects.objects
    abort = object_pb2.AbortMultipartUploadRequest(bucket="bkt", key="k", upload_id=uid)
    await core.abort_multipart_upload(ctx, abort)
    await core.gc.run_once()
    assert not chunk_files(data_dir)
    assert figures(await usage_of(core, ctx, "bkt")) == (0, 0)


async def test_complete_larger_than_max_object_size_is_refused(
    small_core: Core, ctx: RequestContext
) -> None:
    core = small_core
    await make_bucket(core, ctx, "bkt")
    await quota(core, ctx, "bkt", max_object_size=3000)
    uid = await create(core, ctx, "bkt", "k")
    p1 = await upload(core, ctx, "bkt", "k", uid, 1, b"a" * 2000)  # each part is within
    p2 = await upload(core, ctx, "bkt", "k", uid, 2, b"b" * 2000)
    with pytest.raises(QuotaExceeded):
        await complete(core, ctx, "bkt", "k", uid, [(1, p1.etag), (2, p2.etag)])
    done = await complete(core, ctx, "bkt", "k", uid, [(1, p1.etag)])  # still completable
    assert done.size == 2000


async def test_max_objects_under_concurrency_does_not_overshoot_on_one_server(
    small_core: Core, ctx: RequestContext
) -> None:
    core = small_core
    await make_bucket(core, ctx, "bkt")
    await quota(core, ctx, "bkt", max_objects=5)
    results = await asyncio.gather(
        *(put(core, ctx, "bkt", f"k{i}", b"1") for i in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, QuotaExceeded | object_pb2.PutObjectResponse) for r in results)
    stored = [f"k{i}" for i, r in enumerate(results) if isinstance(r, object_pb2.PutObjectResponse)]
    # Bound on one server: 0 (checks and reservations happen without an await between them).
    assert len(stored) == 5
    await core.usage_folder.run_once()
    assert figures(await usage_of(core, ctx, "bkt")) == (5, 5)
    with pytest.raises(QuotaExceeded):
        await put(core, ctx, "bkt", "late", b"1")
    await put(core, ctx, "bkt", stored[0], b"2")  # an overwrite adds no object: allowed
    await delete(core, ctx, "bkt", stored[1])
    await put(core, ctx, "bkt", "again", b"1")  # room again after a delete


async def test_a_copy_over_max_bytes_is_refused_and_changes_nothing(
    small_core: Core, ctx: RequestContext
) -> None:
    core = small_core
    await make_bucket(core, ctx, "src")
    await make_bucket(core, ctx, "dst")
    await put(core, ctx, "src", "k", b"z" * 600)
    await quota(core, ctx, "dst", max_bytes=1000)
    copy = object_pb2.CopyObjectRequest(
        bucket="dst", key="c1", source=object_pb2.CopySource(bucket="src", key="k")
    )
    await core.copy_object(ctx, copy)  # 600 of 1000
    before = await snapshot(core)
    copy.key = "c2"
    with pytest.raises(QuotaExceeded):  # a copy shares the data, but counts in full
        await core.copy_object(ctx, copy)
    assert await snapshot(core) == before
    assert figures(await usage_of(core, ctx, "dst")) == (600, 1)


async def test_the_object_and_byte_gauges_are_every_tenants_usage(
    any_core: Core, ctx: RequestContext
) -> None:
    """The metrics page's totals come from the usage records: exact, whatever the store holds,
    without scanning objects (versions count; a copy counts in full; a deleted key nothing)."""
    core = any_core
    other = RequestContext(principal=Principal("someone", "globex", None), request_id="test")
    await make_bucket(core, ctx, "mine", versioned=True)
    await make_bucket(core, other, "theirs")
    await put(core, ctx, "mine", "k", b"a" * 100)
    await put(core, ctx, "mine", "k", b"b" * 30)  # a second version
    await put(core, other, "theirs", "x", b"c" * 7)
    await put(core, other, "theirs", "y", b"d" * 5)
    await delete(core, other, "theirs", "y")
    copy = object_pb2.CopyObjectRequest(
        bucket="theirs", key="z", source=object_pb2.CopySource(bucket="theirs", key="x")
    )
    await core.copy_object(other, copy)
    gauges = await scan_gauges(core.cc)
    assert (gauges.objects, gauges.storage_bytes) == (4, 100 + 30 + 7 + 7)
    assert gauges.uploads_active == 0
