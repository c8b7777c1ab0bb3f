"""OpenTelemetry traces: one span per request, with children for authorization, metadata and
storage, exported over OTLP/gRPC when ``tracing.otlp_endpoint`` is set.

Off (the default) means nothing on the request path: no provider, no wrappers, no span context
managers, not even no-op ones. Measured here (``scripts/bench_tracing_off.py``, the 2 shared
cores of the dev machine): a no-op ``start_as_current_span`` costs about 10 us per use (0.5 us
for ``get_current_span()``), and a small PUT would use 5-8 of them, tens of microseconds on a
request of a few hundred. So the traced variants below are installed only when tracing is on:

- :func:`setup_tracing` installs the global ``TracerProvider`` (batching OTLP exporter, sampler
  ``ParentBased(TraceIdRatioBased(sample_ratio))``; the set-up shared with the storage node,
  :mod:`lightningstor_storage.tracing`), which the S3 frontend and the gRPC interceptor take
  their tracer from;
- :class:`TracedStore` wraps the metadata store (``metadata.get|range|put|delete|txn``, CLIENT
  spans), :class:`TracedStorage` the chunk backend (``storage.put_chunk|get_chunk|delete_chunk``),
  :class:`TracedCoreContext` the authorization choke point (``authorize``, with the action,
  resource and decision).

Child spans hang under the frontend's server span through the context (contextvars), also in the
tasks the core starts for chunk writes, which copy the context they were created in. The
distributed backend's node client sends that context on (``traceparent`` in the gRPC metadata),
and the storage nodes continue it.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from lightningstor_api.core.context import CoreContext
from lightningstor_api.metadata import (
    Compare,
    KeyValue,
    MetadataStore,
    Op,
    RangeResult,
    TxnResult,
    WatchEvent,
)
from lightningstor_storage import Capabilities, ChunkInfo, ChunkStat, PolicyKind, StorageBackend
from lightningstor_storage import tracing as storage_tracing
from lightningstor_storage.tracing import TraceIdFilter
from lightningstor_types.actions import Action
from lightningstor_types.config import Settings
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext

__all__ = [
    "REQUEST_ID_ATTRIBUTE",
    "TraceIdFilter",
    "TracedCoreContext",
    "TracedStorage",
    "TracedStore",
    "enabled",
    "setup_tracing",
    "unwrapped",
]

REQUEST_ID_ATTRIBUTE = "lightningstor.request_id"
"""The span attribute holding the request id (S3 ``x-amz-request-id``, gRPC ``x-request-id``)."""

CHUNK_ID_ATTRIBUTE = "lightningstor.chunk_id"
ACCESS_LOGGERS = ("lightningstor_api.access", "lightningstor_s3.access")
"""The access lines of both APIs (by name: this package does not import the S3 frontend)."""

tracer = trace.get_tracer("lightningstor_api")


def enabled(settings: Settings) -> bool:
    """Whether traces are exported (and so whether anything traces at all)."""
    return settings.tracing.enabled


def setup_tracing(settings: Settings) -> TracerProvider | None:
    """Install the exporting provider when ``tracing.otlp_endpoint`` or ``tracing.file`` is set
    (shared with the storage node: :func:`lightningstor_storage.tracing.setup_tracing`; shut it
    down at exit to flush the spans still queued)."""
    return storage_tracing.setup_tracing(settings.tracing, "lightningstor", ACCESS_LOGGERS)


def unwrapped(storage: StorageBackend) -> StorageBackend:
    """The backend itself, under a :class:`TracedStorage` if there is one."""
    return storage.inner if isinstance(storage, TracedStorage) else storage


class TracedStore:
    """A :class:`MetadataStore` whose calls are CLIENT spans ``metadata.<call>``."""

    def __init__(self, inner: MetadataStore, system: str) -> None:
        self.inner = inner
        self._attributes = {"db.system": system}

    async def get(self, key: bytes) -> KeyValue | None:
        with tracer.start_as_current_span(
            "metadata.get", kind=SpanKind.CLIENT, attributes=self._attributes
        ):
            return await self.inner.get(key)

    async def range(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        end: bytes | None = None,
        limit: int = 0,
    ) -> RangeResult:
        with tracer.start_as_current_span(
            "metadata.range", kind=SpanKind.CLIENT, attributes=self._attributes
        ) as span:
            result = await self.inner.range(prefix, start=start, end=end, limit=limit)
            span.set_attribute("lightningstor.keys", len(result.kvs))
            return result

    async def put(self, key: bytes, value: bytes) -> int:
        with tracer.start_as_current_span(
            "metadata.put", kind=SpanKind.CLIENT, attributes=self._attributes
        ):
            return await self.inner.put(key, value)

    async def delete(self, key: bytes) -> bool:
        with tracer.start_as_current_span(
            "metadata.delete", kind=SpanKind.CLIENT, attributes=self._attributes
        ):
            return await self.inner.delete(key)

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        with tracer.start_as_current_span(
            "metadata.txn", kind=SpanKind.CLIENT, attributes=self._attributes
        ) as span:
            result = await self.inner.txn(compares, success, failure)
            span.set_attribute("lightningstor.txn_succeeded", result.succeeded)
            return result

    def watch(
        self, prefix: bytes, *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        return self.inner.watch(prefix, start_revision=start_revision)

    async def revision(self) -> int:
        return await self.inner.revision()

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:  # what a particular store offers beyond the protocol
        return getattr(self.inner, name)


class TracedStorage:
    """A :class:`StorageBackend` whose chunk reads and writes are spans ``storage.<call>``."""

    def __init__(self, inner: StorageBackend) -> None:
        self.inner = inner

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    async def put_chunk(
        self, chunk_id: str, data: bytes | AsyncIterable[bytes], *, kind: PolicyKind = ""
    ) -> ChunkInfo:
        with tracer.start_as_current_span(
            "storage.put_chunk",
            kind=SpanKind.CLIENT,
            attributes={"lightningstor.chunk_id": chunk_id},
        ) as span:
            info = await self.inner.put_chunk(chunk_id, data, kind=kind)
            span.set_attribute("lightningstor.bytes", info.size)
            return info

    async def get_chunk(
        self,
        chunk_id: str,
        offset: int = 0,
        length: int | None = None,
        *,
        replicas: Sequence[str] = (),
        policy: str = "",
    ) -> AsyncIterator[bytes]:
        # Not made current: a generator's yields would leave the context attached elsewhere.
        span = tracer.start_span(
            "storage.get_chunk",
            kind=SpanKind.CLIENT,
            attributes={"lightningstor.chunk_id": chunk_id},
        )
        sent = 0
        try:
            pieces = self.inner.get_chunk(
                chunk_id, offset, length, replicas=replicas, policy=policy
            )
            async for piece in pieces:
                sent += len(piece)
                yield piece
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.set_attribute("lightningstor.bytes", sent)
            span.end()

    async def delete_chunk(self, chunk_id: str) -> bool:
        with tracer.start_as_current_span(
            "storage.delete_chunk",
            kind=SpanKind.CLIENT,
            attributes={"lightningstor.chunk_id": chunk_id},
        ):
            return await self.inner.delete_chunk(chunk_id)

    async def exists(self, chunk_id: str) -> bool:
        return await self.inner.exists(chunk_id)

    def list_chunks(self) -> AsyncIterator[ChunkStat]:
        return self.inner.list_chunks()

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:  # probe(), stat_chunk(), … of a particular backend
        return getattr(self.inner, name)


class TracedCoreContext(CoreContext):
    """The core's context with its authorization decisions as spans ``authorize``."""

    __slots__ = ()

    async def authorize(
        self,
        ctx: RequestContext,
        action: Action,
        scope: Scope,
        bucket: str | None = None,
        key: str | None = None,
        *,
        version: str | None = None,
    ) -> None:
        with tracer.start_as_current_span(
            "authorize", attributes={"lightningstor.action": str(action)}
        ) as span:
            try:
                await super().authorize(ctx, action, scope, bucket, key, version=version)
            except Exception as exc:
                span.set_attribute("lightningstor.allowed", False)
                span.set_attribute("lightningstor.denied_by", type(exc).__name__)
                raise
            span.set_attribute("lightningstor.allowed", True)
