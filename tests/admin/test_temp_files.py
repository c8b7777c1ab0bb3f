"""Temporary chunk files a crash leaves (local backend): removed when the server starts again,
by the GC past the grace period, and counted (and with ``--repair`` deleted) by the check."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lightningstor_client import AsyncLightningStorClient
from tests.admin.cli import run_cli
from tests.admin.conftest import admin_server
from tests.integration.server import start_server
from tests.wait import await_until

pytestmark = pytest.mark.timeout(180)
MIB = 1024 * 1024
DAY = 86400


def temp_dir(data_dir: Path) -> Path:
    return data_dir / "chunks" / "tmp"


def plant_temp(data_dir: Path, age_seconds: float, size: int = 3000) -> Path:
    """A temporary file as a put killed mid-write leaves it, last written ``age_seconds`` ago."""
    path = temp_dir(data_dir) / f"{secrets.token_hex(16)}.{secrets.token_hex(8)}.tmp"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


async def test_a_crash_mid_put_leaves_temporary_files_that_a_restart_removes(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path / "server")
    tmp = temp_dir(server.data_dir)
    try:
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
            await client.create_bucket("crash")
            hold = asyncio.Event()

            async def body() -> AsyncIterator[bytes]:
                yield os.urandom(MIB)
                yield os.urandom(MIB)
                await hold.wait()  # the rest never comes: the server dies first

            put = asyncio.create_task(client.put_object("crash", "big", body()))
            await await_until(
                lambda: tmp.is_dir() and any(tmp.iterdir()), message="a temporary chunk file"
            )
            server.proc.kill()  # kill -9: no cleanup runs
            server.proc.wait()
            hold.set()
            with contextlib.suppress(Exception):
                await put
        assert list(tmp.iterdir()), "the crash left its temporary file"
    finally:
        server.stop()
    again = start_server(tmp_path / "server")  # the same data directory
    try:
        assert list(tmp.iterdir()) == []
    finally:
        again.stop()


def test_gc_and_check_find_old_temporary_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for server in admin_server(tmp_path / "admin"):
        keys = server.admin_keys()
        old = [plant_temp(server.data_dir, 2 * DAY, size) for size in (1000, 2000)]
        young = plant_temp(server.data_dir, 0)  # a put in flight, as far as anyone can tell

        dry = run_cli(monkeypatch, server, keys, "admin", "check", "--json", "--grace", "3600")
        assert dry.code == 1, dry.out + dry.err
        (summary,) = [line["summary"] for line in dry.json_lines() if "summary" in line]
        assert (summary["temp_files"], summary["temp_bytes"]) == (2, 3000), summary
        assert summary["remaining"] == 2 and not summary["consistent"]
        assert all(p.exists() for p in old)  # a dry run changes nothing
        human = run_cli(monkeypatch, server, keys, "admin", "check", "--grace", "3600")
        assert "leftover temporary files 2" in human.out, human.out

        ran = run_cli(monkeypatch, server, keys, "admin", "gc", "run", "--json")
        assert ran.code == 0, ran.err
        (result,) = ran.json_lines()
        assert result["temp_files_removed"] == 2, result
        assert not any(p.exists() for p in old) and young.exists()

        again = plant_temp(server.data_dir, 2 * DAY)
        repaired = run_cli(
            monkeypatch, server, keys, "admin", "check", "--json", "--grace", "3600", "--repair"
        )
        assert repaired.code == 0, repaired.out + repaired.err
        (summary,) = [line["summary"] for line in repaired.json_lines() if "summary" in line]
        assert (summary["temp_files"], summary["temp_files_deleted"]) == (1, 1), summary
        assert not again.exists() and young.exists()
        clean = run_cli(monkeypatch, server, keys, "admin", "check", "--grace", "3600")
        assert clean.code == 0, clean.out
