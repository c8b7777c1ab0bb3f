"""Every write of one key racing every other, on both metadata stores: after each round the
current copy (``objects/…``) is exactly the newest version when that is not a delete marker,
and is absent otherwise; at the end, deleting every version leaves no data record and no chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, object_pb2
from lightningstor_api.core import Core, ids
from lightningstor_types.errors import LightningStorError
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext
from tests.core.conftest import make_settings
from tests.core.helpers import chunk_files, data_records, put
from tests.core.test_copy import copy
from tests.core.test_multipart import complete, create, upload

pytestmark = pytest.mark.timeout(120)

ROUNDS = 40
KEY = "racy"
SOURCE = "source"
BODY = 6000  # above inline_max_bytes: every version owns a chunk
UNVERSIONED = bucket_pb2.VERSIONING_STATUS_UNVERSIONED
ENABLED = bucket_pb2.VERSIONING_STATUS_ENABLED
SUSPENDED = bucket_pb2.VERSIONING_STATUS_SUSPENDED


@pytest.fixture
async def any_core(tmp_path: Path, store_settings: dict[str, object]) -> AsyncIterator[Core]:
    c = await Core.open(make_settings(tmp_path, limits={"min_part_size": 1024}, **store_settings))
    try:
        yield c
    finally:
        await c.close()


def seeding(status: bucket_pb2.VersioningStatus.ValueType) -> bucket_pb2.VersioningStatus.ValueType:
    """Versions are seeded with versioning enabled, except in the unversioned bucket."""
    return UNVERSIONED if status == UNVERSIONED else ENABLED


async def set_versioning(
    core: Core, ctx: RequestContext, name: str, status: bucket_pb2.VersioningStatus.ValueType
) -> None:
    if status == UNVERSIONED:  # stays so: a bucket never returns to unversioned
        return
    await core.put_bucket_versioning(
        ctx, bucket_pb2.PutBucketVersioningRequest(name=name, status=status)
    )


def body(tag: int) -> bytes:
    return bytes([tag % 251]) * BODY


async def versions_of(
    core: Core, scope: Scope, bucket: str, key: str
) -> list[records_pb2.ObjectRecord]:
    page = await core.cc.store.range(core.cc.keys.key_versions_prefix(scope, bucket, key))
    return [records_pb2.ObjectRecord.FromString(kv.value) for kv in page.kvs]


async def assert_current_is_newest(core: Core, scope: Scope, bucket: str, key: str) -> None:
    """The invariant: ``objects/`` ⇔ newest non-marker version, byte for byte."""
    versions = await versions_of(core, scope, bucket, key)
    current = await core.cc.store.get(core.cc.keys.object(scope, bucket, key))
    for version in versions:  # no version lost its content
        if version.data_id:
            assert await core.cc.store.get(core.cc.keys.data(version.data_id)) is not None
    if not versions or versions[0].is_delete_marker:
        assert current is None, (
            f"current copy {records_pb2.ObjectRecord.FromString(current.value).sort_id} "
            f"but versions {[(v.sort_id, v.is_delete_marker) for v in versions]}"
        )
        return
    assert current is not None, f"no current copy; newest is {versions[0].sort_id}"
    assert records_pb2.ObjectRecord.FromString(current.value) == versions[0]


async def delete(
    core: Core, ctx: RequestContext, bucket: str, key: str, version: str = ""
) -> object_pb2.DeleteObjectResponse:
    req = object_pb2.DeleteObjectRequest(bucket=bucket, key=key, version_id=version)
    return await core.delete_object(ctx, req)


async def delete_many(
    core: Core, ctx: RequestContext, bucket: str, key: str, version: str
) -> object_pb2.DeleteObjectsResponse:
    ident = object_pb2.ObjectIdentifier(key=key, version_id=version)
    req = object_pb2.DeleteObjectsRequest(bucket=bucket, objects=[ident])
    return await core.delete_objects(ctx, req)


async def quietly(call: Awaitable[object]) -> None:
    """A racing call may lose (SlowDown, NoSuchUpload, a gone copy source): only its effect on
    the invariant matters."""
    with contextlib.suppress(LightningStorError):
        await call


async def race_round(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    status: bucket_pb2.VersioningStatus.ValueType,
    rnd: random.Random,
    i: int,
) -> None:
    """Seed a few versions (every other round under a delete marker; unversioned: one null
    version, replaced), then, with versioning ``status`` (suspended: the writers replace the
    null version), delete each of them
    by id while writers (PutObject, and in turn a delete marker, CopyObject or
    CompleteMultipartUpload) each write the key and delete what they wrote by its version id.
    Every call starts after a random jitter, so the transactions read and commit in every order.
    """
    await set_versioning(core, ctx, bucket, seeding(status))
    seeded = [(await put(core, ctx, bucket, KEY, body(i * 10 + n))).version_id for n in range(5)]
    if i % 2:
        seeded.append((await delete(core, ctx, bucket, KEY)).version_id)
    await set_versioning(core, ctx, bucket, status)
    uid = await create(core, ctx, bucket, KEY)
    part = await upload(core, ctx, bucket, KEY, uid, 1, body(i * 10 + 5))

    async def put_new() -> str:
        return (await put(core, ctx, bucket, KEY, body(i * 10 + 6))).version_id

    async def marker() -> str:
        return (await delete(core, ctx, bucket, KEY)).version_id

    async def copy_onto() -> str:
        return (await copy(core, ctx, bucket, KEY, bucket, SOURCE)).version_id

    async def complete_onto() -> str:
        return (await complete(core, ctx, bucket, KEY, uid, [(1, part.etag)])).version_id

    writers = [marker, copy_onto, complete_onto]
    calls: list[Callable[[], Awaitable[object]]] = []
    for write in (put_new, put_new, writers[i % len(writers)]):

        async def write_then_delete(write: Callable[[], Awaitable[str]] = write) -> None:
            version = await write()
            await asyncio.sleep(rnd.uniform(0, 0.004))
            await delete(core, ctx, bucket, KEY, version)

        calls.append(write_then_delete)
    for n, version in enumerate(seeded):
        remove = delete_many if n % 2 else delete
        calls.append(functools.partial(remove, core, ctx, bucket, KEY, version))

    async def jittered(call: Callable[[], Awaitable[object]]) -> None:
        await asyncio.sleep(rnd.uniform(0, 0.004))
        await quietly(call())

    await asyncio.gather(*(jittered(call) for call in calls))
    await assert_current_is_newest(core, ctx.principal.scope, bucket, KEY)
    abort = object_pb2.AbortMultipartUploadRequest(bucket=bucket, key=KEY, upload_id=uid)
    await quietly(core.abort_multipart_upload(ctx, abort))  # unless the complete won


async def drain(core: Core, ctx: RequestContext, bucket: str, scope: Scope) -> None:
    """Delete every version, then collect: nothing may be left behind."""
    for key in (KEY, SOURCE):
        for rec in await versions_of(core, scope, bucket, key):
            await delete(core, ctx, bucket, key, rec.version_id)
        assert await core.cc.store.get(core.cc.keys.object(scope, bucket, key)) is None
    for _ in range(20):
        if (await core.gc.run_once()).entries == 0:
            break
    assert await data_records(core) == []
    assert chunk_files(core.cc.settings.server.data_dir) == set()
    await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=bucket))


@pytest.mark.parametrize(
    "status", [ENABLED, SUSPENDED, UNVERSIONED], ids=["enabled", "suspended", "unversioned"]
)
async def test_concurrent_writes_keep_current_copy_and_versions_agreeing(
    any_core: Core, ctx: RequestContext, status: bucket_pb2.VersioningStatus.ValueType
) -> None:
    core = any_core
    bucket = "races"
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=bucket))
    await set_versioning(core, ctx, bucket, seeding(status))
    scope = ctx.principal.scope
    await put(core, ctx, bucket, SOURCE, body(250))
    rnd = random.Random(14)
    for i in range(ROUNDS):
        await race_round(core, ctx, bucket, status, rnd, i)
    await drain(core, ctx, bucket, scope)


async def test_a_version_written_by_a_clock_behind_is_still_the_newest(
    any_core: Core, ctx: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sort ids come from the wall clock, which steps back and differs between servers: a new
    version must still sort first, or the current copy would not be the newest version."""
    core = any_core
    bucket = "clocks"
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=bucket))
    await set_versioning(core, ctx, bucket, ENABLED)
    await put(core, ctx, bucket, KEY, b"first")
    hour_ago = time.time_ns() - 3600 * 10**9
    monkeypatch.setattr(ids, "time", types.SimpleNamespace(time_ns=lambda: hour_ago))
    second = await put(core, ctx, bucket, KEY, b"second")
    versions = await versions_of(core, ctx.principal.scope, bucket, KEY)
    assert versions[0].version_id == second.version_id
    await assert_current_is_newest(core, ctx.principal.scope, bucket, KEY)
    listed = await core.list_object_versions(
        ctx, object_pb2.ListObjectVersionsRequest(bucket=bucket)
    )
    latest = listed.versions[0]
    assert (latest.version_id, latest.is_latest) == (second.version_id, True)
