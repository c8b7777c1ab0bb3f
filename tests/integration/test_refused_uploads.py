"""An upload the server refuses before reading its body reports the server's error, every time.

A grpc.aio client still writing when the server ends the call reports INTERNAL "Internal error
from Core" instead, now and then (grpc/grpc#36066). Two defences, each tested here: the API
server drains a refused upload (bounded) before answering, for any grpc.aio client; and
LightningStorClient keeps the status that arrived first, for refusals that happen before any
handler runs (authentication), where nothing drains.
"""

from __future__ import annotations

import pytest

from lightningstor_client import AsyncLightningStorClient
from lightningstor_types.errors import AccessDenied, NoSuchBucket, NoSuchUpload
from tests.integration.server import ServerProcess

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


async def test_an_unauthenticated_upload_always_reports_access_denied(
    module_server: ServerProcess,
) -> None:
    # 8 MiB: about one in five of these lost the server's status before the client kept it.
    body = b"x" * (8 * 1024 * 1024)
    keys = module_server.admin_keys()
    anonymous = AsyncLightningStorClient(module_server.grpc_addr)
    bad_secret = AsyncLightningStorClient(
        module_server.grpc_addr, access_key=keys["access_key"], secret_key="not-the-secret"
    )
    async with anonymous, bad_secret:
        for _ in range(15):
            with pytest.raises(AccessDenied):
                await anonymous.put_object("no-such-bucket-here", "k", body)
            with pytest.raises(AccessDenied):
                await bad_secret.put_object("no-such-bucket-here", "k", body)
