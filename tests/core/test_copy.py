"""CopyObject through the Core: shared content (no bytes copied), directives, the self-copy
rule, versions, conditions, scopes and authorization."""

from __future__ import annotations

import base64
import logging
import os
import zlib
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.authz import Authorizer
from lightningstor_api.core import Core
from lightningstor_api.iam.audit import AUDIT_LOGGER
from lightningstor_types.actions import Action
from lightningstor_types.config import Settings
from lightningstor_types.errors import (
    AccessDenied,
    InvalidRequest,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    PreconditionFailed,
)
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext

from .conftest import MIB
from .helpers import audited, chunk_files, data_records, etag_of, get, policy, put, snapshot

REPLACE = object_pb2.METADATA_DIRECTIVE_REPLACE


async def copy(
    core: Core,
    ctx: RequestContext,
    bucket: str,
    key: str,
    src_bucket: str,
    src_key: str,
    source: dict[str, Any] | None = None,
    **kw: Any,
) -> object_pb2.CopyObjectResponse:
    req = object_pb2.CopyObjectRequest(
        bucket=bucket,
        key=key,
        source=object_pb2.CopySource(bucket=src_bucket, key=src_key, **(source or {})),
        **kw,
    )
    return await core.copy_object(ctx, req)


async def head(core: Core, ctx: RequestContext, bucket: str, key: str) -> common_pb2.ObjectInfo:
    resp = await core.head_object(ctx, object_pb2.HeadObjectRequest(bucket=bucket, key=key))
    return resp.header.object


async def delete(core: Core, ctx: RequestContext, bucket: str, key: str, **kw: Any) -> None:
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key=key, **kw))


def ts(seconds: int) -> Timestamp:
    return Timestamp(seconds=seconds)


async def test_copy_shares_content(core: Core, ctx: RequestContext, bucket: str) -> None:
    data_dir = core.cc.settings.server.data_dir
    data = os.urandom(2 * MIB + 3)
    await put(
        core,
        ctx,
        bucket,
        "src",
        data,
        user_metadata={"colour": "blue"},
        tags=[common_pb2.Tag(key="t", value="1")],
        headers=common_pb2.ContentHeaders(content_type="image/png", cache_control="no-cache"),
    )
    files = chunk_files(data_dir)
    resp = await copy(core, ctx, bucket, "dst", bucket, "src")
    assert resp.etag == etag_of(data)
    assert chunk_files(data_dir) == files  # no byte copied
    [rec] = await data_records(core)
    assert rec.refcount == 2
    info = await head(core, ctx, bucket, "dst")
    assert (info.size, info.etag) == (len(data), etag_of(data))
    assert dict(info.user_metadata) == {"colour": "blue"}
    assert info.headers.content_type == "image/png" and info.headers.cache_control == "no-cache"
    assert info.tag_count == 1
    assert (await get(core, ctx, bucket, "dst"))[1] == data


