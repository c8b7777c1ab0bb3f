"""The Prometheus page, the gauges behind it, and the hooks the server hands its frontends.

:class:`Telemetry` owns a private Prometheus registry holding two collectors: the request
families, read from :data:`~lightningstor_api.metrics.METRICS` at scrape time, and an
OpenTelemetry ``MeterProvider`` (through ``PrometheusMetricReader``) with observable gauges for
the figures a periodic metadata read produces (:meth:`Telemetry.refresh_loop`, every
``SCAN_INTERVAL`` seconds): object count and stored bytes summed from the usage records
(:mod:`~lightningstor_api.core.usage`, one range over ``usage/``, exact, O(buckets)), active
multipart uploads and the GC backlog counted by key (at most ``SCAN_CAP`` each).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import aclosing

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.usage import total_usage
from lightningstor_api.health import ReadinessProbe
from lightningstor_api.metadata import range_pages
from lightningstor_api.metrics import METRICS, Gauges, Metrics
from lightningstor_api.tracing import unwrapped
from lightningstor_storage import StorageBackend
from lightningstor_storage.erasure import ReadStats
from lightningstor_storage.replicated.backend import ReplicatedBackend
from lightningstor_types.config import Settings
from lightningstor_types.service import Readiness, RequestRecord
from lightningstor_types.spans import background

log = logging.getLogger(__name__)

SCAN_INTERVAL = 30.0
SCAN_CAP = 1_000_000
_PAGE = 1000
_LABELS = ["api", "operation", "status"]


_STORE_GAUGES = (
    ("lightningstor_objects", "objects", "Current object versions (keys)"),
    ("lightningstor_storage_bytes", "storage_bytes", "Bytes of stored content"),
    ("lightningstor_multipart_uploads_active", "uploads_active",
     "Uploads begun, not completed or aborted"),
    ("lightningstor_gc_backlog", "gc_backlog", "GC journal entries waiting"),
    ("lightningstor_repair_backlog", "repair_backlog",
     "Chunks of the current repair pass short of good replicas"),
    ("lightningstor_lifecycle_leader", "lifecycle_leader",
     "1 while this server holds the lifecycle lease"),
    ("lightningstor_lifecycle_lag_seconds", "lifecycle_lag_seconds",
     "Age of the start of the last finished lifecycle pass"),
)  # fmt: skip
_STORE_COUNTERS = (
    ("lightningstor_repair_replicas_restored", "repair_restored",
     "Replicas restored by repair since start"),
    ("lightningstor_repair_chunks_lost", "repair_lost",
     "Chunks found with no good replica on any node that answered, each counted once"),
)  # fmt: skip
"""Cumulative figures of the periodic scan (Prometheus adds ``_total``)."""
_DEGRADED = "lightningstor_storage_nodes_degraded"
PRIMARY_ONLY_GAUGES = frozenset(
    {name for name, _, _ in _STORE_GAUGES}
    | {"target_info", _DEGRADED, "process_start_time_seconds", "process_max_fds"}
)
"""Gauges a multi-process server's page takes from worker 0 alone: the store scan (which only
worker 0 runs), ``target_info`` (its labels name one process), the storage nodes down (every
worker sees the same nodes), and worker 0's start time and fd limit; the other ``process_*``
figures (CPU, memory, open fds) are summed over the workers."""


class _RequestCollector(Collector):
    """The hot-path families, from the in-memory aggregates."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def collect(self) -> Iterable[Metric]:
        m = self._m
        requests = CounterMetricFamily(
            "lightningstor_requests", "Requests served, by API, operation and status class",
            labels=_LABELS,
        )  # fmt: skip
        durations = HistogramMetricFamily(
            "lightningstor_request_duration_seconds", "Time from request to last byte",
            labels=_LABELS,
        )  # fmt: skip
        for labels, hist in list(m.requests.items()):
            requests.add_metric(list(labels), hist.count)
            durations.add_metric(list(labels), hist.cumulative(), hist.sum)
        transfer = _counters(
            "lightningstor_transfer_bytes", "Body bytes received (in) and sent (out)",
            ["api", "direction"], m.transfer,
        )  # fmt: skip
        sizes = HistogramMetricFamily(
            "lightningstor_object_size_bytes", "Sizes of object and part bodies written and read",
            labels=["api", "operation"],
        )  # fmt: skip
        for pair, hist in list(m.object_sizes.items()):
            sizes.add_metric(list(pair), hist.cumulative(), hist.sum)
        errors = _counters(
            "lightningstor_s3_errors", "Failed requests by S3 error code",
            ["operation", "code"], m.s3_errors,
        )  # fmt: skip
        iam = _counters(
            "lightningstor_iam_decisions", "External IAM decisions, from the cache or the IAM",
            ["cache", "decision"], m.iam_decisions,
        )  # fmt: skip
        iam_latency = HistogramMetricFamily(
            "lightningstor_iam_decision_duration_seconds", "Time the IAM took to decide"
        )
        iam_latency.add_metric([], m.iam_latency.cumulative(), m.iam_latency.sum)
        throttled = _counters(
            "lightningstor_throttled", "Requests refused by a tenant's rate limit",
            ["api", "limit"], m.throttled,
        )  # fmt: skip
        limits = _counters(
            "lightningstor_connection_limits",
            "Connections refused or closed at a limit, by listener and limit",
            ["listener", "reason"], m.connection_limits,
        )  # fmt: skip
        lifecycle = CounterMetricFamily(
            "lightningstor_lifecycle_events",
            "Versions the lifecycle worker examined, and what it did (by kind)",
            labels=["event"],
        )
        for event, n in list(m.lifecycle.items()):
            lifecycle.add_metric([event], n)
        yield from (
            requests, durations, transfer, sizes, errors, iam, iam_latency, throttled, limits,
            lifecycle,
        )  # fmt: skip


