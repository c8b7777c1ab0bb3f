"""What happens around every API call, in one place: request id, errors, access log, metrics.

:class:`CallInterceptor` wraps each ``lightningstor.*`` method handler. The wrapper takes the
request id from the ``x-request-id`` metadata (or makes one), echoes it in the initial metadata,
makes it available to the servicer through :func:`request_context` (with, from a trusted S3
gateway, the client it forwards for: :mod:`lightningstor_api.grpc.forwarded`), and turns
whatever the call raises into a gRPC status through :mod:`lightningstor_api.grpc.errors`. When
the call ends it counts it in :data:`~lightningstor_api.metrics.METRICS` and writes one access line
(``lightningstor_api.access``): operation, scope, status, bytes in and out (serialized message
sizes), duration and request id.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio

from lightningstor_api.grpc.auth import authenticate
from lightningstor_api.grpc.errors import REQUEST_ID_KEY, abort_with
from lightningstor_api.grpc.facts import message_facts
from lightningstor_api.grpc.forwarded import PEER, Client, Network, forwarded_client
from lightningstor_api.metrics import METRICS
from lightningstor_types.errors import LightningStorError
from lightningstor_types.grpc_interceptors import ApiInterceptor
from lightningstor_types.randomness import token_hex
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext, RequestRecord

_MAX_REQUEST_ID = 128

access_log = logging.getLogger("lightningstor_api.access")


@dataclass(slots=True)
class _Call:
    """What the access line and the metrics need to know about the call in progress."""

    request_id: str
    operation: str
    started: float
    scope: str = "-"
    bytes_in: int = 0
    bytes_out: int = 0
    status: int = 200
    code: str = "OK"
    error_code: str = ""
    principal_scope: Scope | None = None
    streamed_in: bool = False  # request bytes are counted by the deserializer
    streamed_out: bool = False  # response bytes are counted by the serializer
    facts: dict[str, str] = field(default_factory=dict)
    """The condition facts of the request message (``facts.message_facts``)."""
    client: Client = PEER
    """The S3 client a trusted gateway forwarded the call for (``forwarded.py``)."""


_call: contextvars.ContextVar[_Call] = contextvars.ContextVar("lightningstor_call")

Context = grpc.aio.ServicerContext[Any, Any]


def current_call() -> _Call | None:
    """The call this task serves: request id, operation and, once it ended, its status."""
    return _call.get(None)


def request_context(context: Context, header: object = None) -> RequestContext:
    """The core's view of the current call: principal, request id, peer, the condition facts
    of its message (of ``header``, the first message of a streamed upload)."""
    principal = authenticate(context)
    call = _call.get(None)
    if call is not None:
        call.scope = str(principal.scope)
        call.principal_scope = principal.scope
    client = call.client if call is not None else PEER
    return RequestContext(
        principal=principal,
        request_id=call.request_id if call is not None else "",
        api="grpc",
        source_address=context.peer() if client.address is None else client.address,
        # as the S3 frontend's: the version decides which ACL applies; policies test them all
        attributes={
            **client.facts,
            **(call.facts if call is not None else {}),
            **message_facts(header),
        },
    )


def _request_id_of(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and 0 < len(value) <= _MAX_REQUEST_ID:
            return value
    return token_hex(16)


async def _begin(
    context: Context, method: str, sink: _Sink, *, streamed_in: bool, streamed_out: bool
) -> _Call:
    # Each call runs in a task of its own, so the value never leaks into another call.
    call = _Call(_request_id_of(context), method.rpartition("/")[2], time.monotonic())
    call.streamed_in, call.streamed_out = streamed_in, streamed_out
    if sink.gateways:
        call.client = forwarded_client(context.peer(), context.invocation_metadata(), sink.gateways)
    _call.set(call)
    if streamed_out:  # the header goes out with the first message anyway
        await context.send_initial_metadata(((REQUEST_ID_KEY, call.request_id),))
    else:
        # In the trailers: sending initial metadata on its own is an extra batch on both sides,
        # which took a small unary call from 0.71 to 1.08 ms of server CPU (issue 9).
        context.set_trailing_metadata(((REQUEST_ID_KEY, call.request_id),))
    return call


def _failed(call: _Call, exc: BaseException) -> None:
    if isinstance(exc, LightningStorError):
        call.status, call.code, call.error_code = exc.http_status, exc.grpc_status.name, exc.code
    elif isinstance(exc, grpc.aio.AbortError):
        call.status, call.code = 500, "ABORTED_BY_SERVICER"
    elif isinstance(exc, Exception):
        call.status, call.code, call.error_code = 500, "INTERNAL", "InternalError"
    else:  # cancelled: the client went away
        call.status, call.code = 499, "CANCELLED"


def _end(call: _Call, sink: _Sink) -> None:
    seconds = time.monotonic() - call.started
    record = RequestRecord("grpc", call.operation, call.status, seconds, call.bytes_in,
                           call.bytes_out, call.error_code, call.principal_scope)  # fmt: skip
    METRICS.record(record)
    if sink.record is not None:
        sink.record(record)
    if sink.access:
        access_log.info(
            "%s %s", call.operation, call.code,
            extra={
                "api": "grpc", "request_id": call.request_id, "operation": call.operation,
                "scope": call.scope, "status": call.status, "grpc_status": call.code,
                "bytes_in": call.bytes_in, "bytes_out": call.bytes_out,
                "duration_ms": round(seconds * 1000, 1),
            },
        )  # fmt: skip


def _size(message: Any) -> int:
    size: int = message.ByteSize()
    return size


def _counting_deserializer(
    deserialize: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """Count streamed request bytes as they arrive: ``ByteSize()`` would serialize (copy) every
    1 MiB upload message again just to measure it."""
    if deserialize is None:
        return None

    def counted(data: bytes) -> Any:
        call = _call.get(None)  # unset while a unary request is read, before the call begins
        if call is not None and call.streamed_in:
            call.bytes_in += len(data)
        return deserialize(data)

    return counted


def _counting_serializer(
    serialize: Callable[[Any], bytes] | None,
) -> Callable[[Any], bytes] | None:
    """Count streamed response bytes from the one serialization gRPC does anyway."""
    if serialize is None:
        return None

    def counted(message: Any) -> bytes:
        data = serialize(message)
        call = _call.get(None)
        if call is not None and call.streamed_out:
            call.bytes_out += len(data)
        return data

    return counted


def _wrap_unary(
    behavior: Callable[[Any, Context], Awaitable[Any]], method: str, streamed_in: bool, sink: _Sink
) -> Callable[[Any, Context], Awaitable[Any]]:
    async def handle(request: Any, context: Context) -> Any:
        call = await _begin(context, method, sink, streamed_in=streamed_in, streamed_out=False)
        try:
            if not streamed_in:
                call.bytes_in = _size(request)
                call.facts = message_facts(request)
            response = await behavior(request, context)
            call.bytes_out = _size(response)
        except BaseException as exc:
            _failed(call, exc)
            # Counted before the status goes out: a client that sees the error and then reads
            # /metrics finds it there.
            _end(call, sink)
            if not isinstance(exc, Exception):
                raise
            await abort_with(context, exc, method, call.request_id)
        else:
            _end(call, sink)
            return response

    return handle


def _wrap_streaming(
    behavior: Callable[[Any, Context], AsyncIterator[Any]],
    method: str,
    streamed_in: bool,
    sink: _Sink,
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def handle(request: Any, context: Context) -> AsyncIterator[Any]:
        call = await _begin(context, method, sink, streamed_in=streamed_in, streamed_out=True)
        if not streamed_in:
            call.bytes_in = _size(request)
            call.facts = message_facts(request)
        responses = behavior(request, context)
        try:
            async for response in responses:
                yield response  # its bytes are counted as gRPC serializes it
        except BaseException as exc:
            _failed(call, exc)
            await _release(responses)
            _end(call, sink)  # before the status goes out, as for a unary call
            if not isinstance(exc, Exception):
                raise
            await abort_with(context, exc, method, call.request_id)
        else:
            await _release(responses)
            _end(call, sink)

    return handle


async def _release(responses: AsyncIterator[Any]) -> None:
    """Close the servicer's generator, also when the client went away mid-stream: it releases
    what it holds."""
    aclose = getattr(responses, "aclose", None)
    if aclose is not None:
        await aclose()


class CallInterceptor(ApiInterceptor):
    """Request id, error translation, access log and metrics for every API method."""

    def __init__(
        self,
        *,
        access_log: bool = True,
        record: Callable[[RequestRecord], None] | None = None,
        trusted_gateways: Sequence[Network] = (),
    ) -> None:
        super().__init__()
        self._sink = _Sink(access_log, record, tuple(trusted_gateways))

    def wrap(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return _wrap(handler, method, self._sink)


@dataclass(frozen=True, slots=True)
class _Sink:
    """Where a finished call goes besides the metrics: the access log, a usage counter; and
    whose forwarded client facts a call's conditions believe."""

    access: bool
    record: Callable[[RequestRecord], None] | None = None
    gateways: tuple[Network, ...] = ()
    """``[server] trusted_gateways``."""


def _wrap(
    handler: grpc.RpcMethodHandler[Any, Any], method: str, sink: _Sink
) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with its behavior wrapped by the request-id and error machinery."""
    # On grpc.aio the behaviors are coroutine / async-generator functions.
    for kind, wrap, make in _HANDLER_KINDS:
        behavior: Any = getattr(handler, kind)
        if behavior is not None:
            return make(
                wrap(behavior, method, kind.startswith("stream_"), sink),
                request_deserializer=_counting_deserializer(handler.request_deserializer),
                response_serializer=_counting_serializer(handler.response_serializer),
            )
    return handler


_HANDLER_KINDS: tuple[tuple[str, Any, Callable[..., grpc.RpcMethodHandler[Any, Any]]], ...] = (
    ("unary_unary", _wrap_unary, grpc.unary_unary_rpc_method_handler),
    ("stream_unary", _wrap_unary, grpc.stream_unary_rpc_method_handler),
    ("unary_stream", _wrap_streaming, grpc.unary_stream_rpc_method_handler),
    ("stream_stream", _wrap_streaming, grpc.stream_stream_rpc_method_handler),
)
