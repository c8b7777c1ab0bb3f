"""Usage and quotas through real server processes: boto3, the gRPC client and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import grpc
import pytest
from botocore.exceptions import ClientError

from lightningstor_api.metadata import EtcdStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from lightningstor_client import AsyncLightningStorClient, LightningStorClient, Quota
from lightningstor_types.errors import QuotaExceeded
from tests.fixtures.etcd import EtcdCluster, running_etcd
from tests.integration.server import ServerProcess, clean_env, running_server, start_server
from tests.s3.conftest import make_client
from tests.wait import await_until, wait_for_value

FAST = {
    "LIGHTNINGSTOR_USAGE__FLUSH_INTERVAL_SECONDS": "0.2",
    "LIGHTNINGSTOR_USAGE__FOLD_INTERVAL_SECONDS": "0.3",
}
DEADLINE = 30.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running_server(tmp_path / "srv", env=FAST) as proc:
        yield proc


def test_requests_and_bytes_are_counted_for_s3_and_grpc(server: ServerProcess) -> None:
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    with LightningStorClient(server.grpc_addr, **keys) as client:
        start = client.get_usage(org="default").total
        s3.create_bucket(Bucket="counted")
        s3.put_object(Bucket="counted", Key="k", Body=b"s" * 5000)
        assert s3.get_object(Bucket="counted", Key="k")["Body"].read() == b"s" * 5000
        after_s3 = wait_for_value(
            lambda: client.get_usage(org="default").total,
            # Every figure asserted below: the GET's bytes out are counted after its last byte,
            # and the get_usage calls themselves count as requests.
            lambda u: (
                u.requests >= start.requests + 3
                and u.bytes_in >= start.bytes_in + 5000
                and u.bytes_out >= start.bytes_out + 5000
            ),
        )
        assert after_s3.requests >= start.requests + 3
        assert after_s3.bytes_in >= start.bytes_in + 5000
        assert after_s3.bytes_out >= start.bytes_out + 5000
        client.put_object("counted", "g", b"g" * 7000)
        after_grpc = wait_for_value(
            lambda: client.get_usage(org="default").total,
            lambda u: u.bytes_in >= after_s3.bytes_in + 7000,
        )
        assert after_grpc.bytes_in >= after_s3.bytes_in + 7000
        assert after_grpc.requests > after_s3.requests
        assert (after_grpc.bytes_stored, after_grpc.object_count) == (12000, 2)
        bucket = client.get_usage(org="default", bucket="counted")
        assert bucket.buckets[("", "counted")].bytes_stored == 12000


def test_max_object_size_is_403_over_s3_and_resource_exhausted_over_grpc(
    server: ServerProcess,
) -> None:
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    with LightningStorClient(server.grpc_addr, **keys) as client:
        client.create_bucket("limited")
        client.set_quota(Quota(max_object_size=10), org="default", bucket="limited")
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket="limited", Key="big", Body=b"x" * 11)
        assert err.value.response["Error"]["Code"] == "QuotaExceeded"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(QuotaExceeded) as refused:
            client.put_object("limited", "big", b"x" * 11)
        assert refused.value.grpc_status == grpc.StatusCode.RESOURCE_EXHAUSTED
        client.put_object("limited", "fits", b"x" * 10)
        assert [o.key for o in client.list_objects("limited").objects] == ["fits"]


def run_cli(server: ServerProcess, *args: str) -> str:
    keys = server.admin_keys()
    env = clean_env(
        {
            "LIGHTNINGSTOR_ACCESS_KEY_ID": keys["access_key"],
            "LIGHTNINGSTOR_SECRET_ACCESS_KEY": keys["secret_key"],
        }
    )
    command = [sys.executable, "-m", "lightningstor_client.cli", "--endpoint", server.grpc_addr]
    done = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_cli_quota_set_and_usage(server: ServerProcess) -> None:
    run_cli(server, "admin", "quota", "set", "--org", "default", "--max-buckets", "1")
    got = json.loads(run_cli(server, "admin", "quota", "get", "--org", "default"))
    assert got["quota"]["max_buckets"] == 1
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
        client.create_bucket("only")
        with pytest.raises(QuotaExceeded):
            client.create_bucket("second")
        client.put_object("only", "a", b"abc")
    report = json.loads(run_cli(server, "admin", "usage", "--org", "default", "--json"))
    assert report["total"]["bytes_stored"] == 3
    assert report["total"]["object_count"] == 1
    assert [(b["bucket"], b["bytes_stored"]) for b in report["buckets"]] == [("only", 3)]
    run_cli(server, "admin", "quota", "delete", "--org", "default")
    assert json.loads(run_cli(server, "admin", "quota", "get", "--org", "default"))["quota"] is None


@pytest.mark.etcd
def test_two_servers_on_one_etcd_keep_exact_totals(tmp_path: Path) -> None:
    with ExitStack() as stack:
        etcd: EtcdCluster = stack.enter_context(running_etcd(tmp_path / "etcd"))
        env = {
            **FAST,
            "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
            "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(etcd.endpoints),
            "LIGHTNINGSTOR_STORAGE__LOCAL_DIR": str(tmp_path / "shared-chunks"),
            "LIGHTNINGSTOR_IAM__SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        }
        a = start_server(tmp_path / "a", env=env)
        stack.callback(a.stop)
        b = start_server(tmp_path / "b", env=env)
        stack.callback(b.stop)
        asyncio.run(_write_from_both(a, b, etcd.endpoints))


async def _write_from_both(a: ServerProcess, b: ServerProcess, endpoints: list[str]) -> None:
    keys = a.admin_keys()
    async with (
        AsyncLightningStorClient(a.grpc_addr, **keys) as ca,
        AsyncLightningStorClient(b.grpc_addr, **keys) as cb,
    ):
        await ca.create_bucket("shared")
        await ca.put_bucket_versioning("shared", "Enabled")

        async def writer(client: AsyncLightningStorClient, n: int) -> None:
            for i in range(10):
                await client.put_object("shared", f"w{n}", os.urandom(100 + n))
                if i % 3 == 2:
                    await client.delete_object("shared", f"w{n}")  # a marker: counts nothing

        await asyncio.gather(*(writer(ca if n % 2 else cb, n) for n in range(8)))
        expected = (sum(10 * (100 + n) for n in range(8)), 80)

        async def all_folded() -> bool:
            return await _pending_deltas(endpoints) == 0

        await await_until(all_folded, DEADLINE, "every usage delta to be folded")
        report = await cb.get_usage(org="default", bucket="shared")
        total = report.total
        assert (total.bytes_stored, total.object_count) == expected


async def _pending_deltas(endpoints: list[str]) -> int:
    """Usage deltas of the bucket not folded yet, read from etcd directly."""
    store = await EtcdStore.open(EtcdConfig(endpoints))
    try:
        page = await store.range(b"lightningstor/usage/default/_/shared/+")
        return len(page.kvs)
    finally:
        await store.close()