async def test_replace_directives(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(
        core,
        ctx,
        bucket,
        "src",
        b"content",
        user_metadata={"old": "1"},
        tags=[common_pb2.Tag(key="t", value="1")],
        headers=common_pb2.ContentHeaders(content_type="text/plain"),
    )
    await copy(
        core,
        ctx,
        bucket,
        "dst",
        bucket,
        "src",
        metadata_directive=REPLACE,
        user_metadata={"new": "2"},
        headers=common_pb2.ContentHeaders(content_type="text/html"),
        tagging_directive=REPLACE,
        tags=[],
    )
    info = await head(core, ctx, bucket, "dst")
    assert dict(info.user_metadata) == {"new": "2"}
    assert info.headers.content_type == "text/html"
    assert info.tag_count == 0
    tags = await core.get_object_tagging(
        ctx, object_pb2.GetObjectTaggingRequest(bucket=bucket, key="src")
    )
    assert [(t.key, t.value) for t in tags.tags] == [("t", "1")]


async def test_self_copy_rule(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "k", b"same", user_metadata={"a": "1"})
    before = await snapshot(core)
    with pytest.raises(InvalidRequest, match="copy an object to itself"):
        await copy(core, ctx, bucket, "k", bucket, "k")
    with pytest.raises(InvalidRequest):  # tags alone are not a change S3 accepts
        await copy(core, ctx, bucket, "k", bucket, "k", tagging_directive=REPLACE)
    assert await snapshot(core) == before
    await copy(
        core, ctx, bucket, "k", bucket, "k", metadata_directive=REPLACE, user_metadata={"a": "2"}
    )
    assert dict((await head(core, ctx, bucket, "k")).user_metadata) == {"a": "2"}
    await copy(core, ctx, bucket, "k", bucket, "k", storage_class="STANDARD_IA")
    assert (await head(core, ctx, bucket, "k")).storage_class == "STANDARD_IA"
    assert (await get(core, ctx, bucket, "k"))[1] == b"same"
    # The replaced null versions released their references: one data record, one reference.
    [rec] = await data_records(core)
    assert rec.refcount == 1


async def test_copy_a_version_by_id(core: Core, ctx: RequestContext, versioned: str) -> None:
    v1 = (await put(core, ctx, versioned, "k", b"one")).version_id
    v2 = (await put(core, ctx, versioned, "k", b"two")).version_id
    resp = await copy(core, ctx, versioned, "old", versioned, "k", {"version_id": v1})
    assert resp.source_version_id == v1 and resp.version_id
    assert (await get(core, ctx, versioned, "old"))[1] == b"one"
    # Copying an older version onto its own key restores it (not the illegal self-copy).
    await copy(core, ctx, versioned, "k", versioned, "k", {"version_id": v1})
    assert (await get(core, ctx, versioned, "k"))[1] == b"one"
    with pytest.raises(InvalidRequest):  # the current version onto itself, by id
        current = (await head(core, ctx, versioned, "k")).version_id
        await copy(core, ctx, versioned, "k", versioned, "k", {"version_id": current})
    with pytest.raises(NoSuchVersion):
        await copy(core, ctx, versioned, "x", versioned, "k", {"version_id": "0" * 24})
    marker = await core.delete_object(
        ctx, object_pb2.DeleteObjectRequest(bucket=versioned, key="k")
    )
    with pytest.raises(NoSuchKey):
        await copy(core, ctx, versioned, "x", versioned, "k")
    with pytest.raises(InvalidRequest, match="delete marker"):
        await copy(core, ctx, versioned, "x", versioned, "k", {"version_id": marker.version_id})
    assert (
        await copy(core, ctx, versioned, "x", versioned, "k", {"version_id": v2})
    ).etag == etag_of(b"two")


async def test_copy_source_conditions(core: Core, ctx: RequestContext, bucket: str) -> None:
    resp = await put(core, ctx, bucket, "src", b"data")
    modified = resp.last_modified.seconds
    failing = [
        common_pb2.Conditions(if_match='"other"'),
        common_pb2.Conditions(if_none_match=resp.etag),
        common_pb2.Conditions(if_none_match="*"),
        common_pb2.Conditions(if_modified_since=ts(modified + 10)),
        common_pb2.Conditions(if_unmodified_since=ts(modified - 10)),
    ]
    before = await snapshot(core)
    for cond in failing:
        with pytest.raises(PreconditionFailed):
            await copy(core, ctx, bucket, "dst", bucket, "src", {"conditions": cond})
    assert await snapshot(core) == before
    passing = [
        common_pb2.Conditions(if_match=resp.etag),
        common_pb2.Conditions(if_none_match='"other"'),
        common_pb2.Conditions(if_modified_since=ts(modified - 10)),
        common_pb2.Conditions(if_unmodified_since=ts(modified + 10)),
        # S3: If-Match true wins over If-Unmodified-Since false
        common_pb2.Conditions(if_match=resp.etag, if_unmodified_since=ts(modified - 10)),
    ]
    for i, cond in enumerate(passing):
        await copy(core, ctx, bucket, f"dst{i}", bucket, "src", {"conditions": cond})


async def test_destination_conditions(core: Core, ctx: RequestContext, bucket: str) -> None:
    await put(core, ctx, bucket, "src", b"new")
    await put(core, ctx, bucket, "dst", b"old")
    before = await snapshot(core)
    with pytest.raises(PreconditionFailed):
        await copy(
            core,
            ctx,
            bucket,
            "dst",
            bucket,
            "src",
            conditions=common_pb2.Conditions(if_none_match="*"),
        )
    assert await snapshot(core) == before
    await copy(
        core,
        ctx,
        bucket,
        "dst",
        bucket,
        "src",
        conditions=common_pb2.Conditions(if_match=etag_of(b"old")),
    )
    assert (await get(core, ctx, bucket, "dst"))[1] == b"new"


async def test_deleting_the_source_keeps_the_copy(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    data_dir = core.cc.settings.server.data_dir
    data = os.urandom(MIB + MIB // 2)
    await put(core, ctx, bucket, "src", data)
    await copy(core, ctx, bucket, "dst", bucket, "src")
    await delete(core, ctx, bucket, "src")
    assert (await core.gc.run_once()).chunks_deleted == 0
    assert (await get(core, ctx, bucket, "dst"))[1] == data
    await delete(core, ctx, bucket, "dst")
    stats = await core.gc.run_once()
    assert stats.chunks_deleted == 2 and stats.bytes_freed == len(data)
    assert not chunk_files(data_dir)
    assert not await data_records(core)


async def test_copy_with_checksum_algorithm(core: Core, ctx: RequestContext, bucket: str) -> None:
    data = os.urandom(MIB + 99)
    await put(core, ctx, bucket, "src", data)
    resp = await copy(
        core,
        ctx,
        bucket,
        "dst",
        bucket,
        "src",
        checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32,
    )
    assert resp.checksums.crc32 == base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert resp.etag == etag_of(data)


async def test_copy_of_multipart_object_keeps_parts(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    uid = (
        await core.create_multipart_upload(
            ctx, object_pb2.CreateMultipartUploadRequest(bucket=bucket, key="mp")
        )
    ).upload_id
    header = object_pb2.UploadPartHeader(bucket=bucket, key="mp", upload_id=uid, part_number=1)

    async def body() -> Any:
        yield b"part one"

    part = await core.upload_part(ctx, header, body())
    done = await core.complete_multipart_upload(
        ctx,
        object_pb2.CompleteMultipartUploadRequest(
            bucket=bucket,
            key="mp",
            upload_id=uid,
            parts=[object_pb2.CompletedPart(part_number=1, etag=part.etag)],
        ),
    )
    resp = await copy(core, ctx, bucket, "dst", bucket, "mp")
    assert resp.etag == done.etag
    assert (await head(core, ctx, bucket, "dst")).parts_count == 1
    assert (await get(core, ctx, bucket, "dst", part_number=1))[1] == b"part one"


# ---- scopes and authorization ----


def editor_in(*projects: str) -> Authorizer:
    """The policy engine: tester edits the named projects of acme, nothing else."""
    bindings = [
        {"principal": "acme/web/tester", "role": "editor", "org": "acme", "project": p}
        for p in projects
    ]
    return policy(bindings=bindings)


async def test_cross_scope_copy_authorizes_both_sides(
    settings: Settings, ctx: RequestContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=AUDIT_LOGGER)
    core = await Core.open(settings, authorizer=editor_in("web", "data"))
    other = common_pb2.Scope(org_id="acme", project_id="data")
    req = object_pb2.CopyObjectRequest(
        bucket="mine",
        key="dst",
        source=object_pb2.CopySource(scope=other, bucket="theirs", key="src"),
    )
    dst = "org/acme/project/web/bucket/mine/object/dst"
    src = "org/acme/project/data/bucket/theirs/object/src"
    try:
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="mine"))
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="theirs", scope=other))
        await core.put_object(
            ctx,
            object_pb2.PutObjectHeader(scope=other, bucket="theirs", key="src", content_length=3),
            _body(b"abc"),
        )
        caplog.clear()
        await core.copy_object(ctx, req)
        assert (Action.OBJECTS_COPY, dst, "allow") in audited(caplog)
        assert (Action.OBJECTS_GET, src, "allow") in audited(caplog)
        assert (await get(core, ctx, "mine", "dst"))[1] == b"abc"

        # A source in the destination's scope when none is named: here "theirs" is not there.
        with pytest.raises(NoSuchBucket):
            await core.copy_object(
                ctx,
                object_pb2.CopyObjectRequest(
                    bucket="mine", key="x", source=object_pb2.CopySource(bucket="theirs", key="src")
                ),
            )
    finally:
        await core.close()
    # The same data, with tester an editor of web only: the source side is denied.
    core = await Core.open(settings, authorizer=editor_in("web"))
    try:
        before = await snapshot(core)
        caplog.clear()
        with pytest.raises(AccessDenied):
            await core.copy_object(ctx, req)
        assert (Action.OBJECTS_GET, src, "deny") in audited(caplog)
        assert await snapshot(core) == before
    finally:
        await core.close()


