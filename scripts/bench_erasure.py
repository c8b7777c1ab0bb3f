"""Erasure coding 4+2 against replication 3 on the same seven local storage nodes, in one run.

For each policy: PUT and GET of 64 MiB objects through the chunk backend (eight 8 MiB chunks
each, streamed in 1 MiB pieces as the core does, the chunks of an object in parallel), the raw
bytes the nodes' disks gained per logical byte, then GET again with two nodes killed (degraded:
erasure decodes from parity). The nodes are restarted between the policies. Before that, the
codec alone: encode and decode MB/s of pyeclib (ISA-L) and zfec, one thread and two, for 4+2 and
8+3 (decode with m data fragments lost).

Every process started here is stopped at the end, whatever happens.

    uv run python scripts/bench_erasure.py [--objects 4] [--no-codec]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test fixtures start the processes

from lightningstor_storage import ChunkInfo, new_chunk_id  # noqa: E402
from lightningstor_storage.erasure import Codec, ErasureBackend  # noqa: E402
from lightningstor_storage.replicated import Cluster, Node, ReplicatedBackend  # noqa: E402
from tests.storage_nodes.nodes import NodeProcess, restore, running_nodes  # noqa: E402

MiB = 1024 * 1024
CHUNK = 8 * MiB
OBJECT = 64 * MiB


def rate(fn: Callable[[], object], nbytes: int, threads: int, reps: int = 4) -> float:
    """MB/s (MiB) of ``fn`` over ``nbytes``, run ``reps`` times in each of ``threads``."""

    def work() -> None:
        for _ in range(reps):
            fn()

    started = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return nbytes * reps * threads / (time.perf_counter() - started) / MiB


def bench_codecs() -> None:
    try:  # only for the comparison; not a dependency of the project
        zfec: Any = importlib.import_module("zfec")
    except ImportError:
        zfec = None
        print("(zfec not installed: `uv pip install zfec` to compare)")
    data = os.urandom(CHUNK)
    print("codec, 8 MiB buffers: MB/s with 1 thread / 2 threads")
    for k, m in ((4, 2), (8, 3)):
        codec = Codec(k, m)
        stripes = [data[at : at + codec.stripe_size] for at in range(0, CHUNK, codec.stripe_size)]
        coded = [codec.driver.encode(s) for s in stripes]
        degraded = [f[m:] for f in coded]  # m data fragments lost
        healthy = [f[:k] for f in coded]

        def enc(c: Codec = codec, st: list[bytes] = stripes) -> None:
            for s in st:
                c.driver.encode(s)

        def dec(c: Codec = codec, d: list[list[bytes]] = degraded) -> None:
            c.decode(d)

        def copy(c: Codec = codec, h: list[list[bytes]] = healthy) -> None:
            c.decode(h)

        runs: list[tuple[str, Callable[[], object]]] = [
            ("pyeclib isa_l_rs_cauchy encode", enc),
            ("pyeclib isa_l_rs_cauchy decode (m lost)", dec),
            ("pyeclib isa_l_rs_cauchy decode (data)", copy),
        ]
        if zfec is not None:
            runs += zfec_runs(zfec, data, k, m)
        for name, fn in runs:
            one, two = rate(fn, len(data), 1), rate(fn, len(data), 2)
            print(f"  {k}+{m} {name:42} {one:7.0f} / {two:7.0f}")


def zfec_runs(zfec: Any, data: bytes, k: int, m: int) -> list[tuple[str, Callable[[], object]]]:
    """zfec's encode and decode (m data blocks lost) of ``data`` as k blocks."""
    size = len(data) // k
    blocks = [data[i * size : (i + 1) * size] for i in range(k)]
    encoder = zfec.Encoder(k, k + m)
    parity_nums = list(range(k, k + m))
    parity = encoder.encode(blocks, parity_nums)
    decoder = zfec.Decoder(k, k + m)
    have = blocks[m:] + parity
    nums = list(range(m, k + m))
    return [
        ("zfec encode", lambda: encoder.encode(blocks, parity_nums)),
        ("zfec decode (m lost)", lambda: decoder.decode(have, nums)),
    ]


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    for at in range(0, len(data), MiB):
        yield data[at : at + MiB]


async def put_object(b: ReplicatedBackend, data: bytes) -> list[ChunkInfo]:
    parts = [data[at : at + CHUNK] for at in range(0, len(data), CHUNK)]
    return list(await asyncio.gather(*(b.put_chunk(new_chunk_id(), pieces(p)) for p in parts)))


async def get_object(b: ReplicatedBackend, chunks: Sequence[ChunkInfo]) -> int:
    async def one(info: ChunkInfo) -> int:
        got = 0
        async for piece in b.get_chunk(info.chunk_id, 0, info.size, replicas=info.replicas):
            got += len(piece)
        return got

    return sum(await asyncio.gather(*(one(i) for i in chunks)))


def disk_bytes(nodes: Sequence[NodeProcess]) -> int:
    return sum(p.stat().st_size for n in nodes for p in n.chunk_files().values())


async def bench_policy(name: str, nodes: list[NodeProcess], objects: int) -> None:
    placed = [Node(n.address) for n in nodes]
    backend: ReplicatedBackend
    if name == "replicated-3":
        cluster = Cluster(placed, replication_factor=3, write_quorum=2, timeout=30, backoff=30)
        backend = ReplicatedBackend(cluster, scrub_rate=0)
    else:
        cluster = Cluster(placed, replication_factor=6, write_quorum=5, timeout=30, backoff=30)
        backend = ErasureBackend(cluster, Codec(4, 2), scrub_rate=0)
    try:
        data = os.urandom(OBJECT)
        before = disk_bytes(nodes)
        started = time.perf_counter()
        written = [await put_object(backend, data) for _ in range(objects)]
        put_s = time.perf_counter() - started
        await backend.idle()
        raw = (disk_bytes(nodes) - before) / (objects * OBJECT)
        started = time.perf_counter()
        for chunks in written:
            assert await get_object(backend, chunks) == OBJECT
        get_s = time.perf_counter() - started
        nodes[0].kill()
        nodes[1].kill()
        started = time.perf_counter()
        for chunks in written:
            assert await get_object(backend, chunks) == OBJECT
        degraded_s = time.perf_counter() - started
        mb = objects * OBJECT / MiB
        print(
            f"  {name:13} PUT {mb / put_s:7.0f} MB/s   GET {mb / get_s:7.0f} MB/s   "
            f"raw/logical {raw:5.2f}   GET, 2 nodes down {mb / degraded_s:7.0f} MB/s"
        )
    finally:
        await backend.close()
        restore(nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=4, help="64 MiB objects per policy")
    parser.add_argument("--no-codec", action="store_true", help="skip the codec comparison")
    args = parser.parse_args()
    if not args.no_codec:
        bench_codecs()
    with tempfile.TemporaryDirectory() as tmp, running_nodes(Path(tmp), 7) as nodes:
        print(f"backend, seven nodes on this host, {args.objects} x 64 MiB objects:")
        for name in ("replicated-3", "erasure-4+2"):
            asyncio.run(bench_policy(name, nodes, args.objects))


if __name__ == "__main__":
    main()
