"""Readiness follows its dependencies: etcd stopped → not ready (and why), back → ready."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lightningstor_api.authz import AllowAll
from lightningstor_api.health import ReadinessProbe
from lightningstor_api.metadata.etcd import EtcdStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from lightningstor_storage import LocalBackend


class FlakyIam:
    """An authorizer with a probe, as the external IAM client offers one."""

    def __init__(self) -> None:
        self.up = True

    async def authorize(self, *args: object) -> None:
        return None

    async def probe(self) -> None:
        if not self.up:
            raise ConnectionError("IAM unreachable")


async def _wait(probe: ReadinessProbe, ready: bool, timeout: float = 20.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        report = await probe.check()
        if report.ready == ready or time.monotonic() > deadline:
            assert report.ready == ready, report
            return dict(report.checks)
        await asyncio.sleep(0.1)


async def test_ready_follows_etcd_and_iam(tmp_path: Path) -> None:
    from tests.fixtures.etcd import running_etcd

    with running_etcd(tmp_path / "etcd") as cluster:
        store = await EtcdStore.open(
            EtcdConfig([cluster.endpoint], timeout=1.0, namespace=b"ready-test/")
        )
        iam = FlakyIam()
        probe = ReadinessProbe(
            store, LocalBackend(tmp_path / "chunks"), iam, probe_key=b"", ttl=0.0, timeout=1.5
        )
        try:
            assert await _wait(probe, True) == {"metadata": "ok", "storage": "ok", "iam": "ok"}
            member = cluster.members[0]
            member.stop()
            checks = await _wait(probe, False)
            assert checks["metadata"] != "ok" and checks["storage"] == "ok", checks
            cluster.restart(member)
            assert (await _wait(probe, True))["metadata"] == "ok"
            iam.up = False
            checks = await _wait(probe, False)
            assert checks["iam"] == "ConnectionError: IAM unreachable"
            iam.up = True
            await _wait(probe, True)
        finally:
            await store.close()


async def test_probe_is_cached(tmp_path: Path) -> None:
    calls = 0

    class CountingStore:
        async def get(self, key: bytes) -> None:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)

    probe = ReadinessProbe(
        CountingStore(),  # type: ignore[arg-type]
        LocalBackend(tmp_path),
        AllowAll(),
        probe_key=b"k",
        ttl=60.0,
    )
    reports = await asyncio.gather(*(probe.check() for _ in range(10)))
    assert all(r.ready for r in reports)
    await probe.check()
    assert calls == 1


@pytest.mark.parametrize("ready", [True, False])
async def test_watch_reports_changes(tmp_path: Path, ready: bool) -> None:
    iam = FlakyIam()
    iam.up = ready

    class Store:
        async def get(self, key: bytes) -> None:
            return None

    probe = ReadinessProbe(Store(), LocalBackend(tmp_path), iam, probe_key=b"", ttl=0.0)  # type: ignore[arg-type]
    seen: list[bool] = []

    async def on_change(value: bool) -> None:
        seen.append(value)

    task = asyncio.create_task(probe.watch(on_change, interval=0.02))
    await asyncio.sleep(0.1)
    iam.up = not ready
    await asyncio.sleep(0.1)
    task.cancel()
    assert seen == [ready, not ready]
