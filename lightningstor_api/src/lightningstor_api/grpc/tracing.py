"""The gRPC API's server span: one per call, around everything the call does.

:class:`TracingInterceptor` goes first in the interceptor list (only when tracing is on), so its
span is current while :class:`~lightningstor_api.grpc.calls.CallInterceptor` authenticates,
runs the servicer and writes the access line (which then carries the trace id). The request id,
the gRPC status and the S3 error code come from that interceptor's record of the call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import grpc.aio
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from lightningstor_api.grpc.calls import current_call
from lightningstor_api.tracing import REQUEST_ID_ATTRIBUTE
from lightningstor_types.grpc_interceptors import ApiInterceptor, rewrap

__all__ = ["TracingInterceptor"]

Context = grpc.aio.ServicerContext[Any, Any]

_tracer = trace.get_tracer("lightningstor_api.grpc")
_PROPAGATED = frozenset({"traceparent", "tracestate"})


def _finish(span: Span) -> None:
    """Name the outcome on the span from the call's record."""
    call = current_call()
    if call is None:
        return
    span.set_attribute(REQUEST_ID_ATTRIBUTE, call.request_id)
    span.set_attribute("rpc.grpc.status_code", call.code)
    if call.error_code:
        span.set_attribute("lightningstor.error_code", call.error_code)
    if call.status >= 500:
        span.set_status(Status(StatusCode.ERROR, call.error_code or call.code))


def _attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").partition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


class TracingInterceptor(ApiInterceptor):
    """A SERVER span named ``service/method`` for every API call."""

    def wrap(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        name = method.lstrip("/")
        attributes = _attributes(method)
        return rewrap(
            handler,
            lambda behavior: _unary(behavior, name, attributes),
            lambda behavior: _streaming(behavior, name, attributes),
        )


def _parent(context: Context) -> otel_context.Context | None:
    """The caller's trace context (``traceparent`` metadata: a traced client, the gateway)."""
    carrier = {
        key: value
        for key, value in context.invocation_metadata() or ()
        if key in _PROPAGATED and isinstance(value, str)
    }
    return propagate.extract(carrier) if carrier else None


@contextmanager
def _server_span(name: str, attributes: dict[str, str], context: Context) -> Iterator[Span]:
    """The call's server span, current while it runs, finished from the call's record."""
    with _tracer.start_as_current_span(
        name,
        context=_parent(context),
        kind=SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        finally:
            _finish(span)


def _unary(
    behavior: Callable[[Any, Context], Awaitable[Any]], name: str, attributes: dict[str, str]
) -> Callable[[Any, Context], Awaitable[Any]]:
    async def handle(request: Any, context: Context) -> Any:
        with _server_span(name, attributes, context):
            return await behavior(request, context)

    return handle


def _streaming(
    behavior: Callable[[Any, Context], AsyncIterator[Any]], name: str, attributes: dict[str, str]
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def handle(request: Any, context: Context) -> AsyncIterator[Any]:
        # grpc.aio drives a streaming handler from the call's own task, so the span stays
        # current across the yields.
        with _server_span(name, attributes, context):
            async for response in behavior(request, context):
                yield response

    return handle
