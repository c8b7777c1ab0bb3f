"""DeleteBucket marks the bucket before it checks emptiness, so no write can slip in between."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.context import DELETE_LEASE_SECONDS
from lightningstor_types.config import Settings
from lightningstor_types.errors import BucketNotEmpty, NoSuchBucket, OperationAborted
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext
from tests.core.conftest import make_settings
from tests.core.helpers import chunk_files
from tests.core.helpers import chunks_of as body


async def _mark(core: Core, scope: Scope, name: str, since: float) -> None:
    key = core.cc.keys.bucket(scope, name)
    kv = await core.cc.store.get(key)
    assert kv is not None
    rec = records_pb2.BucketRecord.FromString(kv.value)
    rec.deleting_since.FromSeconds(int(since))
    await core.cc.store.put(key, rec.SerializeToString())


async def test_writes_are_refused_while_a_delete_holds_its_mark(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await _mark(core, ctx.principal.scope, bucket, time.time())
    header = object_pb2.PutObjectHeader(bucket=bucket, key="k")
    with pytest.raises(OperationAborted):
        await core.put_object(ctx, header, body(b"data"))
    with pytest.raises(OperationAborted):
        await core.create_multipart_upload(
            ctx, object_pb2.CreateMultipartUploadRequest(bucket=bucket, key="k")
        )
    listed = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket=bucket))
    assert not listed.objects


async def test_a_stale_mark_left_by_a_crashed_delete_is_ignored(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await _mark(core, ctx.principal.scope, bucket, time.time() - DELETE_LEASE_SECONDS - 5)
    header = object_pb2.PutObjectHeader(bucket=bucket, key="k")
    await core.put_object(ctx, header, body(b"data"))
    with pytest.raises(BucketNotEmpty):
        await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=bucket))
    # The refused delete took its mark back: writes go on.
    await core.put_object(ctx, header, body(b"more"))


ROUNDS_LIMIT = 100
EACH_OUTCOME = 3
"""Rounds go on until the delete has won and lost this many times each (or the limit fails the
test): every run checks both outcomes."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Nothing inline: every put writes a chunk, so a lost put that left its chunk shows.
    return make_settings(tmp_path, storage={"inline_max_bytes": 0})


async def test_racing_puts_and_delete_never_leave_an_orphan(
    core: Core, ctx: RequestContext
) -> None:
    data_dir = core.cc.settings.server.data_dir
    outcomes = {"deleted": 0, "refused": 0}
    for round_ in range(ROUNDS_LIMIT):
        if min(outcomes.values()) >= EACH_OUTCOME:
            break
        name = f"race-{round_}"
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=name))
        before = chunk_files(data_dir)

        async def put(i: int, name: str = name) -> None:
            header = object_pb2.PutObjectHeader(bucket=name, key=f"k{i}")
            await core.put_object(ctx, header, body(b"x" * 100))

        # Even rounds start the delete with the puts (it usually wins); odd rounds start it
        # when one put has landed (it must lose) while the other three still race it.
        puts = [asyncio.create_task(put(i)) for i in range(4)]
        if round_ % 2:
            await asyncio.wait(puts, return_when=asyncio.FIRST_COMPLETED)
        delete = asyncio.create_task(
            core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=name))
        )
        results = await asyncio.gather(*puts, delete, return_exceptions=True)
        deleted_result, put_results = results[-1], results[:-1]
        for r in results:
            if isinstance(r, BaseException) and not isinstance(
                r, NoSuchBucket | OperationAborted | BucketNotEmpty
            ):
                raise r
        landed = sum(not isinstance(r, BaseException) for r in put_results)
        objects = await core.cc.store.range(core.cc.keys.objects_prefix(ctx.principal.scope, name))
        await core.gc.run_once()
        new_chunks = chunk_files(data_dir) - before
        if not isinstance(deleted_result, BaseException):
            outcomes["deleted"] += 1
            assert landed == 0, "a put succeeded into a bucket that was deleted"
            assert not objects.kvs, "an object outlived its bucket"
            assert not new_chunks, f"chunks outlived their bucket: {new_chunks}"
            with pytest.raises(NoSuchBucket):
                await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name=name))
        else:
            assert isinstance(deleted_result, BucketNotEmpty | OperationAborted), deleted_result
            outcomes["refused"] += 1
            await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name=name))
            assert len(objects.kvs) == landed
            assert len(new_chunks) == landed, "a refused put left its chunk behind"
    assert min(outcomes.values()) >= EACH_OUTCOME, (
        f"not both outcomes in {ROUNDS_LIMIT}: {outcomes}"
    )
