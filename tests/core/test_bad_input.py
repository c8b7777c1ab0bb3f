"""Bad input of every kind gets its S3 error and changes nothing (docs/architecture.md §9): no
object or
version record, no data record, no chunk file left under ``data_dir/chunks``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.metadata import MetadataStore
from lightningstor_types.errors import (
    BadDigest,
    EntityTooLarge,
    IncompleteBody,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    InvalidRange,
    InvalidRequest,
    InvalidStorageClass,
    InvalidTag,
    KeyTooLongError,
    LightningStorError,
    MetadataTooLarge,
    PreconditionFailed,
)
from lightningstor_types.service import RequestContext

from .conftest import MIB, make_settings
from .helpers import chunks_of, data_records, get, put, snapshot

BIG = b"z" * (2 * MIB + 5)  # spans three chunks, so failures happen after chunks were written


@pytest.fixture
async def before(core: Core, bucket: str) -> tuple[dict[bytes, bytes], set[str]]:
    return await snapshot(core)


async def assert_unchanged(core: Core, before: tuple[dict[bytes, bytes], set[str]]) -> None:
    assert await snapshot(core) == before


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "UpperCase",
        "under_score",
        "-leading",
        "trailing-",
        "two..dots",
        "192.168.1.1",
        "xn--punycode",
        "name-s3alias",
        "slash/name",
        "",
    ],
)
async def test_invalid_bucket_names(
    core: Core, ctx: RequestContext, before: Any, name: str
) -> None:
    with pytest.raises(InvalidBucketName):
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=name))
    # A name that could never be created is refused everywhere, before it reaches a key.
    with pytest.raises(InvalidBucketName):
        await put(core, ctx, name, "k", b"x")
    await assert_unchanged(core, before)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("k" * 1025, KeyTooLongError),
        ("é" * 513, KeyTooLongError),  # 1026 bytes of UTF-8
        ("", InvalidArgument),
        ("a\x00b", InvalidArgument),
    ],
)
async def test_invalid_keys(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    before: Any,
    key: str,
    error: type[LightningStorError],
) -> None:
    with pytest.raises(error):
        await put(core, ctx, bucket, key, b"data")
    with pytest.raises(error):
        await get(core, ctx, bucket, key)
    await assert_unchanged(core, before)


async def test_longest_key_is_fine(core: Core, ctx: RequestContext, bucket: str) -> None:
    key = "k" * 1024
    await put(core, ctx, bucket, key, b"data")
    assert (await get(core, ctx, bucket, key))[1] == b"data"


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ({"content_length": len(BIG) + 1}, IncompleteBody),  # body shorter than declared
        ({"content_length": len(BIG) - 1}, InvalidRequest),  # body longer than declared
        ({"content_md5": base64.b64encode(b"\x00" * 16).decode()}, BadDigest),
        ({"content_md5": "not base64!"}, InvalidDigest),
        ({"content_md5": base64.b64encode(b"short").decode()}, InvalidDigest),
        (
            {
                "expected_checksums": common_pb2.Checksums(
                    crc32=base64.b64encode(b"\0" * 4).decode()
                )
            },
            BadDigest,
        ),
        (
            {
                "expected_checksums": common_pb2.Checksums(
                    sha256=base64.b64encode(b"\0" * 32).decode()
                )
            },
            BadDigest,
        ),
        ({"expected_checksums": common_pb2.Checksums(crc32c="AAAA")}, InvalidRequest),
        ({"storage_class": "PLATINUM"}, InvalidStorageClass),
        ({"user_metadata": {"big": "v" * 3000}}, MetadataTooLarge),
        ({"user_metadata": {"bad name": "v"}}, InvalidArgument),
        ({"user_metadata": {"Name": "1", "name": "2"}}, InvalidArgument),
        ({"tags": [common_pb2.Tag(key=f"t{i}") for i in range(11)]}, InvalidTag),
        ({"content_length": -1}, InvalidArgument),
        ({"headers": common_pb2.ContentHeaders(content_type="a\r\nX-Evil: 1")}, InvalidArgument),
    ],
)
async def test_refused_puts_leave_nothing(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    before: Any,
    header: dict[str, Any],
    error: type[LightningStorError],
) -> None:
    with pytest.raises(error):
        await put(core, ctx, bucket, "obj", BIG, **header)
    await assert_unchanged(core, before)


async def test_checksum_mismatch_names_the_algorithm(
    core: Core, ctx: RequestContext, bucket: str, before: Any
) -> None:
    wrong = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    with pytest.raises(BadDigest, match="The SHA1 you specified did not match"):
        await put(
            core, ctx, bucket, "obj", BIG, expected_checksums=common_pb2.Checksums(sha1=wrong)
        )
    await assert_unchanged(core, before)


async def test_too_large(tmp_path: Path, ctx: RequestContext) -> None:
    core = await Core.open(make_settings(tmp_path, limits={"max_put_size": 2 * MIB}))
    try:
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="small"))
        before = await snapshot(core)
        with pytest.raises(EntityTooLarge):  # declared: refused before reading
            await put(core, ctx, "small", "obj", BIG)
        with pytest.raises(EntityTooLarge):  # undeclared: refused once it grows too large
            await core.put_object(
                ctx, object_pb2.PutObjectHeader(bucket="small", key="obj"), chunks_of(BIG)
            )
        assert await snapshot(core) == before
    finally:
        await core.close()


class DisconnectError(Exception):
    """The client went away."""


async def failing_body(data: bytes, fail_after: int) -> AsyncIterator[bytes]:
    sent = 0
    async for piece in chunks_of(data):
        if sent >= fail_after:
            raise DisconnectError()
        sent += len(piece)
        yield piece


async def test_body_that_raises_midway(
    core: Core, ctx: RequestContext, bucket: str, before: Any
) -> None:
    header = object_pb2.PutObjectHeader(bucket=bucket, key="obj", content_length=len(BIG))
    with pytest.raises(DisconnectError):
        await core.put_object(ctx, header, failing_body(BIG, 2 * MIB))
    await assert_unchanged(core, before)


async def test_cancelled_while_receiving(
    core: Core, ctx: RequestContext, bucket: str, before: Any
) -> None:
    received = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        async for piece in chunks_of(BIG):
            yield piece
        received.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b""

    header = object_pb2.PutObjectHeader(bucket=bucket, key="obj")
    task = asyncio.create_task(core.put_object(ctx, header, stalled()))
    await received.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_unchanged(core, before)


WINNER = b"winner" * 1000  # above storage.inline_max_bytes: a chunk of its own


async def test_precondition_failing_at_commit_removes_the_chunks(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """If-None-Match: * holds when the put starts; another writer wins while the body streams."""

    async def racing_body() -> AsyncIterator[bytes]:
        async for piece in chunks_of(BIG):
            yield piece
        await put(core, ctx, bucket, "obj", WINNER)

    header = object_pb2.PutObjectHeader(
        bucket=bucket, key="obj", conditions=common_pb2.Conditions(if_none_match="*")
    )
    with pytest.raises(PreconditionFailed):
        await core.put_object(ctx, header, racing_body())
    assert (await get(core, ctx, bucket, "obj"))[1] == WINNER
    (record,) = await data_records(core)
    (chunk,) = record.chunks.chunks
    root = core.cc.settings.server.data_dir / "chunks"
    assert {p.name for p in root.rglob("*") if p.is_file()} == {chunk.chunk_id}


class SlowTxnStore:
    """The real store, whose transactions start after a pause (to cancel a put mid-commit)."""

    def __init__(self, inner: MetadataStore) -> None:
        self.inner = inner
        self.in_txn = asyncio.Event()

    async def txn(
        self, compares: Sequence[Any], success: Sequence[Any], failure: Sequence[Any] = ()
    ) -> Any:
        self.in_txn.set()
        await asyncio.sleep(0.05)
        return await self.inner.txn(compares, success, failure)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_cancelled_during_commit_keeps_a_committed_object(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    slow = SlowTxnStore(core.cc.store)
    core.cc.store = slow  # type: ignore[assignment]
    task = asyncio.create_task(put(core, ctx, bucket, "obj", BIG))
    await slow.in_txn.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    core.cc.store = slow.inner
    # The commit ran to its end, so its chunks were kept: the object reads back whole.
    assert (await get(core, ctx, bucket, "obj"))[1] == BIG


@pytest.mark.parametrize(
    ("key", "spec"),
    [
        ("ten", common_pb2.ByteRange(first=10)),
        ("ten", common_pb2.ByteRange(first=10, last=20)),
        ("ten", common_pb2.ByteRange(first=100, last=200)),
        ("ten", common_pb2.ByteRange(suffix_length=0)),
        ("ten", common_pb2.ByteRange(first=-1, last=3)),
        ("empty", common_pb2.ByteRange(first=0)),
        ("empty", common_pb2.ByteRange(first=0, last=0)),
        ("empty", common_pb2.ByteRange(suffix_length=5)),
    ],
)
async def test_range_outside_the_object(
    core: Core, ctx: RequestContext, bucket: str, key: str, spec: common_pb2.ByteRange
) -> None:
    await put(core, ctx, bucket, "ten", b"0123456789")
    await put(core, ctx, bucket, "empty", b"")
    before = await snapshot(core)
    with pytest.raises(InvalidRange):
        await get(core, ctx, bucket, key, range=spec)
    with pytest.raises(InvalidRange):
        await core.head_object(
            ctx, object_pb2.HeadObjectRequest(bucket=bucket, key=key, range=spec)
        )
    assert await snapshot(core) == before


@pytest.mark.parametrize("max_keys", [-1, -1000])
async def test_negative_max_keys(
    core: Core, ctx: RequestContext, bucket: str, before: Any, max_keys: int
) -> None:
    with pytest.raises(InvalidArgument):
        await core.list_objects(
            ctx, object_pb2.ListObjectsRequest(bucket=bucket, max_keys=max_keys)
        )
    with pytest.raises(InvalidArgument):
        await core.list_object_versions(
            ctx, object_pb2.ListObjectVersionsRequest(bucket=bucket, max_keys=max_keys)
        )
    await assert_unchanged(core, before)


async def test_bad_version_ids(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "k", b"x")
    before = await snapshot(core)
    with pytest.raises(InvalidArgument):
        await get(core, ctx, bucket, "k", version_id="../../etc")
    with pytest.raises(InvalidArgument):
        await core.delete_object(
            ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="k", version_id="zzz")
        )
    assert await snapshot(core) == before
