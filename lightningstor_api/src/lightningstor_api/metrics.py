"""The server's metrics: cheap in-memory instruments, read when ``/metrics`` is scraped.

Import :data:`METRICS` from anywhere in ``lightningstor_api`` and call its methods; each is a few
dictionary operations (no lock: the server runs one event loop). The Prometheus page is built
from these aggregates by :mod:`lightningstor_api.telemetry`.

Why not the OpenTelemetry SDK's synchronous instruments on the hot path: measured here, its
``Counter.add`` and ``Histogram.record`` cost 16-30 us each (attribute hashing, locks, exemplar
sampling), several per request, against a 4 KiB GET of ~300 us. The SDK still owns the rest of
the page (GC, gauges), through observable instruments read at scrape time.

Cardinality: request families are labelled by ``api`` (s3|grpc), ``operation`` (the closed set
of S3 endpoints and gRPC methods) and ``status`` class (2xx…5xx, and ``unimplemented`` for a
``NotImplemented`` answer: a client probing for a feature, not a server fault); S3 errors by their
catalog code. No org or project label on any family: tenants are unbounded, and per-tenant
figures are the usage counters (read through the admin API), not metrics.

Families (Prometheus names)::

    lightningstor_requests_total{api,operation,status}
    lightningstor_request_duration_seconds{api,operation,status}   histogram
    lightningstor_transfer_bytes_total{api,direction}             in | out
    lightningstor_object_size_bytes{api,operation}                 histogram (PUT/part/GET bodies)
    lightningstor_s3_errors_total{operation,code}
    lightningstor_iam_decisions_total{cache,decision}              hit | miss; allow | deny
    lightningstor_iam_decision_duration_seconds                    histogram (IAM calls, misses)
    lightningstor_throttled_total{api,limit}                       requests | bytes_in | bytes_out
    lightningstor_connection_limits_total{listener,reason}         connections refused or cut
    lightningstor_lifecycle_events_total{event}                    examined | expire | …
    lightningstor_objects, lightningstor_storage_bytes,
    lightningstor_multipart_uploads_active, lightningstor_gc_backlog   gauges (periodic scan)
    lightningstor_lifecycle_leader, lightningstor_lifecycle_lag_seconds  gauges (the worker)
    lightningstor_storage_nodes_degraded                          gauge (readiness probe)
    lightningstor_erasure_stripes_read_total, …_stripes_decoded_total,
    lightningstor_erasure_fragment_bytes_read_total               erasure-coded reads (read from
                                                                  the backend at each scrape)
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from lightningstor_types.service import RequestRecord

DURATION_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
SIZE_BUCKETS: tuple[float, ...] = tuple(float(4**i * 1024) for i in range(12))  # 1 KiB … 4 GiB
"""Object sizes: 1 KiB, 4 KiB, 16 KiB, … 4 GiB."""

_SIZED_OPERATIONS = frozenset({"PutObject", "UploadPart", "GetObject"})
"""Operations whose body is an object (or part): S3 endpoints and gRPC methods share names."""
_STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")


UNIMPLEMENTED = "unimplemented"
"""The status label of a 501 ``NotImplemented`` answer: clients (``s3cmd info``, SDK feature
probes) ask for sub-resources we do not serve, and an alert on ``5xx`` must not fire for them."""


def status_class(status: int, error_code: str = "") -> str:
    """``"2xx"`` for 200…299 and so on (``"5xx"`` for anything out of range); a 501
    ``NotImplemented`` is :data:`UNIMPLEMENTED`, apart from the server's own faults."""
    if status == 501 and error_code == "NotImplemented":
        return UNIMPLEMENTED
    index = status // 100
    return _STATUS_CLASSES[index] if 0 <= index < len(_STATUS_CLASSES) else "5xx"


