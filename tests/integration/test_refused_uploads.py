"""An upload the server refuses before reading its body reports the server's error, every time.

Without draining, a grpc.aio client still writing when the server ends the call reports
INTERNAL "Internal error from Core" instead (grpc/grpc#36066).
"""

from __future__ import annotations

import pytest

from lightningstor_client import AsyncLightningStorClient
from lightningstor_types.errors import NoSuchBucket, NoSuchUpload

BODY = b"x" * (4 * 1024 * 1024)  # several 1 MiB messages still in flight when refused


async def test_put_into_a_missing_bucket_always_reports_no_such_bucket(
    aclient: AsyncLightningStorClient,
) -> None:
    for _ in range(20):
        with pytest.raises(NoSuchBucket):
            await aclient.put_object("no-such-bucket-here", "k", BODY)


async def test_part_of_an_unknown_upload_always_reports_no_such_upload(
    aclient: AsyncLightningStorClient, new_bucket: str
) -> None:
    for _ in range(20):
        with pytest.raises(NoSuchUpload):
            await aclient.upload_part(new_bucket, "k", "0" * 32, 1, BODY)
