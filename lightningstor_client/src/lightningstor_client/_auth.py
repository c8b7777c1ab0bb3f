"""Credentials on every call: a bearer token, or an access key that signs each call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc.aio

from lightningstor_types.signing import signed_metadata

Entries = Callable[[], tuple[tuple[str, str], ...]]


def credential_entries(
    token: str | None, access_key: str | None, secret_key: str | None
) -> Entries | None:
    """What to add to each call's metadata; None without credentials."""
    if token is not None:
        if access_key is not None or secret_key is not None:
            raise ValueError("give a token or an access key pair, not both")
        entry = (("authorization", f"Bearer {token}"),)
        return lambda: entry
    if (access_key is None) != (secret_key is None):
        raise ValueError("access_key and secret_key go together")
    if access_key is not None and secret_key is not None:
        key, secret = access_key, secret_key
        return lambda: signed_metadata(key, secret)
    return None


def _with(details: grpc.aio.ClientCallDetails, entries: Entries) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()), *entries())
    return grpc.aio.ClientCallDetails(
        details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
    )


class _Credentials:
    def __init__(self, entries: Entries) -> None:
        self._entries = entries

    async def _call(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with(details, self._entries), request)


class UnaryUnary(_Credentials, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._call(continuation, details, request)


class UnaryStream(_Credentials, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await self._call(continuation, details, request)


class StreamUnary(_Credentials, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await self._call(continuation, details, requests)


class StreamStream(_Credentials, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await self._call(continuation, details, requests)


def interceptors(entries: Entries | None) -> list[Any]:
    if entries is None:
        return []
    return [cls(entries) for cls in (UnaryUnary, UnaryStream, StreamUnary, StreamStream)]
