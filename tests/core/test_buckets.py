"""Buckets: create (atomic, per scope), head, delete (only when empty), list, versioning, tagging,
and the authorization choke point."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.iam.audit import AUDIT_LOGGER
from lightningstor_api.metadata import MetadataUnavailable
from lightningstor_types.actions import Action
from lightningstor_types.errors import (
    AccessDenied,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    IllegalLocationConstraintException,
    InvalidArgument,
    InvalidLocationConstraint,
    InvalidTag,
    NoSuchBucket,
    NoSuchTagSet,
    TooManyBuckets,
)
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext

from .conftest import make_settings
from .helpers import audited, policy, put, snapshot

ENABLED = bucket_pb2.VERSIONING_STATUS_ENABLED
SUSPENDED = bucket_pb2.VERSIONING_STATUS_SUSPENDED
UNVERSIONED = bucket_pb2.VERSIONING_STATUS_UNVERSIONED


def create(name: str, **kw: object) -> bucket_pb2.CreateBucketRequest:
    return bucket_pb2.CreateBucketRequest(name=name, **kw)  # type: ignore[arg-type]


async def test_create_head_and_info(core: Core, ctx: RequestContext) -> None:
    resp = await core.create_bucket(ctx, create("photos"))
    info = resp.bucket
    assert info.name == "photos"
    assert (info.scope.org_id, info.scope.project_id) == ("acme", "web")
    assert info.region == "us-east-1"
    assert info.versioning == UNVERSIONED
    assert info.created_at.seconds > 0
    head = await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name="photos"))
    assert head.bucket == info


async def test_create_twice_is_owned_by_you(core: Core, ctx: RequestContext) -> None:
    await core.create_bucket(ctx, create("photos"))
    with pytest.raises(BucketAlreadyOwnedByYou):
        await core.create_bucket(ctx, create("photos"))


async def test_names_are_unique_per_scope(core: Core, ctx: RequestContext) -> None:
    other = RequestContext(principal=Principal("bob", "acme", "mobile"), request_id="b")
    await core.create_bucket(ctx, create("shared-name"))
    resp = await core.create_bucket(other, create("shared-name"))
    assert resp.bucket.scope.project_id == "mobile"
    # An explicit scope addresses another project's bucket.
    scope = common_pb2.Scope(org_id="acme", project_id="mobile")
    head = await core.head_bucket(
        ctx, bucket_pb2.HeadBucketRequest(scope=scope, name="shared-name")
    )
    assert head.bucket.scope.project_id == "mobile"


async def test_concurrent_create_has_exactly_one_winner(core: Core, ctx: RequestContext) -> None:
    results = await asyncio.gather(
        *(core.create_bucket(ctx, create("race")) for _ in range(10)), return_exceptions=True
    )
    wins = [r for r in results if isinstance(r, bucket_pb2.CreateBucketResponse)]
    losses = [r for r in results if isinstance(r, BucketAlreadyOwnedByYou)]
    assert len(wins) == 1
    assert len(losses) == 9
    listed = await core.list_buckets(ctx, bucket_pb2.ListBucketsRequest())
    assert [b.name for b in listed.buckets] == ["race"]


async def test_region(core: Core, ctx: RequestContext) -> None:
    await core.create_bucket(ctx, create("here", region="us-east-1"))
    before = await snapshot(core)
    with pytest.raises(IllegalLocationConstraintException):
        await core.create_bucket(ctx, create("there", region="eu-west-1"))
    with pytest.raises(InvalidLocationConstraint):
        await core.create_bucket(ctx, create("there", region="Not A Region"))
    assert await snapshot(core) == before


async def test_create_with_tags(core: Core, ctx: RequestContext) -> None:
    tags = [common_pb2.Tag(key="team", value="infra")]
    await core.create_bucket(ctx, create("tagged", tags=tags))
    got = await core.get_bucket_tagging(ctx, bucket_pb2.GetBucketTaggingRequest(name="tagged"))
    assert list(got.tags) == tags
    before = await snapshot(core)
    with pytest.raises(InvalidTag):
        await core.create_bucket(ctx, create("bad-tags", tags=[common_pb2.Tag(key="aws:x")]))
    assert await snapshot(core) == before


async def test_too_many_buckets(tmp_path: Path, ctx: RequestContext) -> None:
    core = await Core.open(make_settings(tmp_path, limits={"max_buckets_per_scope": 2}))
    try:
        await core.create_bucket(ctx, create("one"))
        await core.create_bucket(ctx, create("two"))
        with pytest.raises(TooManyBuckets):
            await core.create_bucket(ctx, create("three"))
    finally:
        await core.close()


async def test_delete_empty_bucket(core: Core, ctx: RequestContext) -> None:
    await core.create_bucket(ctx, create("gone"))
    await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name="gone"))
    with pytest.raises(NoSuchBucket):
        await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name="gone"))
    with pytest.raises(NoSuchBucket):
        await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name="gone"))
    # Re-created, it is a new bucket.
    await core.create_bucket(ctx, create("gone"))


async def test_delete_refuses_a_bucket_with_objects(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    await put(core, ctx, bucket, "k", b"data")
    with pytest.raises(BucketNotEmpty):
        await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=bucket))
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="k"))
    await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=bucket))


async def test_delete_refuses_a_bucket_with_only_delete_markers(
    core: Core, ctx: RequestContext, versioned: str
) -> None:
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=versioned, key="k"))
    with pytest.raises(BucketNotEmpty):
        await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=versioned))


async def test_delete_discards_a_bucket_s_uploads(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    # Through the real multipart path (test_bucket_delete.py covers parts and races).
    req = object_pb2.CreateMultipartUploadRequest(bucket=bucket, key="big")
    upload_id = (await core.create_multipart_upload(ctx, req)).upload_id
    upload_key = core.cc.keys.upload(ctx.principal.scope, bucket, "big", upload_id)
    assert await core.cc.store.get(upload_key) is not None
    await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=bucket))
    assert await core.cc.store.get(upload_key) is None


async def test_list_buckets_pages_in_name_order(core: Core, ctx: RequestContext) -> None:
    names = ["b-3", "a-1", "c-9", "a-2", "b-1"]
    for n in names:
        await core.create_bucket(ctx, create(n))
    seen: list[str] = []
    token = ""
    while True:
        page = await core.list_buckets(
            ctx, bucket_pb2.ListBucketsRequest(max_buckets=2, continuation_token=token)
        )
        seen += [b.name for b in page.buckets]
        assert len(page.buckets) <= 2
        token = page.next_continuation_token
        if not token:
            break
    assert seen == sorted(names)
    assert page.owner.id == "arn:aws:iam::acme:user/web/tester"
    only_a = await core.list_buckets(ctx, bucket_pb2.ListBucketsRequest(prefix="a-"))
    assert [b.name for b in only_a.buckets] == ["a-1", "a-2"]
    with pytest.raises(InvalidArgument):
        await core.list_buckets(ctx, bucket_pb2.ListBucketsRequest(continuation_token="!!"))


async def test_list_shows_org_buckets_shadowed_by_project_ones(
    core: Core, ctx: RequestContext
) -> None:
    org = common_pb2.Scope(org_id="acme")
    await core.create_bucket(ctx, create("org-only", scope=org))
    await core.create_bucket(ctx, create("both", scope=org))
    await core.create_bucket(ctx, create("both"))
    listed = await core.list_buckets(ctx, bucket_pb2.ListBucketsRequest())
    assert [(b.name, b.scope.project_id) for b in listed.buckets] == [
        ("both", "web"),
        ("org-only", ""),
    ]
    org_only = await core.list_buckets(ctx, bucket_pb2.ListBucketsRequest(scope=org))
    assert [(b.name, b.scope.project_id) for b in org_only.buckets] == [
        ("both", ""),
        ("org-only", ""),
    ]


async def test_versioning_transitions(core: Core, ctx: RequestContext, bucket: str) -> None:
    async def status() -> int:
        resp = await core.get_bucket_versioning(
            ctx, bucket_pb2.GetBucketVersioningRequest(name=bucket)
        )
        return resp.status

    async def set_status(value: int) -> None:
        await core.put_bucket_versioning(
            ctx,
            bucket_pb2.PutBucketVersioningRequest(name=bucket, status=value),  # type: ignore[arg-type]
        )

    assert await status() == UNVERSIONED
    await set_status(ENABLED)
    assert await status() == ENABLED
    await set_status(SUSPENDED)
    assert await status() == SUSPENDED
    await set_status(ENABLED)
    assert await status() == ENABLED
    with pytest.raises(InvalidArgument):
        await set_status(UNVERSIONED)
    assert await status() == ENABLED


async def test_bucket_tagging(core: Core, ctx: RequestContext, bucket: str) -> None:
    get = bucket_pb2.GetBucketTaggingRequest(name=bucket)
    with pytest.raises(NoSuchTagSet):
        await core.get_bucket_tagging(ctx, get)
    tags = [common_pb2.Tag(key="env", value="prod"), common_pb2.Tag(key="cost center", value="")]
    await core.put_bucket_tagging(ctx, bucket_pb2.PutBucketTaggingRequest(name=bucket, tags=tags))
    assert list((await core.get_bucket_tagging(ctx, get)).tags) == tags[::-1]  # sorted by key
    too_many = [common_pb2.Tag(key=f"k{i}", value="v") for i in range(51)]
    with pytest.raises(InvalidTag):
        await core.put_bucket_tagging(
            ctx, bucket_pb2.PutBucketTaggingRequest(name=bucket, tags=too_many)
        )
    dup = [common_pb2.Tag(key="a", value="1"), common_pb2.Tag(key="a", value="2")]
    with pytest.raises(InvalidTag):
        await core.put_bucket_tagging(
            ctx, bucket_pb2.PutBucketTaggingRequest(name=bucket, tags=dup)
        )
    assert list((await core.get_bucket_tagging(ctx, get)).tags) == tags[::-1]
    await core.delete_bucket_tagging(ctx, bucket_pb2.DeleteBucketTaggingRequest(name=bucket))
    with pytest.raises(NoSuchTagSet):
        await core.get_bucket_tagging(ctx, get)


async def test_operations_on_a_missing_bucket(core: Core, ctx: RequestContext) -> None:
    with pytest.raises(NoSuchBucket):
        await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name="nope"))
    with pytest.raises(NoSuchBucket):
        await core.get_bucket_versioning(ctx, bucket_pb2.GetBucketVersioningRequest(name="nope"))
    with pytest.raises(NoSuchBucket):
        await put(core, ctx, "nope", "k", b"x")


async def test_every_call_is_authorized_first(
    tmp_path: Path, ctx: RequestContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    # tester may create buckets in acme/web, nothing else (deny by default)
    authorizer = policy(
        roles={"creator": [Action.BUCKETS_CREATE.value]},
        bindings=[{"principal": "tester", "role": "creator", "org": "acme", "project": "web"}],
    )
    core = await Core.open(make_settings(tmp_path), authorizer=authorizer)
    try:
        await core.create_bucket(ctx, create("guarded"))
        assert audited(caplog) == [
            (Action.BUCKETS_CREATE, "org/acme/project/web/bucket/guarded", "allow")
        ]
        before = await snapshot(core)
        with pytest.raises(AccessDenied):
            await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name="guarded"))
        with pytest.raises(AccessDenied):
            await put(core, ctx, "guarded", "a/b", b"x" * 100)
        # Denied before anything is validated or looked up: even a missing bucket says so.
        with pytest.raises(AccessDenied):
            await put(core, ctx, "missing", "k", b"x")
        assert await snapshot(core) == before
        assert audited(caplog)[1:] == [
            (Action.BUCKETS_DELETE, "org/acme/project/web/bucket/guarded", "deny"),
            (Action.OBJECTS_PUT, "org/acme/project/web/bucket/guarded/object/a/b", "deny"),
            (Action.OBJECTS_PUT, "org/acme/project/web/bucket/missing/object/k", "deny"),
        ]
    finally:
        await core.close()


class RacingStore:
    """The real store; just before DeleteBucket first writes the bucket record (its mark),
    another writer puts a key."""

    def __init__(
        self, inner: Any, bucket_key: bytes, race: Callable[[], Awaitable[object]]
    ) -> None:
        self.inner = inner
        self.bucket_key = bucket_key
        self.race: Callable[[], Awaitable[object]] | None = race

    async def txn(self, compares: Any, success: Any, failure: Any = ()) -> Any:
        race = self.race
        touches_bucket = any(getattr(op, "key", None) == self.bucket_key for op in success)
        if race is not None and touches_bucket:
            self.race = None
            await race()
        return await self.inner.txn(compares, success, failure)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_put_racing_the_delete_keeps_the_bucket(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    key = core.cc.keys.bucket(ctx.principal.scope, bucket)
    racing = RacingStore(core.cc.store, key, lambda: put(core, ctx, bucket, "late", b"x"))
    core.cc.store = racing  # type: ignore[assignment]
    with pytest.raises(BucketNotEmpty):
        await core.delete_bucket(ctx, bucket_pb2.DeleteBucketRequest(name=bucket))
    assert racing.race is None  # the race did run
    head = await core.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name=bucket))
    assert head.bucket.name == bucket
    resp = await core.get_object(ctx, object_pb2.GetObjectRequest(bucket=bucket, key="late"))
    assert b"".join([p async for p in resp.body]) == b"x"


async def test_core_lifecycle(tmp_path: Path, ctx: RequestContext) -> None:
    data_dir = tmp_path / "new" / "data"
    core = await Core.open(make_settings(data_dir))
    assert data_dir.is_dir()
    await core.start_background()
    await core.create_bucket(ctx, create("kept"))
    await core.close()
    await core.close()  # idempotent
    async with await Core.open(make_settings(data_dir)) as again:
        head = await again.head_bucket(ctx, bucket_pb2.HeadBucketRequest(name="kept"))
        assert head.bucket.name == "kept"


async def test_open_fails_cleanly_when_no_etcd_answers(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = make_settings(
        tmp_path,
        metadata={"backend": "etcd", "endpoints": [f"127.0.0.1:{port}"], "timeout_seconds": 1},
    )
    with pytest.raises(MetadataUnavailable):
        await Core.open(settings)
