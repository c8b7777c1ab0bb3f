"""Readiness follows its dependencies: etcd stopped → not ready (and why), back → ready; the same
for a real external IAM process, paused and resumed. First the probe in process, then a real
server's ``/ready`` and gRPC health with the IAM paused or killed, and on etcd without quorum."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lightningstor_api.health import ReadinessProbe
from lightningstor_api.iam import IamClientAuthorizer
from lightningstor_api.metadata import EmbeddedStore
from lightningstor_api.metadata.etcd import EtcdStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from lightningstor_storage import LocalBackend
from lightningstor_types.config import IamSettings
from tests.iam.iamproc import IamProcess, running_iam, start_iam, write_config
from tests.integration.server import ServerProcess, running_server
from tests.ops.test_observability import get
from tests.ports import PortHold
from tests.wait import await_until, wait_until

IAM_TIMEOUT = 1.0
"""The IAM client's deadline (and so its probe's): a paused IAM is not ready after it."""


@pytest.fixture
def iam(tmp_path: Path) -> Iterator[IamProcess]:
    config = write_config(tmp_path / "iam.toml", "[iam]\n")
    with running_iam(tmp_path / "iam", config) as proc:
        yield proc


def iam_client(addr: str) -> IamClientAuthorizer:
    return IamClientAuthorizer(
        IamSettings(mode="external", endpoint=addr, timeout_seconds=IAM_TIMEOUT)
    )


async def _wait(probe: ReadinessProbe, ready: bool) -> dict[str, str]:
    async def reached() -> dict[str, str] | None:
        report = await probe.check()
        return dict(report.checks) if report.ready == ready else None

    return await await_until(reached, message=f"readiness {ready}")


async def test_ready_follows_etcd_and_iam(tmp_path: Path, iam: IamProcess) -> None:
    from tests.fixtures.etcd import running_etcd

    with running_etcd(tmp_path / "etcd") as cluster:
        store = await EtcdStore.open(
            EtcdConfig([cluster.endpoint], timeout=1.0, namespace=b"ready-test/")
        )
        authz = iam_client(iam.addr)
        probe = ReadinessProbe(
            store, LocalBackend(tmp_path / "chunks"), authz, probe_key=b"", ttl=0.0, timeout=5.0
        )
        try:
            assert await _wait(probe, True) == {"metadata": "ok", "storage": "ok", "iam": "ok"}
            member = cluster.members[0]
            member.stop()
            checks = await _wait(probe, False)
            assert checks["metadata"] != "ok" and checks["storage"] == "ok", checks
            assert checks["iam"] == "ok", checks
            cluster.restart(member)
            assert (await _wait(probe, True))["metadata"] == "ok"
            iam.pause()  # alive but silent: only a call with a deadline notices
            checks = await _wait(probe, False)
            assert checks["iam"].startswith("IamUnavailable:"), checks
            assert checks["metadata"] == "ok", checks
            iam.resume()
            assert await _wait(probe, True) == {"metadata": "ok", "storage": "ok", "iam": "ok"}
        finally:
            iam.resume()
            await authz.aclose()
            await store.close()


async def test_an_iam_where_nothing_listens_is_not_ready(tmp_path: Path) -> None:
    # A bound socket that never listens: connections to its port are refused while we hold it,
    # and no other process can take the port meanwhile.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        authz = iam_client(f"127.0.0.1:{hole.getsockname()[1]}")
        store = await EmbeddedStore.open(tmp_path / "meta.db")
        probe = ReadinessProbe(
            store, LocalBackend(tmp_path / "chunks"), authz, probe_key=b"k", ttl=0.0, timeout=5.0
        )
        try:
            report = await probe.check()
            assert not report.ready
            assert report.checks["iam"] == (
                f"IamUnavailable: the IAM at {authz.endpoint} answered UNAVAILABLE"
            ), report
            assert report.checks["metadata"] == "ok" and report.checks["storage"] == "ok"
        finally:
            await authz.aclose()
            await store.close()


async def test_probe_is_cached(tmp_path: Path, iam: IamProcess) -> None:
    store = await EmbeddedStore.open(tmp_path / "meta.db")
    authz = iam_client(iam.addr)
    probe = ReadinessProbe(
        store, LocalBackend(tmp_path / "chunks"), authz, probe_key=b"k", ttl=60.0, timeout=5.0
    )
    try:
        reports = await asyncio.gather(*(probe.check() for _ in range(10)))
        assert reports[0].ready
        assert all(r is reports[0] for r in reports)  # one probe answered all ten
        iam.pause()
        again = await probe.check()  # within the ttl: the cached report, the IAM is not asked
        assert again is reports[0]
    finally:
        iam.resume()
        await authz.aclose()
        await store.close()


@pytest.mark.parametrize("ready", [True, False])
async def test_watch_reports_changes(tmp_path: Path, iam: IamProcess, ready: bool) -> None:
    store = await EmbeddedStore.open(tmp_path / "meta.db")
    authz = iam_client(iam.addr)
    probe = ReadinessProbe(
        store, LocalBackend(tmp_path / "chunks"), authz, probe_key=b"k", ttl=0.0, timeout=5.0
    )
    if not ready:
        iam.pause()
    seen: list[bool] = []

    async def on_change(value: bool) -> None:
        seen.append(value)

    task = asyncio.create_task(probe.watch(on_change, interval=0.02))
    try:
        await await_until(lambda: seen == [ready], message=f"the first report ({ready})")
        if ready:
            iam.pause()
        else:
            iam.resume()
        await await_until(lambda: len(seen) == 2, message="the change to be reported")
        assert seen == [ready, not ready]
    finally:
        task.cancel()
        iam.resume()
        await authz.aclose()
        await store.close()


# -- The same on real processes: a server's /ready and gRPC health, as a load balancer sees them --

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def http_ready(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    status, body, _ = get(f"http://{server.ports['s3']}/ready")
    return status, json.loads(body)


def grpc_health(server: ServerProcess) -> int:
    with grpc.insecure_channel(server.grpc_addr) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
    return int(reply.status)


def wait_readiness(server: ServerProcess, ready: bool) -> dict[str, Any]:
    """Wait until both /ready and gRPC health say ``ready``; the /ready report then.

    Each turns on its own schedule (/ready probes on demand, gRPC health on its watch), so each
    is waited for; the deadline only guards against a hang (a probe answers in ~2 s)."""
    status, health = (200, SERVING) if ready else (503, NOT_SERVING)
    wait_until(lambda: grpc_health(server) == health, message=f"gRPC health {health}")
    return wait_until(
        lambda: (r := http_ready(server))[0] == status and r[1],
        message=f"/ready {status}",
    )


def test_server_with_external_iam_is_not_ready_while_the_iam_is_paused_or_dead(
    tmp_path: Path, iam: IamProcess
) -> None:
    env = {
        "LIGHTNINGSTOR_IAM__MODE": "external",
        "LIGHTNINGSTOR_IAM__ENDPOINT": iam.addr,
        "LIGHTNINGSTOR_IAM__TIMEOUT_SECONDS": str(IAM_TIMEOUT),
    }
    hold = PortHold()
    with running_server(tmp_path / "server", env=env) as server:
        try:
            assert wait_readiness(server, True)["checks"]["iam"] == "ok"

            iam.pause()  # alive, connections open, silent: only the probe's deadline notices
            report = wait_readiness(server, False)
            assert report["checks"]["iam"].startswith("IamUnavailable:"), report
            assert report["checks"]["metadata"] == "ok", report
            iam.resume()
            assert wait_readiness(server, True)["checks"]["iam"] == "ok"

            iam.kill()  # gone: connections refused
            hold.hold(int(iam.addr.rpartition(":")[2]))  # its port, for its return
            report = wait_readiness(server, False)
            assert report["checks"]["iam"].startswith("IamUnavailable:"), report
            hold.release()
            back = start_iam(iam.workdir, tmp_path / "iam.toml", addr=iam.addr)
            try:
                assert wait_readiness(server, True)["checks"]["iam"] == "ok"
            finally:
                back.stop()
        finally:
            hold.release()
            iam.resume()


@pytest.mark.etcd
def test_server_on_etcd_is_not_ready_without_quorum(tmp_path: Path) -> None:
    from tests.fixtures.etcd import running_etcd

    with running_etcd(tmp_path / "etcd", members=3) as cluster:
        env = {
            "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
            "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(cluster.endpoints),
            "LIGHTNINGSTOR_METADATA__TIMEOUT_SECONDS": "1",
        }
        with running_server(tmp_path / "server", env=env) as server:
            assert wait_readiness(server, True)["checks"]["metadata"] == "ok"
            lost = cluster.members[1:]
            for member in lost:
                member.stop()
            report = wait_readiness(server, False)
            assert report["checks"]["metadata"] != "ok", report
            assert report["checks"]["storage"] == "ok" and report["checks"]["iam"] == "ok"
            for member in lost:
                member.launch(cluster.initial_cluster, cluster.token)
            cluster.wait_healthy(lost, timeout=60)
            assert wait_readiness(server, True)["checks"] == {
                "metadata": "ok",
                "storage": "ok",
                "iam": "ok",
            }
