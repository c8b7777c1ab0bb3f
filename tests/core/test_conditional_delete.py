"""Conditional deletes hold against a write that lands between the check and the commit: the
deletion's compare fails, the retry checks the new version, and it is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_types.errors import PreconditionFailed
from lightningstor_types.service import RequestContext

from .helpers import get, put


class RaceBeforeFirstTxn:
    """The real store; ``race`` runs once, just before the next transaction commits."""

    def __init__(self, inner: Any, race: Callable[[], Awaitable[object]]) -> None:
        self.inner = inner
        self.race: Callable[[], Awaitable[object]] | None = race

    async def txn(self, compares: Any, success: Any, failure: Any = ()) -> Any:
        race, self.race = self.race, None
        if race is not None:
            await race()
        return await self.inner.txn(compares, success, failure)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
async def test_an_if_match_delete_racing_an_overwrite_keeps_the_new_version(
    core: Core, ctx: RequestContext, bucket: str, versioned: bool
) -> None:
    name = bucket
    if versioned:  # the delete writes a marker (commit_version) instead of deleting
        status = bucket_pb2.VERSIONING_STATUS_ENABLED
        await core.put_bucket_versioning(
            ctx, bucket_pb2.PutBucketVersioningRequest(name=name, status=status)
        )
    old = await put(core, ctx, name, "k", b"old")

    async def overwrite() -> None:  # after the delete checked "old", before it commits
        await put(core, ctx, name, "k", b"new")

    core.cc.store = RaceBeforeFirstTxn(core.cc.store, overwrite)  # type: ignore[assignment]
    req = object_pb2.DeleteObjectRequest(
        bucket=name, key="k", conditions=common_pb2.DeleteConditions(if_match=old.etag)
    )
    with pytest.raises(PreconditionFailed):
        await core.delete_object(ctx, req)
    assert (await get(core, ctx, name, "k"))[1] == b"new"
