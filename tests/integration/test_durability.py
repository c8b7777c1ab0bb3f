"""Issue 3's acceptance: a 1 GiB object streams through a real server in bounded memory, and a
SIGKILL during concurrent PUTs loses no acknowledged object and leaks no chunk after GC."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.metadata import EmbeddedStore
from lightningstor_client import AsyncLightningStorClient
from tests.integration.server import ServerProcess, running_server, start_server
from tests.wait import await_until

MIB = 1024 * 1024
MAX_GROWTH = 64 * MIB
"""How much the server's RSS may grow while a 1 GiB object streams through it."""


def block(i: int, size: int = MIB) -> bytes:
    """Deterministic, incompressible-looking content for block ``i``."""
    seed = hashlib.sha256(i.to_bytes(8, "big")).digest()
    return (seed * (size // len(seed) + 1))[:size]


class RssSampler:
    """Samples a process's resident set size in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.slow
async def test_one_gib_object_streams_in_and_out_in_bounded_memory(tmp_path: Path) -> None:
    blocks = 1024
    expected = hashlib.sha256()

    async def body() -> AsyncIterator[bytes]:
        for i in range(blocks):
            data = block(i)
            expected.update(data)
            yield data

    with running_server(tmp_path / "srv") as server:
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
            await client.create_bucket("big")  # connected and warm: the baseline is measured
            baseline = psutil.Process(server.proc.pid).memory_info().rss
            with RssSampler(server.proc.pid) as sampler:
                result = await client.put_object(
                    "big", "one-gib", body(), content_length=blocks * MIB
                )
                assert result.size == blocks * MIB
                got = hashlib.sha256()
                n = 0
                async with await client.get_object("big", "one-gib") as stream:
                    async for piece in stream:
                        got.update(piece)
                        n += len(piece)
            assert n == blocks * MIB
            assert got.hexdigest() == expected.hexdigest()
    # Bounded memory: 1 GiB passes through while the server's RSS grows by far less than the
    # object (growth over its own baseline, so a busy machine's larger baseline does not count).
    growth = sampler.peak - baseline
    assert growth < MAX_GROWTH, (growth / MIB, baseline / MIB, sampler.peak / MIB)


def chunk_files(data_dir: Path) -> set[str]:
    root = data_dir / "chunks"
    return {p.name for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"}


async def referenced_chunks(data_dir: Path) -> tuple[set[str], set[str]]:
    """The chunk ids named by data records, and those waiting in the GC journal."""
    store = await EmbeddedStore.open(data_dir / "metadata.db")
    try:
        live: set[str] = set()
        journaled: set[str] = set()
        for kv in (await store.range(b"lightningstor/data/")).kvs:
            rec = records_pb2.DataRecord.FromString(kv.value)
            live.update(c.chunk_id for c in rec.chunks.chunks)
        for kv in (await store.range(b"lightningstor/gc/")).kvs:
            data = records_pb2.GcRecord.FromString(kv.value).data
            journaled.update(c.chunk_id for c in data.chunks.chunks)
        return live, journaled
    finally:
        await store.close()


def payload(key: str) -> bytes:
    """Each key's content is a function of its name, so any visible object can be checked."""
    n = int(key.rsplit("-", 1)[1])
    size = [0, 1, 4096, MIB + 17, 3 * MIB - 5][n % 5]
    return (hashlib.sha256(key.encode()).digest() * (size // 32 + 1))[:size]


@pytest.mark.slow
async def test_sigkill_during_puts_loses_nothing_acknowledged(tmp_path: Path) -> None:
    workdir = tmp_path / "srv"
    env = {
        "LIGHTNINGSTOR_STORAGE__CHUNK_SIZE": str(MIB),
        "LIGHTNINGSTOR_STORAGE__GC_GRACE_SECONDS": "0",
        "LIGHTNINGSTOR_STORAGE__GC_INTERVAL_SECONDS": "0.2",
    }
    acked: dict[str, str] = {}
    server = start_server(workdir, env=env)
    try:
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
            await client.create_bucket("crash")

            async def writer(w: int) -> None:
                i = 0
                while True:
                    key = f"w{w}/obj-{i}"
                    data = payload(key)
                    r = await client.put_object("crash", key, data)
                    acked[key] = r.etag
                    i += 1

            tasks = [asyncio.create_task(writer(w)) for w in range(6)]

            def acked_60() -> bool:
                for t in tasks:
                    if t.done():
                        t.result()  # a put failed before the kill: raise it here
                return len(acked) >= 60

            await await_until(acked_60, message="60 acknowledged puts")
            os.kill(server.proc.pid, signal.SIGKILL)
            results = await asyncio.gather(*tasks, return_exceptions=True)
            assert all(isinstance(r, Exception) for r in results)
    finally:
        server.stop(timeout=5)

    with running_server(workdir, env=env) as server:
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
            listed = {o.key async for o in client.iter_objects("crash")}
            # Every acknowledged object survived, byte for byte.
            assert set(acked) <= listed
            # Nothing half-written is visible: every listed object is complete.
            for key in listed:
                async with await client.get_object("crash", key) as stream:
                    content = b"".join([p async for p in stream])
                assert content == payload(key), key
            # GC reclaims the chunks of PUTs that never committed.
            await wait_for_gc(server)


async def wait_for_gc(server: ServerProcess) -> None:
    """Until the journal is empty and only referenced chunks are on disk."""

    async def collected() -> bool:
        live, journaled = await referenced_chunks(server.data_dir)
        return not journaled and chunk_files(server.data_dir) == live

    await await_until(collected, message="GC to leave only referenced chunks")
