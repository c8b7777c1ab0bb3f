"""The shared shape of our server interceptors: wrap each API method's handler once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

API_PREFIX = "/lightningstor."
"""Methods of our own services; health and reflection pass through untouched."""


class ApiInterceptor(grpc.aio.ServerInterceptor):
    """Wraps the handler of every ``lightningstor.*`` method once, and reuses the wrapper."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def wrap(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        raise NotImplementedError

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
        if handler is None or not method.startswith(API_PREFIX):
            return handler
        self._wrapped[method] = wrapped = self.wrap(handler, method)
        return wrapped


Behavior = Callable[..., Any]


def rewrap(
    handler: grpc.RpcMethodHandler[Any, Any],
    unary: Callable[[Behavior], Behavior],
    streaming: Callable[[Behavior], Behavior],
) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` with its behavior wrapped: by ``unary`` when it answers with one message (a
    coroutine function on grpc.aio), by ``streaming`` when it streams (an async generator one)."""
    for kind, make in _HANDLER_KINDS:
        behavior: Behavior | None = getattr(handler, kind)
        if behavior is not None:
            wrap = streaming if kind.endswith("_stream") else unary
            return make(
                wrap(behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


_HANDLER_KINDS: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]]], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler),
    ("stream_unary", grpc.stream_unary_rpc_method_handler),
    ("unary_stream", grpc.unary_stream_rpc_method_handler),
    ("stream_stream", grpc.stream_stream_rpc_method_handler),
)