async def test_copy_into_a_named_scope_reads_source_there(core: Core, ctx: RequestContext) -> None:
    """With an explicit destination scope and no source scope, the source is looked up in the
    destination's scope, not the caller's."""
    other = common_pb2.Scope(org_id="acme", project_id="data")
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="bkt", scope=other))
    await core.put_object(
        ctx,
        object_pb2.PutObjectHeader(scope=other, bucket="bkt", key="src", content_length=2),
        _body(b"hi"),
    )
    await core.copy_object(
        ctx,
        object_pb2.CopyObjectRequest(
            scope=other,
            bucket="bkt",
            key="dst",
            source=object_pb2.CopySource(bucket="bkt", key="src"),
        ),
    )
    outsider = RequestContext(principal=Principal("x", "acme", "data"), request_id="t2")
    assert (await get(core, outsider, "bkt", "dst"))[1] == b"hi"


async def _body(data: bytes) -> Any:
    yield data


async def test_records_are_untouched_by_directives(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    """A request that names no directive copies metadata and tags (COPY is the zero value); a
    REPLACE copy changes only its destination, never the source's record."""
    await put(
        core,
        ctx,
        bucket,
        "src",
        b"content",
        user_metadata={"old": "1"},
        tags=[common_pb2.Tag(key="t", value="1")],
        headers=common_pb2.ContentHeaders(content_type="text/plain"),
    )
    before = await head(core, ctx, bucket, "src")
    await copy(core, ctx, bucket, "plain", bucket, "src")
    plain = await head(core, ctx, bucket, "plain")
    assert dict(plain.user_metadata) == {"old": "1"}
    assert plain.headers.content_type == "text/plain" and plain.tag_count == 1
    await copy(
        core,
        ctx,
        bucket,
        "replaced",
        bucket,
        "src",
        metadata_directive=REPLACE,
        user_metadata={"new": "2"},
        tagging_directive=REPLACE,
        tags=[],
    )
    assert dict((await head(core, ctx, bucket, "replaced")).user_metadata) == {"new": "2"}
    assert await head(core, ctx, bucket, "src") == before
