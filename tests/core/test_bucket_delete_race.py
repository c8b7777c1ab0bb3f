"""DeleteBucket marks the bucket before it checks emptiness, so no write can slip in between."""

from __future__ import annotations

import asyncio
import time

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.context import DELETE_LEASE_SECONDS
from lightningstor_types.errors import BucketNotEmpty, NoSuchBucket, OperationAborted
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext
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


async def test_racing_puts_and_delete_never_leave_an_orphan(
    core: Core, ctx: RequestContext
) -> None:
    for round_ in range(15):
        name = f"race-{round_}"
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=name))

        async def put(i: int, name: str = name) -> None:
            header = object_pb2.PutObjectHeader(bucket=name, key=f"k{i}")
            await core.put_object(ctx, header, body(b"x" * 100))

        results = await asyncio.gather(
            *(put(i) for i in range(4)),
            core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=name)),
            return_exceptions=True,
        )
        for r in results:
            if isinstance(r, BaseException) and not isinstance(
                r, NoSuchBucket | OperationAborted | BucketNotEmpty
            ):
                raise r
        deleted = not isinstance(results[-1], BaseException)
        objects = await core.cc.store.range(core.cc.keys.objects_prefix(ctx.principal.scope, name))
        if deleted:
            assert not objects.kvs, "an object outlived its bucket"
        else:
            await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name=name))