class _ErasureReadCollector(Collector):
    """What erasure-coded reads cost, read from the storage backend at each scrape (nothing
    for a backend without erasure coding)."""

    def __init__(self, storage: StorageBackend) -> None:
        self._storage = storage

    def collect(self) -> Iterable[Metric]:
        stats_of = getattr(unwrapped(self._storage), "erasure_read_stats", None)
        if not callable(stats_of):
            return
        stats: ReadStats = stats_of()
        for name, value, documentation in (
            ("lightningstor_erasure_stripes_read", stats.stripes,
             "Stripes of erasure-coded chunks served by reads"),
            ("lightningstor_erasure_stripes_decoded", stats.stripes_decoded,
             "Of those, rebuilt from parity because a data fragment was not read"),
            ("lightningstor_erasure_fragment_bytes_read", stats.fragment_bytes,
             "Fragment bytes fetched from the storage nodes for reads"),
        ):  # fmt: skip
            yield CounterMetricFamily(name, documentation, value=value)


def _counters(
    name: str, documentation: str, labels: list[str], values: dict[tuple[str, str], int]
) -> CounterMetricFamily:
    """A counter family with one sample per label pair."""
    family = CounterMetricFamily(name, documentation, labels=labels)
    for pair, n in list(values.items()):
        family.add_metric(list(pair), n)
    return family


def _gauge(metrics: Metrics, field: str) -> Callable[[CallbackOptions], Iterator[Observation]]:
    """An observable gauge's callback: ``metrics.gauges.<field>`` (replaced by each scan)."""

    def callback(options: CallbackOptions) -> Iterator[Observation]:
        value: int | None = getattr(metrics.gauges, field)
        if value is not None:
            yield Observation(value)

    return callback


