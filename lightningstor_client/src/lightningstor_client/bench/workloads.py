"""The workloads: what each worker does, the measured window, and the result of a run.

Every workload runs ``concurrency`` workers for ``warmup`` seconds (not measured) then
``duration`` seconds (measured: an operation counts when it ends inside the window, so long
transfers that straddle its start still count once and rates stay unbiased).

- ``put``: overwrite ``objects`` keys under ``put/`` (each worker its own share of them).
- ``get``/``head``: read the ``objects`` keys under ``obj/``, populated first (once per bucket).
- ``delete``: delete the keys under ``del/``, populated first; past the first pass the keys are
  gone and the deletes are of missing keys (still a 204 in S3).
- ``list``: ListObjectsV2 pages of ``page_size`` over the ``objects`` keys under ``obj/``, each
  worker walking the listing from start to end and again; one page is one operation.
- ``mixed``: 45% get and 30% head of ``obj/`` keys, 15% put of new keys and 10% delete of keys
  this worker put before (or of a missing key when there is none yet).
"""

from __future__ import annotations

import asyncio
import random
import resource
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from lightningstor_client.bench.cpu import ProcessSampler, rss_bytes
from lightningstor_client.bench.stats import summary_ms

__all__ = ["OPS", "Driver", "RunConfig", "RunResult", "Session", "run"]

Op = Literal["put", "get", "head", "list", "delete", "mixed"]
OPS: tuple[Op, ...] = ("put", "get", "head", "list", "delete", "mixed")
MIX: tuple[tuple[str, int], ...] = (("get", 45), ("put", 15), ("delete", 10), ("head", 30))


class Session(Protocol):
    async def put(self, key: str) -> int: ...
    async def get(self, key: str) -> int: ...
    async def head(self, key: str) -> int: ...
    async def delete(self, key: str) -> int: ...
    async def exists(self, key: str) -> bool: ...
    async def list_page(
        self, prefix: str, max_keys: int, token: str | None
    ) -> tuple[int, str | None]: ...
    async def close(self) -> None: ...


class Driver(Protocol):
    api: str

    async def create_bucket(self) -> None: ...
    def session(self) -> Session: ...
    async def close(self) -> None: ...


@dataclass
class RunConfig:
    op: Op
    size: int = 4096
    objects: int = 1000
    concurrency: int = 32
    duration: float = 10.0
    warmup: float = 2.0
    page_size: int = 1000
    server_pids: list[int] = field(default_factory=list)
    honor_retry_after: bool = False
    """A worker refused with a ``Retry-After`` (a rate limit) waits that long, as SDKs back off."""


@dataclass
class RunResult:
    config: RunConfig
    api: str
    ops: int = 0
    errors: int = 0
    bytes: int = 0
    keys: int = 0
    elapsed: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    first_error: str = ""
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    rss_start: int = 0
    rss_peak: int = 0

    def fields(self) -> dict[str, str]:
        """The values of the ``RESULT`` line (and of the human summary)."""
        c = self.config
        per_op = 1000 / self.ops if self.ops else 0.0
        lat = summary_ms(self.latencies_ns)
        values: dict[str, object] = {
            "api": self.api,
            "op": c.op,
            "size": c.size,
            "objects": c.objects,
            "concurrency": c.concurrency,
            "duration": f"{self.elapsed:.2f}",
            "ops": self.ops,
            "ops_s": f"{self.ops / self.elapsed:.1f}" if self.elapsed else "0",
            "mb_s": f"{self.bytes / self.elapsed / 1e6:.1f}" if self.elapsed else "0",
            "keys_s": f"{self.keys / self.elapsed:.1f}" if self.elapsed else "0",
            **{k: f"{v:.3f}" for k, v in lat.items()},
            "errors": self.errors,
            "server_cpu_ms_op": f"{self.server_cpu * per_op:.3f}" if c.server_pids else "na",
            "client_cpu_ms_op": f"{self.client_cpu * per_op:.3f}",
            "server_rss_mib": f"{self.rss_start / 2**20:.0f}" if c.server_pids else "na",
            "server_rss_peak_mib": f"{self.rss_peak / 2**20:.0f}" if c.server_pids else "na",
        }
        return {k: str(v) for k, v in values.items()}


def _key(i: int) -> str:
    return f"obj/{i:07d}"


async def _in_parallel(
    count: int, concurrency: int, job: Callable[[int], Awaitable[object]]
) -> None:
    """``job(i)`` for i in range(count), at most ``concurrency`` at a time."""
    nxt = iter(range(count))

    async def worker() -> None:
        for i in nxt:
            await job(i)

    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))


