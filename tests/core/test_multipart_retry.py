"""A retried CompleteMultipartUpload of an upload that completed answers its result for
``limits.completed_upload_result_seconds``, as S3 does, then NoSuchUpload."""

from __future__ import annotations

from pathlib import Path

import pytest

from lightningstor.v1 import object_pb2
from lightningstor_api.core import Core
from lightningstor_types.config import Settings
from lightningstor_types.errors import NoSuchUpload
from lightningstor_types.service import RequestContext
from tests.wait import await_until

from .conftest import make_settings
from .test_multipart import complete, create, upload

WINDOW = 0.5


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, limits={"completed_upload_result_seconds": WINDOW})


async def test_a_retried_complete_answers_the_result_then_expires(
    core: Core, ctx: RequestContext, versioned: str
) -> None:
    uid = await create(core, ctx, versioned, "k")
    part = await upload(core, ctx, versioned, "k", uid, 1, b"abc")
    first = await complete(core, ctx, versioned, "k", uid, [(1, part.etag)])
    again = await complete(core, ctx, versioned, "k", uid, [(1, part.etag)])
    assert again == first
    with pytest.raises(NoSuchUpload):  # other parts than the upload completed with
        await complete(core, ctx, versioned, "k", uid, [(1, '"' + "0" * 32 + '"')])
    with pytest.raises(NoSuchUpload):  # another key
        await complete(core, ctx, versioned, "other", uid, [(1, part.etag)])

    async def expired() -> bool:
        try:
            await complete(core, ctx, versioned, "k", uid, [(1, part.etag)])
        except NoSuchUpload:
            return True
        return False

    await await_until(expired, message="the completed result to expire")


async def test_a_retry_after_the_version_is_gone_is_no_such_upload(
    core: Core, ctx: RequestContext, bucket: str
) -> None:
    uid = await create(core, ctx, bucket, "k")
    part = await upload(core, ctx, bucket, "k", uid, 1, b"abc")
    await complete(core, ctx, bucket, "k", uid, [(1, part.etag)])
    await core.delete_object(ctx, object_pb2.DeleteObjectRequest(bucket=bucket, key="k"))
    with pytest.raises(NoSuchUpload):
        await complete(core, ctx, bucket, "k", uid, [(1, part.etag)])
