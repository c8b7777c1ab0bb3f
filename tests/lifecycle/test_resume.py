"""A pass interrupted mid-bucket (its server gone) is resumed by the next lease holder from the
saved position: the keys handled before are not read again, the rest are."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lightningstor.v1 import bucket_pb2, lifecycle_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.lifecycle.worker import LifecycleWorker
from lightningstor_api.metrics import METRICS
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext
from tests.core.conftest import make_settings
from tests.core.helpers import put

KEYS = [f"k{i:03d}" for i in range(16)]
DEADLINE = 30.0


async def test_a_new_holder_resumes_where_the_pass_stopped(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, lifecycle={"page_size": 2, "lease_seconds": 1})
    ctx = RequestContext(principal=Principal("tester", "acme", "web"), request_id="t")
    async with await Core.open(settings) as core:
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="lc-resume"))
        for key in KEYS:
            await put(core, ctx, "lc-resume", key, b"x")
        rule = lifecycle_pb2.LifecycleRule(id="past", enabled=True)
        rule.expiration_date.FromSeconds(86400)  # long past: every object is due now
        await core.put_bucket_lifecycle_configuration(
            ctx,
            lifecycle_pb2.PutBucketLifecycleConfigurationRequest(name="lc-resume", rules=[rule]),
        )

        first = LifecycleWorker(core.cc)
        assert await first.lease.refresh()
        run = asyncio.create_task(first.run_pass(await first.progress()))
        async with asyncio.timeout(DEADLINE):
            while not (await first.progress()).after_key:  # a page done and saved
                await asyncio.sleep(0)
        run.cancel()  # the server is gone mid-pass
        await asyncio.gather(run, return_exceptions=True)
        await first.lease.release()

        stopped = await first.progress()
        done = [k for k in KEYS if k <= stopped.after_key]
        rest = [k for k in KEYS if k > stopped.after_key]
        assert done and len(rest) > 2  # stopped mid-bucket, not at its end

        second = LifecycleWorker(core.cc)
        assert await second.lease.refresh()
        before = METRICS.lifecycle.get("examined", 0)
        await second.run_pass(await second.progress())
        # It read only the keys after the saved position (and each of them once).
        left = await core.list_objects(ctx, object_pb2.ListObjectsRequest(bucket="lc-resume"))
        assert left.objects == []
        assert METRICS.lifecycle.get("examined", 0) - before <= len(rest)
        assert (await second.progress()).passes_done == 1
