"""PUT/GET throughput of the replicated backend (RF=3, four local storage nodes) against the
local backend, for 4 KiB and 64 MiB objects, in one run.

Two layers are measured, each on both backends:

- ``server``: a real ``lightningstor-server`` (embedded metadata, 8 MiB chunks) driven by
  ``AsyncLightningStorClient`` over loopback gRPC, as a user sees it;
- ``backend``: the chunk backend alone, in this process (``put_chunk``/``get_chunk`` of one
  chunk per 4 KiB object, eight 8 MiB chunks per 64 MiB object), to show what replication
  itself costs.

Every process started here is stopped at the end, whatever happens.

    uv run python scripts/bench_storage.py [--small 2000] [--large 4] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test fixtures start the processes

from lightningstor_client import AsyncLightningStorClient  # noqa: E402
from lightningstor_storage import LocalBackend, StorageBackend, new_chunk_id  # noqa: E402
from lightningstor_storage.replicated import Cluster, Node, ReplicatedBackend  # noqa: E402
from tests.storage_nodes.nodes import NodeProcess, running_nodes  # noqa: E402

KiB, MiB = 1024, 1024 * 1024
CHUNK = 8 * MiB


@dataclass(frozen=True)
class Result:
    layer: str
    backend: str
    op: str
    size: int
    count: int
    seconds: float

    @property
    def ops(self) -> float:
        return self.count / self.seconds

    @property
    def mib_s(self) -> float:
        return self.count * self.size / MiB / self.seconds


async def timed(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run ``one(i)`` for i in range(count), ``concurrency`` at a time; the seconds taken."""
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


# ---- the server layer ----


@contextlib.contextmanager
def running_server(workdir: Path, config: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A ``lightningstor-server`` on a free port: (gRPC address, admin key kwargs)."""
    workdir.mkdir(parents=True)
    ports = workdir / "ports.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTNINGSTOR_")}
    env["LIGHTNINGSTOR_PORTS_FILE"] = str(ports)
    command = [
        sys.executable, "-m", "lightningstor_api.main", "--config", str(config),
        "--grpc-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0",
        "--data-dir", str(workdir / "data"),
    ]  # fmt: skip
    with (workdir / "server.log").open("wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ports.exists():  # written once the server serves
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "server.log").read_text())
            time.sleep(0.05)
        admin = json.loads((workdir / "data" / "admin-credentials.json").read_text())
        keys = {"access_key": admin["access_key_id"], "secret_key": admin["secret_access_key"]}
        yield json.loads(ports.read_text())["grpc"], keys
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_config(path: Path, nodes: Sequence[NodeProcess] | None) -> Path:
    lines = ["[storage]", 'chunk_size = "8MiB"', "[logging]", 'level = "warning"']
    if nodes:
        lines[1:1] = ['backend = "distributed"']
        lines += ["[storage.distributed]", "replication_factor = 3"]
        for node in nodes:
            lines += ["[[storage.distributed.nodes]]", f'address = "{node.address}"']
    path.write_text("\n".join(lines) + "\n")
    return path


async def bench_server(
    name: str, addr: str, keys: dict[str, str], small: int, large: int, concurrency: int
) -> list[Result]:
    results = []
    client = AsyncLightningStorClient(
        addr, access_key=keys["access_key"], secret_key=keys["secret_key"]
    )
    async with client:
        await client.create_bucket("bench")
        for size, count, conc in ((4 * KiB, small, concurrency), (64 * MiB, large, 2)):
            data = os.urandom(size)

            async def put(i: int, size: int = size, data: bytes = data) -> None:
                await client.put_object("bench", f"{size}/{i}", data)

            async def get(i: int, size: int = size) -> None:
                async with await client.get_object("bench", f"{size}/{i}") as stream:
                    async for _ in stream:
                        pass

            for op, fn in (("PUT", put), ("GET", get)):
                seconds = await timed(count, conc, fn)
                results.append(Result("server", name, op, size, count, seconds))
    return results


# ---- the backend layer ----


async def bench_backend(
    name: str, backend: StorageBackend, small: int, large: int, concurrency: int
) -> list[Result]:
    results = []
    for size, count, conc in ((4 * KiB, small, concurrency), (64 * MiB, large, 2)):
        pieces = [os.urandom(min(size, CHUNK)) for _ in range(max(1, size // CHUNK))]
        ids: list[list[str]] = [[] for _ in range(count)]

        async def put(i: int, pieces: list[bytes] = pieces, ids: list[list[str]] = ids) -> None:
            for piece in pieces:
                chunk_id = new_chunk_id()
                await backend.put_chunk(chunk_id, piece)
                ids[i].append(chunk_id)

        async def get(i: int, ids: list[list[str]] = ids) -> None:
            for chunk_id in ids[i]:
                async for _ in backend.get_chunk(chunk_id):
                    pass

        for op, fn in (("PUT", put), ("GET", get)):
            seconds = await timed(count, conc, fn)
            results.append(Result("backend", name, op, size, count, seconds))
    return results


def replicated_over(nodes: Sequence[NodeProcess]) -> ReplicatedBackend:
    cluster = Cluster(
        [Node(n.address) for n in nodes], replication_factor=3, write_quorum=2, timeout=30.0
    )
    return ReplicatedBackend(cluster, scrub_rate=0)


# ---- the run ----


def table(results: Sequence[Result]) -> str:
    rows = [
        "| layer | backend | operation | objects | seconds | objects/s | MiB/s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        size = f"{r.size // MiB} MiB" if r.size >= MiB else f"{r.size // KiB} KiB"
        rows.append(
            f"| {r.layer} | {r.backend} | {r.op} {size} | {r.count} | {r.seconds:.2f} "
            f"| {r.ops:,.1f} | {r.mib_s:,.1f} |"
        )
    return "\n".join(rows)


async def run(args: argparse.Namespace, workdir: Path, nodes: list[NodeProcess]) -> list[Result]:
    results: list[Result] = []
    local = LocalBackend(workdir / "local-backend")
    replicated = replicated_over(nodes)
    try:
        for name, backend in (("local", local), ("replicated RF=3", replicated)):
            results += await bench_backend(name, backend, args.small, args.large, args.concurrency)
    finally:
        await local.close()
        await replicated.close()
    for name, placed in (("local", None), ("replicated RF=3", nodes)):
        tag = "dist" if placed else "local"
        config = server_config(workdir / f"{tag}.toml", placed)
        with running_server(workdir / f"server-{tag}", config) as (addr, keys):
            results += await bench_server(
                name, addr, keys, args.small, args.large, args.concurrency
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=2000, help="4 KiB objects per run")
    parser.add_argument("--large", type=int, default=4, help="64 MiB objects per run")
    parser.add_argument("--concurrency", type=int, default=32, help="4 KiB requests in flight")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        workdir = Path(tmp)
        with running_nodes(workdir / "nodes", 4, args=["--log-level", "warning"]) as nodes:
            results = asyncio.run(run(args, workdir, nodes))
    print(f"{os.cpu_count()} CPUs; 4 storage nodes, the server and this client on one host\n")
    print(table(results))


if __name__ == "__main__":
    main()