async def populate(driver: Driver, cfg: RunConfig) -> None:
    """Create the bucket and the keys the workload reads (skipped when a marker says done)."""
    await driver.create_bucket()
    width = 32 if cfg.size <= 1024 * 1024 else cfg.concurrency  # large bodies: RAM-bounded
    sessions = [driver.session() for _ in range(max(1, width))]
    try:
        if cfg.op == "delete":
            pool = asyncio.Queue[Session]()
            for s in sessions:
                pool.put_nowait(s)

            async def put_del(i: int) -> None:
                s = await pool.get()
                try:
                    await s.put(f"del/{i:07d}")
                finally:
                    pool.put_nowait(s)

            await _in_parallel(cfg.objects, len(sessions), put_del)
            return
        if cfg.op == "put":
            return
        marker = f"populated/{cfg.objects}-{cfg.size}"
        if await sessions[0].exists(marker):
            return
        queue = asyncio.Queue[Session]()
        for s in sessions:
            queue.put_nowait(s)

        async def put(i: int) -> None:
            s = await queue.get()
            try:
                await s.put(_key(i))
            finally:
                queue.put_nowait(s)

        await _in_parallel(cfg.objects, len(sessions), put)
        await sessions[0].put(marker)
    finally:
        for s in sessions:
            await s.close()


class _Window:
    def __init__(self, cfg: RunConfig) -> None:
        now = time.perf_counter_ns()
        self.start = now + int(cfg.warmup * 1e9)
        self.end = self.start + int(cfg.duration * 1e9)


async def _worker(
    wid: int, session: Session, cfg: RunConfig, window: _Window, result: RunResult
) -> None:
    rng = random.Random(wid)
    table = [name for name, weight in MIX for _ in range(weight)]
    rng.shuffle(table)
    per_worker = max(1, cfg.objects // cfg.concurrency)
    mine: deque[str] = deque()
    token: str | None = None
    n = 0
    lat = result.latencies_ns
    clock = time.perf_counter_ns
    while True:
        t0 = clock()
        if t0 >= window.end:
            return
        op = cfg.op if cfg.op != "mixed" else table[n % len(table)]
        index = (wid + n * cfg.concurrency) % max(1, cfg.objects)
        n += 1
        keys = 0
        try:
            if op == "get":
                moved = await session.get(_key(index))
            elif op == "head":
                moved = await session.head(_key(index))
            elif op == "put":
                if cfg.op == "mixed":
                    key = f"mix/{wid}/{n}"
                    mine.append(key)
                else:
                    key = f"put/{wid}/{n % per_worker}"
                moved = await session.put(key)
            elif op == "delete":
                if cfg.op == "mixed":
                    key = mine.popleft() if mine else f"mix/{wid}/missing"
                else:
                    key = f"del/{index:07d}"
                moved = await session.delete(key)
            else:  # list
                keys, token = await session.list_page("obj/", cfg.page_size, token)
                moved = 0
        except Exception as err:
            t1 = clock()
            if window.start <= t1 <= window.end:
                result.errors += 1
            if not result.first_error:
                result.first_error = f"{op}: {type(err).__name__}: {err}"
            retry_after = getattr(err, "retry_after", None)
            if cfg.honor_retry_after and retry_after:
                await asyncio.sleep(retry_after)
            continue
        t1 = clock()
        if window.start <= t1 <= window.end:
            result.ops += 1
            result.bytes += moved
            result.keys += keys
            lat.append(t1 - t0)


async def run(driver: Driver, cfg: RunConfig, *, prepare: bool = True) -> RunResult:
    """Populate (unless ``prepare`` is false), then run the workload and measure it."""
    if prepare:
        await populate(driver, cfg)
    result = RunResult(cfg, driver.api)
    sessions = [driver.session() for _ in range(cfg.concurrency)]
    sampler = ProcessSampler(cfg.server_pids)
    rss_before = rss_bytes(cfg.server_pids)  # before any transfer of the run is in flight
    window = _Window(cfg)

    async def measure() -> None:
        await asyncio.sleep(max(0.0, (window.start - time.perf_counter_ns()) / 1e9))
        sampler.start()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(max(0.0, (window.end - time.perf_counter_ns()) / 1e9))
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        await sampler.stop()
        result.client_cpu = (usage1.ru_utime - usage0.ru_utime) + (
            usage1.ru_stime - usage0.ru_stime
        )

    try:
        await asyncio.gather(
            measure(),
            *(_worker(i, s, cfg, window, result) for i, s in enumerate(sessions)),
        )
    finally:
        for s in sessions:
            await s.close()
    result.elapsed = cfg.duration
    result.server_cpu = sampler.cpu
    result.rss_start, result.rss_peak = rss_before, sampler.rss_peak
    return result