class Telemetry:
    """The metrics page of one server process."""

    def __init__(self, metrics: Metrics = METRICS, storage: StorageBackend | None = None) -> None:
        self.metrics = metrics
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_RequestCollector(metrics))
        if storage is not None:
            self.registry.register(_ErasureReadCollector(storage))
        ProcessCollector(registry=self.registry)  # process_*: CPU, RSS, open fds, start time
        reader = PrometheusMetricReader(scope_info_enabled=False, registry=self.registry)
        resource = Resource.create({"service.name": "lightningstor"})
        self.provider = MeterProvider(metric_readers=[reader], resource=resource)
        meter = self.provider.get_meter("lightningstor")
        for name, field, description in _STORE_GAUGES:
            meter.create_observable_gauge(name, [_gauge(metrics, field)], description=description)
        meter.create_observable_gauge(
            _DEGRADED, [self._degraded], description="Storage nodes down, the rest serving"
        )
        for name, field, description in _STORE_COUNTERS:
            meter.create_observable_counter(name, [_gauge(metrics, field)], description=description)

    def _degraded(self, options: CallbackOptions) -> Iterator[Observation]:
        if self.metrics.storage_nodes_degraded is not None:
            yield Observation(self.metrics.storage_nodes_degraded)

    def page(self) -> tuple[bytes, str]:
        """The Prometheus text page and its content type."""
        return self.page_bytes(), CONTENT_TYPE_LATEST

    def page_bytes(self) -> bytes:
        """The Prometheus text page."""
        return generate_latest(self.registry)

    async def scrape(self) -> tuple[bytes, str]:
        """:meth:`page`, for the listener of ``metrics.addr``."""
        return self.page()

    def close(self) -> None:
        self.provider.shutdown()

    async def refresh_loop(self, cc: CoreContext, interval: float = SCAN_INTERVAL) -> None:
        """Scan the metadata for the gauges now and every ``interval`` seconds (until cancelled)."""
        while True:
            try:
                with background("metrics.scan"):
                    self.metrics.gauges = await scan_gauges(cc)
            except Exception as exc:  # the store may be down; the gauges keep their last values
                log.warning("metrics scan failed: %s", exc)
            await asyncio.sleep(interval)


async def scan_gauges(cc: CoreContext) -> Gauges:
    """Objects and stored bytes from the usage records; uploads and GC entries counted."""
    keys = cc.keys
    usage = await total_usage(cc.store, keys)
    backend = unwrapped(cc.storage)
    repair = backend.repair_stats() if isinstance(backend, ReplicatedBackend) else None
    return Gauges(
        objects=usage.object_count,
        storage_bytes=usage.bytes_stored,
        uploads_active=await _count(cc, keys.all_uploads_prefix()),
        gc_backlog=await _count(cc, keys.gc_prefix()),
        repair_backlog=repair.backlog if repair else None,
        repair_restored=repair.replicas_restored if repair else None,
        repair_lost=repair.chunks_lost if repair else None,
    )


async def _count(cc: CoreContext, prefix: bytes) -> int:
    """Keys under ``prefix``, counted up to ``SCAN_CAP`` (uploads in progress, GC entries)."""
    n = 0
    async with aclosing(range_pages(cc.store, prefix, limit=_PAGE)) as pages:
        async for page in pages:
            n += len(page.kvs)
            if n >= SCAN_CAP:
                break
    return n


class Hooks:
    """The :class:`~lightningstor_types.service.ServerHooks` the server gives its frontends.

    ``page`` serves ``/metrics`` (default: this process's page; a multi-process server gives
    the merged page of all its workers).
    """

    def __init__(
        self,
        settings: Settings,
        probe: ReadinessProbe,
        telemetry: Telemetry,
        usage: Callable[[RequestRecord], None] | None = None,
        page: Callable[[], Awaitable[tuple[bytes, str]]] | None = None,
    ) -> None:
        self._probe = probe
        self._usage = usage
        self._page = page if page is not None else telemetry.scrape
        m = settings.metrics
        self._serve_page = m.enabled and m.addr is None
        self._record = telemetry.metrics.record
        self._limit = telemetry.metrics.connection_limit

    async def readiness(self) -> Readiness:
        return await self._probe.check()

    async def metrics_page(self) -> tuple[bytes, str] | None:
        return await self._page() if self._serve_page else None

    def record(self, record: RequestRecord) -> None:
        self._record(record)
        if self._usage is not None:
            self._usage(record)

    def connection_limit(self, reason: str) -> None:
        self._limit("s3", reason)
