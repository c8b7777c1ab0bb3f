"""The storage node's metrics: requests by RPC and status, chunks, bytes, space, scrub.

Counted in memory (a dictionary operation per call, as the server's own metrics) and turned
into a Prometheus page when scraped::

    lightningstor_node_requests_total{operation,code}   RPCs served, by gRPC status name
    lightningstor_node_chunks                           chunks stored
    lightningstor_node_stored_bytes                     data bytes of those chunks
    lightningstor_node_capacity_bytes                   size of the data directory's filesystem
    lightningstor_node_free_bytes                       space left on it (for unprivileged users)
    lightningstor_node_draining                         1 while the node is draining
    lightningstor_node_scrub_passes_total               scrub passes finished
    lightningstor_node_scrub_chunks_total               chunks the scrub read back
    lightningstor_node_scrub_bytes_total                bytes the scrub read back
    lightningstor_node_scrub_quarantined_total          chunks that failed their checksums

Chunks and bytes come from a listing made at the first scrape, kept current by the puts and
deletes served since (see :mod:`.state`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc
import grpc.aio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from lightningstor_storage.local import LocalBackend
from lightningstor_storage.node.scrub import ScrubStats
from lightningstor_storage.node.state import Capacity, NodeState
from lightningstor_types.grpc_interceptors import ApiInterceptor, rewrap

__all__ = ["NodeMetrics", "RequestCounter"]

Context = grpc.aio.ServicerContext[Any, Any]


class RequestCounter(ApiInterceptor):
    """Counts every ``lightningstor.*`` call of the node by method and final status."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[tuple[str, str], int] = {}

    def wrap(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        name = method.rpartition("/")[2]
        return rewrap(
            handler,
            lambda behavior: self._unary(behavior, name),
            lambda behavior: self._streaming(behavior, name),
        )

    def _count(self, operation: str, context: Context, exc: BaseException | None) -> None:
        if exc is None:
            code = "OK"
        elif isinstance(exc, grpc.aio.AbortError):
            status = context.code()
            code = status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN"
        elif isinstance(exc, asyncio.CancelledError):
            code = "CANCELLED"
        else:
            code = "UNKNOWN"
        key = (operation, code)
        self.counts[key] = self.counts.get(key, 0) + 1

    def _unary(
        self, behavior: Callable[[Any, Context], Awaitable[Any]], operation: str
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def handle(request: Any, context: Context) -> Any:
            try:
                response = await behavior(request, context)
            except BaseException as exc:
                self._count(operation, context, exc)
                raise
            self._count(operation, context, None)
            return response

        return handle

    def _streaming(
        self, behavior: Callable[[Any, Context], AsyncIterator[Any]], operation: str
    ) -> Callable[[Any, Context], AsyncIterator[Any]]:
        async def handle(request: Any, context: Context) -> AsyncIterator[Any]:
            try:
                async for response in behavior(request, context):
                    yield response
            except BaseException as exc:
                self._count(operation, context, exc)
                raise
            self._count(operation, context, None)

        return handle


class _Snapshot:
    """The figures that need I/O, gathered before each page is built."""

    chunks = 0
    stored_bytes = 0
    capacity = Capacity(0, 0)
    draining = False


class _Collector(Collector):
    def __init__(
        self, requests: RequestCounter, snapshot: _Snapshot, scrub: Callable[[], ScrubStats | None]
    ) -> None:
        self._requests = requests
        self._snapshot = snapshot
        self._scrub = scrub

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "lightningstor_node_requests", "RPCs served, by operation and gRPC status",
            labels=["operation", "code"],
        )  # fmt: skip
        for labels, n in list(self._requests.counts.items()):
            requests.add_metric(list(labels), n)
        yield requests
        s = self._snapshot
        for name, value, doc in (
            ("lightningstor_node_chunks", s.chunks, "Chunks stored"),
            ("lightningstor_node_stored_bytes", s.stored_bytes, "Data bytes of the chunks stored"),
            ("lightningstor_node_capacity_bytes", s.capacity.total,
             "Size of the data directory's filesystem"),
            ("lightningstor_node_free_bytes", s.capacity.free, "Free space on that filesystem"),
            ("lightningstor_node_draining", int(s.draining), "1 while the node is draining"),
        ):  # fmt: skip
            yield GaugeMetricFamily(name, doc, value=value)
        stats = self._scrub() or ScrubStats()
        for name, value, doc in (
            ("lightningstor_node_scrub_passes", stats.passes, "Scrub passes finished"),
            ("lightningstor_node_scrub_chunks", stats.chunks_checked, "Chunks read back"),
            ("lightningstor_node_scrub_bytes", stats.bytes_checked, "Bytes read back"),
            ("lightningstor_node_scrub_quarantined", stats.chunks_quarantined,
             "Chunks that failed their checksums and were quarantined"),
        ):  # fmt: skip
            yield CounterMetricFamily(name, doc, value=value)


class NodeMetrics:
    """The metrics page of one storage node."""

    def __init__(
        self,
        backend: LocalBackend,
        state: NodeState,
        requests: RequestCounter,
        scrub: Callable[[], ScrubStats | None],
    ) -> None:
        self._backend = backend
        self._state = state
        self._snapshot = _Snapshot()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(requests, self._snapshot, scrub))
        ProcessCollector(registry=self.registry)  # process_*: CPU, RSS, open fds, start time

    async def page(self) -> tuple[bytes, str]:
        """The Prometheus text page and its content type."""
        s = self._snapshot
        s.chunks, s.stored_bytes = await self._state.stored(self._backend)
        s.capacity = await self._state.capacity()
        s.draining = self._state.draining
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
