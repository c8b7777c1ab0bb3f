"""Scale (issue 17): GET/HEAD latency and LIST speed of one bucket from 1,000 to 1,000,000
objects, on the embedded store and on etcd; not in CI (``make bench-scale``).

    uv run python scripts/bench_scale.py [--stores embedded,etcd] [--sizes 1000,...,1000000]
        [--duration 2] [--fill-processes 2] [--fill-inflight 128] [--out FILE]

For each store, one bucket is filled incrementally (1,000 → 10,000 → 100,000 → 1,000,000 by
default) with small objects (``--object-size``, 4 KiB: inline, the small-object path) through
``lightningstor_api.core.Core`` in-process — ``put_object`` of the core, as the S3 and gRPC
front ends call it, not the store's keys written directly — by ``--fill-processes`` processes of
``--fill-inflight`` PUTs in flight each, the server stopped meanwhile. The key of object ``i``
is ``dir{i % 1000:03d}/obj{i:07d}``: each step adds keys under every one of the 1,000 "folders",
so inserts land all over the key space and a listing from a random point crosses folders.

At each size a real server process (``scripts/bench.py``'s start, default configuration: one
process per usable CPU) is started on that data, on free loopback ports, left until it is idle
(its first garbage-collection pass reads every data record, see :func:`settled`; the wait is
reported), and measured with the load generator's S3 client (``lightningstor_client.bench.s3``:
keep-alive HTTP/1.1, SigV4):

- GET (the whole 4 KiB body) and HEAD of random existing keys: p50/p99 latency one request at a
  time, then ops/s with 32 in flight (``--duration`` seconds each after ``--warmup``) and the
  server's CPU per request (every process of it, and etcd's, as ``scripts/bench.py`` counts);
- LIST: ListObjectsV2 walks of 10,000 keys in pages of 1,000 (no prefix) from a random
  existing key with 10,000 keys after it (``start-after``), then by continuation token; the
  median seconds per walk, and the median latency of a walk's first page. Below 10,000 objects
  a walk starts at the start of the bucket and wraps to it again at the end (at 1,000 objects
  it lists the whole bucket ten times), so it is always 10,000 keys in pages of 1,000.

Prints a table per store and the ratio of each figure at each size to its figure at the first
size (±20% is issue 17's bar). etcd is started here (one member, ``--quota-backend-bytes``
``--etcd-quota-gib``, 16 GiB: an inline 4 KiB object takes ~11 KB of etcd's database, its
data record's value two 4 KiB bbolt pages, so 1,000,000 of them are ~11 GB, past etcd's 2 GiB
default and its 8 GiB suggested maximum) and stopped at the end, as is every server, whatever
happens. A fill PUT that the store could not take in time (``MetadataUnavailable``: etcd
starved on a busy machine) is retried, up to 10 times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lightningstor.v1 import bucket_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.identity.bootstrap import ADMIN
from lightningstor_api.metadata import MetadataUnavailable
from lightningstor_client.bench.cpu import ProcessSampler, cpu_seconds
from lightningstor_client.bench.s3 import HttpConnection, S3Client
from lightningstor_client.bench.stats import summary_ms
from lightningstor_client.sigv4 import Signer
from lightningstor_types.config import Settings
from lightningstor_types.service import RequestContext
from scripts.bench import Processes, clean_env, start_etcd, wait_port, workdir

BUCKET = "scale"
FOLDERS = 1000
WALK_KEYS = 10_000
PAGE = 1000
RETRIES = 10  # a fill PUT the store could not take in time (etcd on a busy machine)
START_TIMEOUT = 120.0  # a server on 1,000,000 objects opens its store first
CTX = RequestContext(principal=ADMIN, request_id="bench-scale")


def object_key(i: int) -> str:
    return f"dir{i % FOLDERS:03d}/obj{i:07d}"


def sorted_key(position: int, objects: int) -> str:
    """The key listed after ``position`` keys of a bucket of ``objects`` ("" for 0: the start).

    A walk starts at a position with 10,000 keys after it when there are that many, so it does
    not wrap then, and its first page is always a whole page.
    """
    if position == 0:
        return ""
    per_folder = objects // FOLDERS
    folder, j = divmod(position - 1, per_folder)
    return object_key(j * FOLDERS + folder)


# ---- the fill: through the core, in child processes ----


async def _fill_part(
    sections: dict[str, Any], start: int, end: int, stride: int, inflight: int, size: int
) -> int:
    body = (b"scale-bench-" * (size // 12 + 1))[:size]

    async def one_body() -> AsyncIterator[bytes]:
        yield body

    indexes = iter(range(start, end, stride))
    done = retried = 0
    async with await Core.open(Settings(**sections)) as core:

        async def worker() -> None:
            nonlocal done, retried
            for i in indexes:
                header = object_pb2.PutObjectHeader(
                    bucket=BUCKET, key=object_key(i), content_length=size
                )
                for attempt in range(RETRIES):
                    try:
                        await core.put_object(CTX, header, one_body())
                        break
                    except MetadataUnavailable:  # a busy machine: etcd answered too late
                        if attempt == RETRIES - 1:
                            raise
                        await asyncio.sleep(0.5 * (attempt + 1))
                        retried += 1
                done += 1

        await asyncio.gather(*(worker() for _ in range(inflight)))
    if retried:
        print(f"  ({retried} PUTs retried: the store was unavailable)", flush=True)
    return done


def fill_part(
    sections: dict[str, Any], start: int, end: int, stride: int, inflight: int, size: int
) -> int:
    """In a child process: PUT objects ``start, start + stride, ... < end``; returns how many."""
    return asyncio.run(_fill_part(sections, start, end, stride, inflight, size))


async def _create_bucket(sections: dict[str, Any]) -> None:
    async with await Core.open(Settings(**sections)) as core:
        await core.create_bucket(CTX, bucket_pb2.CreateBucketRequest(name=BUCKET))


def fill(sections: dict[str, Any], have: int, want: int, args: argparse.Namespace) -> float:
    """Objects ``have .. want - 1``, spread over ``--fill-processes``; returns objects/s."""
    started = time.monotonic()
    procs = args.fill_processes
    ctx = multiprocessing.get_context("spawn")
    step = 100_000
    with ProcessPoolExecutor(max_workers=procs, mp_context=ctx) as pool:
        for lo in range(have, want, step):
            hi = min(want, lo + step)
            futures = [
                pool.submit(
                    fill_part, sections, lo + w, hi, procs, args.fill_inflight, args.object_size
                )
                for w in range(procs)
            ]
            written = sum(f.result() for f in futures)
            assert written == hi - lo, (written, hi - lo)
            rate = (hi - have) / (time.monotonic() - started)
            print(f"  filled {hi:,} ({rate:,.0f} objects/s this step)", flush=True)
    return (want - have) / (time.monotonic() - started)


# ---- the servers ----


@dataclass
class Server:
    host: str
    port: int
    access_key: str
    secret_key: str
    pids: list[int]


def start_server(
    procs: Processes, run_dir: Path, data_dir: Path, metadata: str
) -> tuple[Server, subprocess.Popen[bytes]]:
    """The server on ``data_dir``, its configuration the default but for ``metadata``."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.toml").write_text(metadata)
    ports_file = run_dir / "ports.json"
    cmd = [
        sys.executable, "-m", "lightningstor_api.main", "--config", str(run_dir / "config.toml"),
        "--grpc-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0", "--data-dir", str(data_dir),
    ]  # fmt: skip
    log = run_dir / "server.log"
    env = clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(ports_file)})
    proc = procs.start(cmd, log, env=env, cwd=run_dir)
    deadline = time.monotonic() + START_TIMEOUT
    creds_file = data_dir / "admin-credentials.json"
    while not (ports_file.exists() and creds_file.exists()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    host, _, port = json.loads(ports_file.read_text())["s3"].rpartition(":")
    wait_port(int(port), proc, log)
    creds = json.loads(creds_file.read_text())
    server = Server(host, int(port), creds["access_key_id"], creds["secret_access_key"], [proc.pid])
    return server, proc


# ---- the measurements ----


def settled(pids: list[int], timeout: float) -> float:
    """Wait until the server (and etcd) is idle (under 5% of a CPU over 2 s); the seconds waited.

    A server's first garbage-collection pass sweeps for orphan chunks, reading every data
    record (``core/orphans.py``): with 1,000,000 inline objects that is the whole bucket's
    bytes, seconds on the embedded store and minutes through etcd, and it competes with the
    requests. The figures are of the steady state, after it (``--settle-timeout 0``: not).
    """
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = cpu_seconds(pids)
        time.sleep(2)
        if cpu_seconds(pids) - before < 0.1:
            break
    return time.monotonic() - started


@dataclass
class Figures:
    objects: int
    fill_rate: float = 0.0
    values: dict[str, float] = field(default_factory=dict)


async def _requests(
    client: S3Client, op: str, objects: int, concurrency: int, duration: float, warmup: float,
    pids: list[int],
) -> tuple[float, float, float, float]:  # fmt: skip
    """(ops/s, p50 ms, p99 ms, server CPU us/op) of GET or HEAD of random existing keys."""
    latencies: list[int] = []
    clock = time.perf_counter_ns
    start = clock() + int(warmup * 1e9)
    end = start + int(duration * 1e9)
    errors: list[str] = []
    sampler = ProcessSampler(pids)

    async def worker(wid: int) -> None:
        rng = random.Random(wid * 7919 + objects)
        conn = HttpConnection(client.host, client.port)
        try:
            while (t0 := clock()) < end:
                key = object_key(rng.randrange(objects))
                if op == "get":
                    resp = await client.get(conn, BUCKET, key)
                else:
                    resp = await client.head(conn, BUCKET, key)
                t1 = clock()
                if resp.status != 200 or (op == "get" and resp.length == 0):
                    errors.append(f"{op} {key}: HTTP {resp.status}")
                elif start <= t1 <= end:
                    latencies.append(t1 - t0)
        finally:
            await conn.close()

    async def window() -> None:
        await asyncio.sleep(warmup)
        sampler.start()
        await asyncio.sleep(duration)
        await sampler.stop()

    await asyncio.gather(window(), *(worker(w) for w in range(concurrency)))
    if errors:
        raise RuntimeError(f"{len(errors)} errors, the first: {errors[0]}")
    ops = len(latencies)
    lat = summary_ms(latencies)
    return ops / duration, lat["p50_ms"], lat["p99_ms"], sampler.cpu / max(ops, 1) * 1e6


async def _walk(
    client: S3Client, conn: HttpConnection, objects: int, rng: random.Random
) -> tuple[float, float]:
    """(seconds, first page seconds) of a walk of 10,000 keys from a random existing key."""
    after = sorted_key(rng.randint(0, max(0, objects - WALK_KEYS)), objects)
    token: str | None = None
    listed = 0
    first = 0.0
    t0 = time.perf_counter()
    while listed < WALK_KEYS:
        status, count, token = await client.list_page(
            conn, BUCKET, "", min(PAGE, WALK_KEYS - listed), token, start_after=after
        )
        if status != 200:
            raise RuntimeError(f"list: HTTP {status}")
        if not first:
            first = time.perf_counter() - t0
        listed += count
        if token is None:  # the end of the bucket: on from its start
            after = ""
    return time.perf_counter() - t0, first


async def measure(server: Server, objects: int, args: argparse.Namespace) -> dict[str, float]:
    client = S3Client(server.host, server.port, Signer(server.access_key, server.secret_key))
    rounds: dict[str, list[float]] = {}
    d, w = args.duration, args.warmup
    for _ in range(args.rounds):  # each figure: the median of its rounds
        for op in ("get", "head"):
            _, p50, p99, _ = await _requests(client, op, objects, 1, d, w, server.pids)
            rounds.setdefault(f"{op}_p50_ms", []).append(p50)
            rounds.setdefault(f"{op}_p99_ms", []).append(p99)
            rate, _, _, cpu = await _requests(client, op, objects, 32, d, w, server.pids)
            rounds.setdefault(f"{op}_ops_s", []).append(rate)
            rounds.setdefault(f"{op}_cpu_us", []).append(cpu)
    conn = HttpConnection(server.host, server.port)
    rng = random.Random(objects)
    try:
        await _walk(client, conn, objects, rng)  # warm-up
        walks = [await _walk(client, conn, objects, rng) for _ in range(args.walks)]
    finally:
        await conn.close()
    out = {name: statistics.median(values) for name, values in rounds.items()}
    out["list_walk_s"] = statistics.median(s for s, _ in walks)
    out["list_first_ms"] = statistics.median(f for _, f in walks) * 1000
    return out


# ---- the run ----

COLUMNS = (
    ("get_p50_ms", "GET p50 ms"),
    ("get_p99_ms", "GET p99 ms"),
    ("head_p50_ms", "HEAD p50 ms"),
    ("head_p99_ms", "HEAD p99 ms"),
    ("get_ops_s", "GET/s (32)"),
    ("head_ops_s", "HEAD/s (32)"),
    ("list_walk_s", "LIST s/walk"),
    ("list_first_ms", "LIST 1st page ms"),
)
INFO = (
    ("get_cpu_us", "GET CPU µs/op"),
    ("head_cpu_us", "HEAD CPU µs/op"),
    ("load_1min", "load avg"),
    ("settle_s", "idle after s"),
)
RATIOS = COLUMNS + INFO[:2]
TOLERANCE = 0.20


def _cell(value: float | None) -> str:
    if value is None or value != value:  # missing, or NaN
        return "—"
    return f"{value:,.3f}" if value < 10 else f"{value:,.0f}"


def tables(store: str, rows: list[Figures]) -> str:
    """The figures at each size, then each figure's ratio to the first size's."""
    head = "| objects | fill objects/s | " + " | ".join(t for _, t in COLUMNS + INFO) + " |"
    out = [f"{store}:", "", head, "|" + " ---: |" * (2 + len(COLUMNS) + len(INFO))]
    for r in rows:
        cells = [_cell(r.values.get(k)) for k, _ in COLUMNS + INFO]
        out.append(f"| {r.objects:,} | {r.fill_rate:,.0f} | " + " | ".join(cells) + " |")
    if rows:
        base = rows[0]
        out += ["", f"ratio to {base.objects:,} objects (±20% = 0.80 to 1.20; * outside):", ""]
        out += ["| objects | " + " | ".join(t for _, t in RATIOS) + " |"]
        out += ["|" + " ---: |" * (1 + len(RATIOS))]
        for r in rows:
            cells = []
            for k, _ in RATIOS:
                ratio = r.values[k] / base.values[k] if base.values[k] else float("nan")
                mark = "" if abs(ratio - 1) <= TOLERANCE else " *"
                cells.append(f"{ratio:.2f}{mark}")
            out.append(f"| {r.objects:,} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def report(path: Path) -> str:
    """The tables of an ``--out`` file (one JSON line per store and size)."""
    rows: dict[str, list[Figures]] = {}
    for line in path.read_text().splitlines():
        values = json.loads(line)
        store, objects, rate = values.pop("store"), values.pop("objects"), values.pop("fill_rate")
        rows.setdefault(store, []).append(Figures(objects, rate, values))
    return "\n\n".join(tables(store, figures) for store, figures in rows.items())


def run_store(store: str, work: Path, args: argparse.Namespace) -> list[Figures]:
    procs = Processes()
    rows: list[Figures] = []
    assert all(size % FOLDERS == 0 for size in args.sizes), "sizes are multiples of 1,000"
    data_dir = work / "data"
    sections: dict[str, Any] = {"server": {"data_dir": data_dir}}
    config = '[metadata]\nbackend = "embedded"\n'
    others: list[int] = []  # etcd: its CPU counts as the server's, as in scripts/bench.py
    try:
        if store == "etcd":
            endpoint, etcd_pid = start_etcd(
                procs, work, "--quota-backend-bytes", str(int(args.etcd_quota_gib * 2**30))
            )
            others.append(etcd_pid)
            prefix = "scale/"
            sections["metadata"] = {"backend": "etcd", "endpoints": [endpoint], "prefix": prefix}
            config = (
                f'[metadata]\nbackend = "etcd"\nendpoints = ["{endpoint}"]\nprefix = "{prefix}"\n'
            )
        asyncio.run(_create_bucket(sections))
        have = 0
        for size in args.sizes:
            print(f"[{store}] filling to {size:,}...", flush=True)
            rate = fill(sections, have, size, args)
            have = size
            print(f"[{store}] {size:,} objects ({rate:,.0f}/s); measuring", flush=True)
            server, proc = start_server(procs, work / f"server-{size}", data_dir, config)
            server.pids += others
            try:
                settle = settled(server.pids, args.settle_timeout)
                print(f"[{store}] server idle {settle:.0f} s after its start", flush=True)
                load = os.getloadavg()[0]
                values = asyncio.run(measure(server, size, args))
                values["load_1min"] = (load + os.getloadavg()[0]) / 2
                values["settle_s"] = settle
            finally:
                procs.stop(proc)
            rows.append(Figures(size, rate, values))
            print(f"[{store}] {size:,}: " + json.dumps(values), flush=True)
            print(tables(store, rows), flush=True)
            if args.out:
                with args.out.open("a") as f:
                    f.write(json.dumps({"store": store, "objects": size, "fill_rate": rate,
                                        **values}) + "\n")  # fmt: skip
    finally:
        procs.stop_all()
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--stores", default="embedded,etcd")
    p.add_argument(
        "--sizes",
        default="1000,10000,100000,1000000",
        type=lambda s: [int(x) for x in s.split(",")],
    )
    p.add_argument("--object-size", type=int, default=4096)
    p.add_argument("--duration", type=float, default=2.0, help="measured seconds per GET/HEAD run")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=3, help="GET/HEAD runs per figure (median)")
    p.add_argument("--walks", type=int, default=9, help="LIST walks measured per size (median)")
    p.add_argument(
        "--settle-timeout",
        type=float,
        default=1800.0,
        help="seconds to wait at most for a started server to be idle before measuring",
    )
    p.add_argument("--fill-processes", type=int, default=2)
    p.add_argument("--fill-inflight", type=int, default=128, help="PUTs in flight per process")
    p.add_argument("--etcd-quota-gib", type=float, default=16.0)
    p.add_argument("--out", type=Path, help="append one JSON line per store and size")
    p.add_argument("--keep", action="store_true", help="keep the data (in --work-dir)")
    p.add_argument("--work-dir", type=Path, help="where the temporary data goes")
    p.add_argument("--report", type=Path, help="only print the tables of an --out file")
    args = p.parse_args()
    if args.report:
        print(report(args.report))
        return 0
    started = time.monotonic()
    load = os.getloadavg()
    out = []
    for store in args.stores.split(","):
        with workdir(args.keep, "lightningstor-scale-", args.work_dir) as work:
            out.append(tables(store, run_store(store, work, args)))
    header = (
        f"bench_scale: {os.cpu_count()} CPUs, {args.object_size}-byte objects, filled by "
        f"{args.fill_processes} processes x {args.fill_inflight} in flight; GET/HEAD "
        f"{args.duration:g} s after {args.warmup:g} s, median of {args.rounds} rounds; LIST "
        f"median of {args.walks} walks; "
        f"total {time.monotonic() - started:.0f} s; load average {load[0]:.1f} / {load[1]:.1f} "
        f"/ {load[2]:.1f} before, {'/'.join(f'{x:.1f}' for x in os.getloadavg())} after"
    )
    print("\n" + header + "\n\n" + "\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
