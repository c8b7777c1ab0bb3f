"""A small listener of its own for ``/metrics``, ``/health`` and ``/ready``.

The server uses it when ``metrics.addr`` is set, the storage node for its ``metrics.addr``.
A deliberately small HTTP/1.1 server on asyncio streams (one request per connection, GET and
HEAD only): the Prometheus scraper and a probe need nothing more, and neither process needs a
web framework for it. An address ``unix:PATH`` listens on a unix socket instead (mode 0600):
each worker of a multi-process server serves its own page there for the others. A bearer
token, when given, is required on ``/metrics``; without a page (metrics disabled) ``/metrics``
is 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from lightningstor_types.config import split_address
from lightningstor_types.service import Readiness

__all__ = ["OpsListener", "bearer_ok", "readiness_body", "readiness_json"]

log = logging.getLogger(__name__)

_MAX_HEAD = 16 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}
_READ_TIMEOUT = 10.0


def bearer_ok(authorization: str | None, token: str | None) -> bool:
    """Whether an ``Authorization`` header carries the bearer ``token`` (always, with none)."""
    if token is None:
        return True
    if authorization is None or not authorization.startswith("Bearer "):
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())


def readiness_json(report: Readiness) -> tuple[int, dict[str, object]]:
    """The ``/ready`` answer: 200 or 503, and ``{"status": ..., "checks": {...}}`` (with
    ``"degraded": [nodes]`` where there are storage nodes)."""
    body: dict[str, object] = {
        "status": "ready" if report.ready else "not ready",
        "checks": dict(report.checks),
    }
    if report.degraded is not None:
        body["degraded"] = list(report.degraded)
    return (200 if report.ready else 503), body


def readiness_body(report: Readiness) -> tuple[int, bytes]:
    """:func:`readiness_json`, encoded."""
    status, body = readiness_json(report)
    return status, json.dumps(body).encode()


class OpsListener:
    """Serves the metrics page and the probes on its own address."""

    def __init__(
        self,
        addr: str,
        page: Callable[[], Awaitable[tuple[bytes, str]]] | None,
        readiness: Callable[[], Awaitable[Readiness]],
        token: str | None,
        *,
        reuse_port: bool = False,
    ) -> None:
        self._addr = addr
        self._reuse_port = reuse_port
        self._page = page
        self._readiness = readiness
        self._token = token
        self._server: asyncio.Server | None = None
        self.bound_address = addr

    async def start(self) -> None:
        if self._addr.startswith("unix:"):
            path = self._addr.removeprefix("unix:")
            self._server = await asyncio.start_unix_server(self._serve, path)
            Path(path).chmod(0o600)  # noqa: ASYNC240 - one syscall on a local socket file
            return
        host, port = split_address(self._addr)
        self._server = await asyncio.start_server(
            self._serve, host, port, reuse_port=self._reuse_port or None
        )
        sock_host, sock_port = self._server.sockets[0].getsockname()[:2]
        self.bound_address = (
            f"[{sock_host}]:{sock_port}" if ":" in sock_host else (f"{sock_host}:{sock_port}")
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
            status, ctype, body, method = await self._answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            status, ctype, body, method = 400, "text/plain", b"bad request\n", "GET"
        except ConnectionError:
            writer.close()
            return
        reason = _REASONS.get(status, "")
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"content-type: {ctype}",
            f"content-length: {len(body)}",
            "connection: close",
        ]
        if status == 401:
            lines.append('www-authenticate: Bearer realm="metrics"')
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        if method != "HEAD":
            writer.write(body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _answer(self, head: bytes) -> tuple[int, str, bytes, str]:
        if len(head) > _MAX_HEAD:
            return 400, "text/plain", b"bad request\n", "GET"
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, _, rest = request_line.partition(" ")
        path = rest.partition(" ")[0].partition("?")[0]
        headers = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"method not allowed\n", method
        if path == "/metrics" and self._page is not None:
            if not bearer_ok(headers.get("authorization"), self._token):
                return 401, "text/plain", b"unauthorized\n", method
            page, ctype = await self._page()
            return 200, ctype, page, method
        if path == "/health":
            return 200, "application/json", b'{"status":"ok"}', method
        if path == "/ready":
            status, body = readiness_body(await self._readiness())
            return status, "application/json", body, method
        return 404, "text/plain", b"not found\n", method
