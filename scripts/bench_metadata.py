#!/usr/bin/env python3
"""Put, get, range and transaction rates of the metadata store: embedded SQLite vs etcd.

    uv run python scripts/bench_metadata.py [--ops 2000] [--in-flight 32] [--etcd HOST:PORT]

Both stores run in one process, one after the other, on the same disk: the embedded store on a
file in a temporary directory, etcd (started here from the Debian package, fsync on, as in
production, unless ``--etcd`` names a running one) under a fresh key namespace. Each workload
runs once with one call in flight (latency-bound) and once with ``--in-flight`` calls.

    put     a new key with a value of --value-size bytes (one durable commit each)
    get     one existing key, at random
    range   a page of 100 keys from a random start in a prefix of --ops keys (a listing)
    txn     create-if-absent: compare create_revision = 0, then put (how the core commits)

Prints a Markdown table: ops/s and the 99th percentile latency of each. Numbers are for the
record (docs/architecture.md §2, docs/metadata-capacity.md), never asserted by tests.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fixtures.etcd

from lightningstor_api.metadata import Compare, EmbeddedStore, EtcdStore, MetadataStore, Put
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from tests.fixtures.etcd import running_etcd

PAGE = 100


@dataclass(frozen=True)
class Result:
    store: str
    workload: str
    in_flight: int
    ops: int
    seconds: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.ops / self.seconds


async def measure(
    call: Callable[[int], Awaitable[object]], ops: int, in_flight: int
) -> tuple[float, float]:
    """Run ``call(i)`` for i in range(ops), ``in_flight`` at a time: (seconds, p99 latency)."""
    latencies: list[float] = []
    counter = iter(range(ops))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    elapsed = time.perf_counter() - started
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    return elapsed, p99 * 1000


async def bench_store(
    name: str, store: MetadataStore, ops: int, in_flight: int, value: bytes
) -> list[Result]:
    results: list[Result] = []
    rng = random.Random(1)
    for width in (1, in_flight):
        prefix = b"bench/%d/" % width
        keys = [prefix + b"%08d" % i for i in range(ops)]
        txn_keys = [b"txn/%d/%08d" % (width, i) for i in range(ops)]

        async def put(i: int, keys: list[bytes] = keys) -> object:
            return await store.put(keys[i], value)

        async def get(i: int, keys: list[bytes] = keys) -> object:
            return await store.get(keys[rng.randrange(ops)])

        async def page(i: int, keys: list[bytes] = keys, prefix: bytes = prefix) -> object:
            start = keys[rng.randrange(max(1, ops - PAGE))]
            return await store.range(prefix, start=start, limit=PAGE)

        async def create(i: int, txn_keys: list[bytes] = txn_keys) -> object:
            key = txn_keys[i]
            return await store.txn([Compare.absent(key)], [Put(key, value)])

        workloads: list[tuple[str, Callable[[int], Awaitable[object]], int]] = [
            ("put", put, ops),
            ("get", get, ops),
            ("range 100", page, max(1, ops // 10)),
            ("txn", create, ops),
        ]
        for workload, call, count in workloads:
            seconds, p99 = await measure(call, count, width)
            results.append(Result(name, workload, width, count, seconds, p99))
            print(f"  {name:8} {workload:9} x{width:<3} {count / seconds:9.0f}/s", file=sys.stderr)
    return results


def table(results: list[Result]) -> str:
    stores = list(dict.fromkeys(r.store for r in results))
    rows = list(dict.fromkeys((r.workload, r.in_flight) for r in results))
    by = {(r.store, r.workload, r.in_flight): r for r in results}
    head = ["workload", "in flight"]
    for store in stores:
        head += [f"{store} ops/s", f"{store} p99 ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for workload, width in rows:
        cells = [workload, str(width)]
        for store in stores:
            r = by[(store, workload, width)]
            cells += [f"{r.rate:,.0f}", f"{r.p99_ms:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run(args: argparse.Namespace, workdir: Path, etcd_endpoint: str) -> list[Result]:
    value = b"v" * args.value_size
    results: list[Result] = []
    embedded = await EmbeddedStore.open(workdir / "embedded" / "meta.db")
    try:
        results += await bench_store("embedded", embedded, args.ops, args.in_flight, value)
    finally:
        await embedded.close()
    namespace = f"lightningstor-bench/{uuid.uuid4().hex}/".encode()
    etcd = await EtcdStore.open(EtcdConfig([etcd_endpoint], namespace=namespace))
    try:
        results += await bench_store("etcd", etcd, args.ops, args.in_flight, value)
    finally:
        await etcd.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=2000, help="calls per workload")
    parser.add_argument("--in-flight", type=int, default=32, help="concurrent calls")
    parser.add_argument("--value-size", type=int, default=400, help="bytes per value")
    parser.add_argument("--etcd", help="a running etcd (host:port); default: start one")
    parser.add_argument("--dir", type=Path, help="where the data goes (default: a temp dir)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lightningstor-bench-", dir=args.dir))
    try:
        with ExitStack() as stack:
            endpoint = args.etcd
            if endpoint is None:
                endpoint = stack.enter_context(running_etcd(workdir / "etcd")).endpoint
            results = asyncio.run(run(args, workdir, endpoint))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{args.ops} calls per workload ({args.ops // 10} for range), "
        f"{args.value_size}-byte values, data in {workdir.parent}\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
