"""DeleteBucket discards open multipart uploads, as S3 does, and releases their parts' data;
race-free with a part stored, or an upload completed, while it runs."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lightningstor.v1 import bucket_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.metadata import Delete
from lightningstor_types.config import Settings
from lightningstor_types.errors import (
    BucketNotEmpty,
    NoSuchBucket,
    NoSuchUpload,
    OperationAborted,
)
from lightningstor_types.service import RequestContext

from .conftest import make_settings
from .helpers import chunk_files, data_records, gc_entries, get
from .test_multipart import complete, create, upload

PART = 300 * 1024  # above the inline bound: parts are chunk files


@pytest.fixture
def settings(tmp_path: Path, store_settings: dict[str, object]) -> Settings:
    """Each test on the embedded store and on a real etcd."""
    return make_settings(tmp_path, **store_settings)


class RaceBefore:
    """The real store; just before the first transaction that ``matches``, ``race`` runs."""

    def __init__(
        self,
        inner: Any,
        matches: Callable[[list[Any]], bool],
        race: Callable[[], Awaitable[object]],
    ) -> None:
        self.inner = inner
        self.matches = matches
        self.race: Callable[[], Awaitable[object]] | None = race

    async def txn(self, compares: Any, success: Any, failure: Any = ()) -> Any:
        race = self.race
        if race is not None and self.matches(list(success)):
            self.race = None
            await race()
        return await self.inner.txn(compares, success, failure)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def delete_bucket(core: Core, ctx: RequestContext, name: str) -> None:
    await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=name))


async def assert_nothing_left(core: Core) -> None:
    """Every part's data was released: the collector leaves no chunk and no record."""
    await core.gc.run_once()
    assert not chunk_files(core.cc.settings.server.data_dir)
    assert not await data_records(core) and not await gc_entries(core)


async def test_delete_bucket_discards_open_uploads_and_their_parts(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    for key in ("a", "b/c"):
        uid = await create(core, ctx, bucket, key)
        for n in (1, 2):
            await upload(core, ctx, bucket, key, uid, n, os.urandom(PART))
    assert chunk_files(core.cc.settings.server.data_dir)
    await delete_bucket(core, ctx, bucket)
    with pytest.raises(NoSuchBucket):
        await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name=bucket))
    listed = object_pb2.ListMultipartUploadsRequest(bucket=bucket)
    with pytest.raises(NoSuchBucket):
        await core.list_multipart_uploads(ctx, listed)
    await assert_nothing_left(core)


async def test_a_part_stored_while_the_upload_is_discarded_is_released(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    uid = await create(core, ctx, bucket, "k")
    await upload(core, ctx, bucket, "k", uid, 1, os.urandom(PART))
    upload_key = core.cc.keys.upload(ctx.principal.scope, bucket, "k", uid)

    def aborting(ops: list[Any]) -> bool:
        return any(isinstance(op, Delete) and op.key == upload_key for op in ops)

    stored: list[object] = []

    async def late_part() -> None:  # after the abort read the parts, before it commits
        stored.append(await upload(core, ctx, bucket, "k", uid, 2, os.urandom(PART)))

    core.cc.store = RaceBefore(core.cc.store, aborting, late_part)  # type: ignore[assignment]
    await delete_bucket(core, ctx, bucket)
    assert stored, "the race did not run"
    with pytest.raises((NoSuchUpload, NoSuchBucket)):  # and a part after it finds nothing
        await upload(core, ctx, bucket, "k", uid, 3, os.urandom(PART))
    await assert_nothing_left(core)


async def test_an_upload_completed_before_the_mark_keeps_the_bucket(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    uid = await create(core, ctx, bucket, "k")
    data = os.urandom(PART)
    part = await upload(core, ctx, bucket, "k", uid, 1, data)
    bucket_key = core.cc.keys.bucket(ctx.principal.scope, bucket)

    def marking(ops: list[Any]) -> bool:
        return any(getattr(op, "key", None) == bucket_key for op in ops)

    async def completes() -> None:
        await complete(core, ctx, bucket, "k", uid, [(1, part.etag)])

    core.cc.store = RaceBefore(core.cc.store, marking, completes)  # type: ignore[assignment]
    with pytest.raises(BucketNotEmpty):
        await delete_bucket(core, ctx, bucket)
    assert (await get(core, ctx, bucket, "k"))[1] == data
    await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name=bucket))  # kept, unmarked
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="k"))
    await delete_bucket(core, ctx, bucket)
    await assert_nothing_left(core)


async def test_a_complete_after_the_mark_is_refused_and_the_upload_discarded(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    uid = await create(core, ctx, bucket, "k")
    part = await upload(core, ctx, bucket, "k", uid, 1, os.urandom(PART))
    upload_key = core.cc.keys.upload(ctx.principal.scope, bucket, "k", uid)

    def aborting(ops: list[Any]) -> bool:
        return any(isinstance(op, Delete) and op.key == upload_key for op in ops)

    refused: list[BaseException] = []

    async def completes() -> None:
        try:
            await complete(core, ctx, bucket, "k", uid, [(1, part.etag)])
        except (OperationAborted, NoSuchBucket) as exc:
            refused.append(exc)

    core.cc.store = RaceBefore(core.cc.store, aborting, completes)  # type: ignore[assignment]
    await delete_bucket(core, ctx, bucket)
    assert refused, "the complete was not refused"
    await assert_nothing_left(core)
