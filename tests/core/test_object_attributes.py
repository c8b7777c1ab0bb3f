"""GetObjectAttributes in the core: a page of part summaries read across the segments of a
completed upload (record bounds lowered so that seven parts span four segments)."""

from __future__ import annotations

import base64
import zlib
from pathlib import Path

import pytest

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.content import RecordBounds
from lightningstor_types.config import Settings
from lightningstor_types.errors import InvalidArgument, MethodNotAllowed, NoSuchKey
from lightningstor_types.service import RequestContext

from .conftest import make_settings
from .helpers import put
from .test_multipart import complete, create, upload


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, limits={"min_part_size": 1})


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


async def attributes(
    core: Core, ctx: RequestContext, bucket: str, key: str, **kw: int | str
) -> object_pb2.GetObjectAttributesResponse:
    req = object_pb2.GetObjectAttributesRequest(bucket=bucket, key=key, **kw)  # type: ignore[arg-type]
    return await core.get_object_attributes(ctx, req)


async def test_parts_paged_across_segments(core: Core, ctx: RequestContext, bucket: str) -> None:
    core.cc.bounds = RecordBounds(inline_slices=2, segment_chunks=2, segment_parts=2)
    bodies = [f"part {n} ".encode() * n for n in range(1, 8)]
    uid = await create(
        core, ctx, bucket, "mp", checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32
    )
    etags = []
    for n, body in enumerate(bodies, 1):
        resp = await upload(
            core,
            ctx,
            bucket,
            "mp",
            uid,
            n,
            body,
            checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_CRC32,
        )
        etags.append((n, resp.etag))
    done = await complete(core, ctx, bucket, "mp", uid, etags)

    seen: list[object_pb2.ObjectPartAttributes] = []
    marker = 0
    pages = 0
    while True:
        page = await attributes(core, ctx, bucket, "mp", max_parts=3, part_number_marker=marker)
        pages += 1
        assert page.max_parts == 3
        assert page.object.etag == done.etag and page.object.parts_count == 7
        assert page.object.size == sum(map(len, bodies))
        assert page.object.checksums.crc32 and page.object.checksums.type == (
            common_pb2.CHECKSUM_TYPE_COMPOSITE
        )
        seen.extend(page.parts)
        if not page.is_truncated:
            break
        marker = page.next_part_number_marker
        assert marker == seen[-1].part_number
    assert pages == 3
    assert [p.part_number for p in seen] == list(range(1, 8))
    assert [p.size for p in seen] == [len(b) for b in bodies]
    assert [p.checksums.crc32 for p in seen] == [crc32_b64(b) for b in bodies]

    # A marker in the middle of a segment, a page to the end, a marker past the end.
    page = await attributes(core, ctx, bucket, "mp", part_number_marker=3)
    assert [p.part_number for p in page.parts] == [4, 5, 6, 7] and not page.is_truncated
    assert page.max_parts == 1000
    page = await attributes(core, ctx, bucket, "mp", part_number_marker=7)
    assert not page.parts and not page.is_truncated


async def test_simple_object_bad_input_and_delete_markers(
    core: Core, ctx: RequestContext, versioned: str
) -> None:
    await put(core, ctx, versioned, "k", b"hello")
    resp = await attributes(core, ctx, versioned, "k", max_parts=5000)
    assert resp.object.size == 5 and resp.object.parts_count == 0 and not resp.parts
    assert resp.max_parts == 1000  # capped, as in S3
    version = resp.object.version_id
    for bad in ({"max_parts": -1}, {"part_number_marker": -2}):
        with pytest.raises(InvalidArgument):
            await attributes(core, ctx, versioned, "k", **bad)
    gone = await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=versioned, key="k"))
    with pytest.raises(NoSuchKey):
        await attributes(core, ctx, versioned, "k")
    with pytest.raises(MethodNotAllowed):
        await attributes(core, ctx, versioned, "k", version_id=gone.version_id)
    older = await attributes(core, ctx, versioned, "k", version_id=version)
    assert older.object.size == 5 and not older.object.is_latest
