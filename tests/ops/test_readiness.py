"""Readiness follows its dependencies: etcd stopped → not ready (and why), back → ready; the same
for a real external IAM process, paused and resumed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightningstor_api.health import ReadinessProbe
from lightningstor_api.iam import IamClientAuthorizer
from lightningstor_api.metadata import EmbeddedStore
from lightningstor_api.metadata.etcd import EtcdStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from lightningstor_storage import LocalBackend
from lightningstor_types.config import IamSettings
from tests.iam.iamproc import IamProcess, running_iam, write_config
from tests.wait import await_until

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