class Histogram:
    """Counts per bucket (``counts[i]``: values <= ``bounds[i]``, the last one: +Inf)."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, cumulative count)`` pairs, Prometheus-style, ending with ``+Inf``."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out


@dataclass
class Gauges:
    """Figures a periodic scan of the metadata sets (None until the first scan)."""

    objects: int | None = None
    storage_bytes: int | None = None
    uploads_active: int | None = None
    gc_backlog: int | None = None
    repair_backlog: int | None = None
    repair_restored: int | None = None
    repair_lost: int | None = None
    lifecycle_leader: int | None = None
    lifecycle_lag_seconds: int | None = None


@dataclass
class Metrics:
    """Every in-memory instrument of the server."""

    requests: dict[tuple[str, str, str], Histogram] = field(default_factory=dict)
    transfer: dict[tuple[str, str], int] = field(default_factory=dict)
    object_sizes: dict[tuple[str, str], Histogram] = field(default_factory=dict)
    s3_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    iam_decisions: dict[tuple[str, str], int] = field(default_factory=dict)
    """External IAM decisions by (cache: hit | miss, decision: allow | deny)."""
    iam_latency: Histogram = field(default_factory=lambda: Histogram(DURATION_BUCKETS))
    connection_limits: dict[tuple[str, str], int] = field(default_factory=dict)
    gauges: Gauges = field(default_factory=Gauges)
    throttled: dict[tuple[str, str], int] = field(default_factory=dict)
    """Requests refused by a tenant's rate limit, by API and the limit that refused them."""
    lifecycle: dict[str, int] = field(default_factory=dict)
    """What the lifecycle worker did: versions examined, and each kind of action."""
    storage_nodes_degraded: int | None = None
    """Storage nodes down at the last readiness probe (None: no storage nodes)."""

    def record(self, r: RequestRecord) -> None:
        """A finished request (both APIs call this once per request)."""
        key = (r.api, r.operation, status_class(r.status, r.error_code))
        hist = self.requests.get(key)
        if hist is None:
            hist = self.requests[key] = Histogram(DURATION_BUCKETS)
        hist.observe(r.seconds)
        if r.bytes_in:
            self._add_transfer(r.api, "in", r.bytes_in)
        if r.bytes_out:
            self._add_transfer(r.api, "out", r.bytes_out)
        if r.operation in _SIZED_OPERATIONS and r.status < 300:
            self.object_size(r.api, r.operation, r.bytes_in or r.bytes_out)
        if r.error_code:
            err = (r.operation, r.error_code)
            self.s3_errors[err] = self.s3_errors.get(err, 0) + 1

    def _add_transfer(self, api: str, direction: str, n: int) -> None:
        key = (api, direction)
        self.transfer[key] = self.transfer.get(key, 0) + n

    def object_size(self, api: str, operation: str, size: int) -> None:
        key = (api, operation)
        hist = self.object_sizes.get(key)
        if hist is None:
            hist = self.object_sizes[key] = Histogram(SIZE_BUCKETS)
        hist.observe(size)

    def iam_decision(self, *, cache_hit: bool, allowed: bool, seconds: float | None = None) -> None:
        """One authorization decision: from the decision cache, or asked of the IAM
        (``seconds``: how long the IAM took to answer)."""
        key = ("hit" if cache_hit else "miss", "allow" if allowed else "deny")
        self.iam_decisions[key] = self.iam_decisions.get(key, 0) + 1
        if seconds is not None:
            self.iam_latency.observe(seconds)

    def throttle(self, api: str, limit: str) -> None:
        """A request refused by a rate limit (``limit``: requests, bytes_in or bytes_out)."""
        key = (api, limit)
        self.throttled[key] = self.throttled.get(key, 0) + 1

    def connection_limit(self, listener: str, reason: str) -> None:
        """A connection of ``listener`` refused or closed at a limit (``reason``: its name)."""
        key = (listener, reason)
        self.connection_limits[key] = self.connection_limits.get(key, 0) + 1

    def reset(self) -> None:
        """Forget everything (tests)."""
        fresh = Metrics()
        for name in (
            "requests",
            "transfer",
            "object_sizes",
            "s3_errors",
            "iam_decisions",
            "gauges",
            "throttled",
            "connection_limits",
            "lifecycle",
            "storage_nodes_degraded",
        ):
            setattr(self, name, getattr(fresh, name))
        self.iam_latency = fresh.iam_latency


METRICS = Metrics()
"""The process's instruments."""
