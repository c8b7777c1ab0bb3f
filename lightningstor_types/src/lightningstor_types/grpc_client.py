"""Our clients' channels to a LightningStor gRPC endpoint: its scheme, TLS, per-call metadata.

An endpoint is ``HOST:PORT`` or ``SCHEME://HOST:PORT``: ``https``/``grpcs`` = TLS, ``http``/
``grpc`` = plaintext. TLS verifies the server against ``ca_file`` (unset = the system trust
store) and presents ``cert_file``/``key_file`` when given (mutual TLS). A bare ``HOST:PORT``
is plaintext unless a TLS file is given; a TLS file with an ``http``/``grpc`` endpoint is an
error, never ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc
import grpc.aio

TLS_SCHEMES = ("https", "grpcs")
PLAIN_SCHEMES = ("http", "grpc")

CONNECT_TIMEOUT_MS = 5_000
"""How long one connection attempt (TCP, TLS, HTTP/2 settings) may take before the next one."""

Metadata = tuple[tuple[str, str], ...]
Sign = Callable[[str, Metadata], Metadata]
"""(full method name, the call's metadata) → the metadata the call goes out with."""


@dataclass(frozen=True)
class ClientTls:
    """What a client needs for TLS; all None = the system trust store, no client certificate."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")

    @property
    def any_file(self) -> bool:
        return self.ca_file is not None or self.cert_file is not None

    def credentials(self) -> grpc.ChannelCredentials:
        """Reads the PEM files (small; once, when the channel is made)."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca_file.read_bytes() if self.ca_file else None,
            private_key=self.key_file.read_bytes() if self.key_file else None,
            certificate_chain=self.cert_file.read_bytes() if self.cert_file else None,
        )


def reconnect_options(backoff_ms: int, max_backoff_ms: int | None = None) -> list[tuple[str, int]]:
    """Channel options that try a lost connection again every ``backoff_ms`` (growing to
    ``max_backoff_ms``), each attempt allowed :data:`CONNECT_TIMEOUT_MS`.

    gRPC reads ``grpc.min_reconnect_backoff_ms`` as the deadline of one connection attempt (the
    MIN_CONNECT_TIMEOUT of its connection-backoff spec), not as a back-off: set as low as the
    back-off, every attempt to a busy peer whose handshake takes longer fails, and the peer looks
    down while it is only slow.
    """
    return [
        ("grpc.initial_reconnect_backoff_ms", backoff_ms),
        ("grpc.max_reconnect_backoff_ms", max_backoff_ms or backoff_ms),
        ("grpc.min_reconnect_backoff_ms", CONNECT_TIMEOUT_MS),
    ]


def parse_endpoint(endpoint: str) -> tuple[str, bool | None]:
    """``(HOST:PORT, secure)``: secure is True for https/grpcs, False for http/grpc, None bare."""
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        return endpoint, None
    scheme = scheme.lower()
    if scheme not in TLS_SCHEMES + PLAIN_SCHEMES:
        raise ValueError(
            f"endpoint {endpoint!r}: unknown scheme {scheme!r} (https, grpcs, http or grpc)"
        )
    target = rest.rstrip("/")
    if not target or "/" in target:
        raise ValueError(f"endpoint {endpoint!r}: expected {scheme}://HOST:PORT")
    return target, scheme in TLS_SCHEMES


def resolve_endpoint(endpoint: str, tls: ClientTls | None) -> tuple[str, bool]:
    """``(HOST:PORT, TLS or not)``; ValueError for a plaintext scheme with TLS files."""
    target, secure = parse_endpoint(endpoint)
    files = tls is not None and tls.any_file
    if secure is False and files:
        raise ValueError(f"endpoint {endpoint!r} is plaintext (http/grpc) but TLS files are given")
    return target, bool(secure or files)


def open_channel(
    endpoint: str,
    tls: ClientTls | None = None,
    *,
    options: Sequence[tuple[str, Any]] = (),
    interceptors: Sequence[Any] = (),
) -> grpc.aio.Channel:
    """An asyncio channel to ``endpoint``: TLS when its scheme or a TLS file asks for it."""
    target, secure = resolve_endpoint(endpoint, tls)
    if secure:
        credentials = (tls or ClientTls()).credentials()
        return grpc.aio.secure_channel(
            target, credentials, options=options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)


def _method(details: grpc.aio.ClientCallDetails) -> str:
    method: str | bytes = details.method
    return method.decode() if isinstance(method, bytes) else method


class _Signing:
    def __init__(self, sign: Sign) -> None:
        self._sign = sign

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        current = cast(Iterable[tuple[str, str]], details.metadata or ())
        metadata = grpc.aio.Metadata(*self._sign(_method(details), tuple(current)))
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnary(_Signing, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_Signing, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_Signing, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(_Signing, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def signing_interceptors(sign: Sign | None) -> list[Any]:
    """Interceptors that pass every call's metadata through ``sign`` (none for None)."""
    if sign is None:
        return []
    return [cls(sign) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]
