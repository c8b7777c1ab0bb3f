"""What happens around every API call, in one place: the request id and error translation.

:class:`CallInterceptor` wraps each ``lightningstor.*`` method handler. The wrapper takes the
request id from the ``x-request-id`` metadata (or makes one), echoes it in the initial metadata,
makes it available to the servicer through :func:`request_context`, and turns whatever the call
raises into a gRPC status through :mod:`lightningstor_api.grpc.errors`.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from lightningstor_api.grpc.auth import authenticate
from lightningstor_api.grpc.errors import abort_with
from lightningstor_types.service import RequestContext

REQUEST_ID_KEY = "x-request-id"
_API_PREFIX = "/lightningstor."
_MAX_REQUEST_ID = 128

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("lightningstor_request_id")

Context = grpc.aio.ServicerContext[Any, Any]


def request_context(context: Context) -> RequestContext:
    """The core's view of the current call: principal, request id, peer."""
    return RequestContext(
        principal=authenticate(context),
        request_id=_request_id.get(""),
        api="grpc",
        source_address=context.peer(),
    )


def _request_id_of(context: Context) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and 0 < len(value) <= _MAX_REQUEST_ID:
            return value
    return uuid.uuid4().hex


async def _begin(context: Context) -> str:
    # Each call runs in a task of its own, so the value never leaks into another call.
    request_id = _request_id_of(context)
    _request_id.set(request_id)
    await context.send_initial_metadata(((REQUEST_ID_KEY, request_id),))
    return request_id


def _wrap_unary(
    behavior: Callable[[Any, Context], Awaitable[Any]], method: str
) -> Callable[[Any, Context], Awaitable[Any]]:
    async def call(request: Any, context: Context) -> Any:
        request_id = await _begin(context)
        try:
            return await behavior(request, context)
        except Exception as exc:
            await abort_with(context, exc, method, request_id)

    return call


def _wrap_streaming(
    behavior: Callable[[Any, Context], AsyncIterator[Any]], method: str
) -> Callable[[Any, Context], AsyncIterator[Any]]:
    async def call(request: Any, context: Context) -> AsyncIterator[Any]:
        request_id = await _begin(context)
        responses = behavior(request, context)
        try:
            async for response in responses:
                yield response
        except Exception as exc:
            await abort_with(context, exc, method, request_id)
        finally:
            # Also when the client goes away mid-stream: the servicer releases what it holds.
            aclose = getattr(responses, "aclose", None)
            if aclose is not None:
                await aclose()

    return call


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Request id and error translation for every method of the LightningStor API."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or not method.startswith(_API_PREFIX):
            return handler
        self._wrapped[method] = wrapped = _wrap(handler, method)
        return wrapped


def _wrap(handler: grpc.RpcMethodHandler[Any, Any], method: str) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with its behavior wrapped by the request-id and error machinery."""
    # On grpc.aio the behaviors are coroutine / async-generator functions.
    for kind, wrap, make in _HANDLER_KINDS:
        behavior: Any = getattr(handler, kind)
        if behavior is not None:
            return make(
                wrap(behavior, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


_HANDLER_KINDS: tuple[tuple[str, Any, Callable[..., grpc.RpcMethodHandler[Any, Any]]], ...] = (
    ("unary_unary", _wrap_unary, grpc.unary_unary_rpc_method_handler),
    ("stream_unary", _wrap_unary, grpc.stream_unary_rpc_method_handler),
    ("unary_stream", _wrap_streaming, grpc.unary_stream_rpc_method_handler),
    ("stream_stream", _wrap_streaming, grpc.stream_stream_rpc_method_handler),
)
