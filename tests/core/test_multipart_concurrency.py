"""Parallel UploadPart to one upload, as every S3 client sends them, on both metadata stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lightningstor.v1 import bucket_pb2
from lightningstor_api.core import Core
from lightningstor_types.service import RequestContext
from tests.core.conftest import make_settings
from tests.core.helpers import get
from tests.core.test_multipart import complete, create, upload

PARTS = 100


@pytest.fixture
async def any_core(tmp_path: Path, store_settings: dict[str, object]) -> AsyncIterator[Core]:
    c = await Core.open(make_settings(tmp_path, limits={"min_part_size": 1024}, **store_settings))
    try:
        yield c
    finally:
        await c.close()


async def test_parallel_parts_of_one_upload_all_land(any_core: Core, ctx: RequestContext) -> None:
    core = any_core
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="par"))
    uid = await create(core, ctx, "par", "big")
    bodies = {n: bytes([n]) * 2048 for n in range(1, PARTS + 1)}
    done = await asyncio.gather(
        *(upload(core, ctx, "par", "big", uid, n, body) for n, body in bodies.items())
    )
    parts = [(n, r.etag) for n, r in zip(bodies, done, strict=True)]
    await complete(core, ctx, "par", "big", uid, parts)
    _, data = await get(core, ctx, "par", "big")
    assert data == b"".join(bodies.values())
