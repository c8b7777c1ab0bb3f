"""The storage node's spans: one SERVER span per RPC, in the trace of the server that called.

:class:`NodeTracingInterceptor` goes first in the node's interceptor list, and only when the
node's ``[tracing]`` section exports spans (off: no interceptor, nothing per call). A call whose
metadata carries a W3C ``traceparent`` (the distributed backend sends the current one with every
call, :func:`lightningstor_storage.tracing.outgoing_metadata`) gets a span ``storage.<Method>``
(``storage.PutChunk``, ``storage.GetChunk``, …) whose parent is the caller's span, with the chunk
id (``lightningstor.chunk_id``) and the bytes received or sent (``lightningstor.bytes``) as
attributes. A call without one (a health ping, ``lightningstor-storage-admin``) is no part of
any trace and is not traced; one whose caller did not sample its trace is dropped by the
``ParentBased`` sampler.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from lightningstor_storage.tracing import PROPAGATED
from lightningstor_types.grpc_interceptors import ApiInterceptor, rewrap

__all__ = ["BYTES_ATTRIBUTE", "CHUNK_ID_ATTRIBUTE", "NodeTracingInterceptor"]

Context = grpc.aio.ServicerContext[Any, Any]

CHUNK_ID_ATTRIBUTE = "lightningstor.chunk_id"
BYTES_ATTRIBUTE = "lightningstor.bytes"

_tracer = trace.get_tracer("lightningstor_storage.node")


def _parent(context: Context) -> otel_context.Context | None:
    """The caller's trace context, None when the call carries none."""
    carrier = {
        key: value
        for key, value in context.invocation_metadata() or ()
        if key in PROPAGATED and isinstance(value, str)
    }
    return propagate.extract(carrier) if "traceparent" in carrier else None


def _note_request(span: Span, request: Any) -> None:
    """The chunk id of a unary request (GetChunk, DeleteChunk, ChunkExists, VerifyChunk)."""
    chunk_id = getattr(request, "chunk_id", "")
    if chunk_id:
        span.set_attribute(CHUNK_ID_ATTRIBUTE, chunk_id)


def _note_response(span: Span, response: Any) -> None:
    """What a unary answer says: the chunk id and size of a put, the size of a check."""
    chunk_id = getattr(response, "chunk_id", "")
    if chunk_id:
        span.set_attribute(CHUNK_ID_ATTRIBUTE, chunk_id)
    size = getattr(response, "size", None)
    if isinstance(size, int) and size:
        span.set_attribute(BYTES_ATTRIBUTE, size)


def _fail(span: Span, context: Context, exc: BaseException) -> None:
    if isinstance(exc, grpc.aio.AbortError):
        code = context.code()
        name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    elif isinstance(exc, asyncio.CancelledError):
        name = "CANCELLED"
    else:
        name = "UNKNOWN"
        span.record_exception(exc)
    span.set_attribute("rpc.grpc.status_code", name)
    if name not in ("NOT_FOUND", "ALREADY_EXISTS", "CANCELLED"):  # answers, not failures
        span.set_status(Status(StatusCode.ERROR, name))


class NodeTracingInterceptor(ApiInterceptor):
    """A SERVER span ``storage.<Method>`` for every call that comes with a trace context."""

    def wrap(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        service, _, name = method.lstrip("/").partition("/")
        span_name = f"storage.{name}"
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
        return rewrap(
            handler,
            lambda behavior: _unary(behavior, span_name, attributes),
            lambda behavior: _streaming(behavior, span_name, attributes),
        )


def _unary(
    behavior: Callable[[Any, Context], Awaitable[Any]], name: str, attributes: dict[str, str]
) -> Callable[[Any, Context], Awaitable[Any]]:
    async def handle(request: Any, context: Context) -> Any:
        parent = _parent(context)
        if parent is None:
            return await behavior(request, context)
        with _tracer.start_as_current_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            if hasattr(request, "__aiter__"):  # PutChunk: a stream of messages
                request = _observed(span, request)
            else:
                _note_request(span, request)
            try:
                response = await behavior(request, context)
            except BaseException as exc:
                _fail(span, context, exc)
                raise
            _note_response(span, response)
            span.set_attribute("rpc.grpc.status_code", "OK")
            return response

    return handle


async def _observed(span: Span, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A put's messages, its header's chunk id and its content bytes noted on the span."""
    received = 0
    try:
        async for message in requests:
            if message.HasField("header"):
                span.set_attribute(CHUNK_ID_ATTRIBUTE, message.header.chunk_id)
            elif message.HasField("content"):
                received += len(message.content)
            yield message
    finally:
        span.set_attribute(BYTES_ATTRIBUTE, received)


def _streaming(
    behavior: Callable[[Any, Context], AsyncIterator[Any]], name: str, attributes: dict[str, str]
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def handle(request: Any, context: Context) -> AsyncIterator[Any]:
        parent = _parent(context)
        if parent is None:
            async for response in behavior(request, context):
                yield response
            return
        # grpc.aio drives a streaming handler from the call's own task, so the span stays
        # current across the yields.
        with _tracer.start_as_current_span(
            name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            _note_request(span, request)
            sent = 0
            try:
                async for response in behavior(request, context):
                    content = getattr(response, "content", None)
                    if isinstance(content, bytes):
                        sent += len(content)
                    yield response
            except BaseException as exc:
                _fail(span, context, exc)
                raise
            finally:
                if name == "storage.GetChunk":
                    span.set_attribute(BYTES_ATTRIBUTE, sent)
            span.set_attribute("rpc.grpc.status_code", "OK")

    return handle
