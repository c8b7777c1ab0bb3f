"""The S3 API's server span: one per request, installed only when tracing is on.

:func:`traced` wraps the S3 dispatcher's ASGI callable in a SERVER span that is current for the
whole request (authentication, the core's authorization, metadata and storage spans hang under
it), and reads what the span records from the response as it leaves: the status and the
``x-amz-request-id`` header. :class:`NamingHooks` gives the span the S3 operation's name when
the dispatcher reports the finished request. Nothing here imports an OpenTelemetry SDK: the
server installs the provider (``[tracing]``); without one, spans are not recorded.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from lightningstor_s3.exchange import ASGIApp, Message, Receive, Scope, Send
from lightningstor_types.service import Readiness, RequestRecord, ServerHooks

__all__ = ["REQUEST_ID_ATTRIBUTE", "NamingHooks", "traced"]

REQUEST_ID_ATTRIBUTE = "lightningstor.request_id"
_REQUEST_ID_HEADER = b"x-amz-request-id"

_tracer = trace.get_tracer("lightningstor_s3")
_PROPAGATED = frozenset({b"traceparent", b"tracestate"})


def _parent(scope: Scope) -> Context | None:
    """The caller's trace context (W3C ``traceparent``), when the request carries one: the
    request's span continues the client's trace (and, in the stand-alone gateway, the calls
    to the server carry it on)."""
    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name in _PROPAGATED
    }
    return propagate.extract(carrier) if carrier else None


def traced(app: ASGIApp) -> ASGIApp:
    """``app`` (HTTP requests only) inside a SERVER span named ``S3 <operation>``."""

    async def traced_app(scope: Scope, receive: Receive, send: Send) -> None:
        with _tracer.start_as_current_span(
            "S3",
            context=_parent(scope),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "lightningstor.api": "s3"},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status: int = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    for name, value in message.get("headers", ()):
                        if name == _REQUEST_ID_HEADER:
                            span.set_attribute(REQUEST_ID_ATTRIBUTE, value.decode("latin-1"))
                await send(message)

            await app(scope, receive, send_traced)

    return traced_app


class NamingHooks:
    """The server's hooks, plus: each finished request names the current (server) span."""

    def __init__(self, inner: ServerHooks | None) -> None:
        self._inner = inner

    async def readiness(self) -> Readiness:
        if self._inner is None:
            return Readiness(ready=True, checks={})
        return await self._inner.readiness()

    async def metrics_page(self) -> tuple[bytes, str] | None:
        return await self._inner.metrics_page() if self._inner is not None else None

    def record(self, record: RequestRecord) -> None:
        span = trace.get_current_span()
        span.update_name(f"S3 {record.operation}")
        span.set_attribute("lightningstor.operation", record.operation)
        if record.error_code:
            span.set_attribute("lightningstor.error_code", record.error_code)
        if self._inner is not None:
            self._inner.record(record)

    def connection_limit(self, reason: str) -> None:
        if self._inner is not None:
            self._inner.connection_limit(reason)
