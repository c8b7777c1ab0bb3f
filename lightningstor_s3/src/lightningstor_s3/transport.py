"""Small response writes of one event-loop turn go out in one ``send``.

uvicorn writes the response head as soon as the app sends ``http.response.start`` and the body
with each ``http.response.body``: a small GET costs two ``send`` system calls (two trips
through the loopback TCP stack), which were ~20% of the server's time on 4 KiB GETs (profiled,
issue 9). :class:`CoalescingHttpToolsProtocol` is uvicorn's httptools protocol over a transport
that gathers small writes made in one loop turn and sends them together at the end of the turn;
large writes go out at once (after what was gathered), so big bodies are never copied.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["COALESCE_LIMIT", "CoalescingHttpToolsProtocol", "CoalescingTransport"]

COALESCE_LIMIT = 64 * 1024
"""Writes of at least this many bytes are not gathered (joining them would copy them)."""


class CoalescingTransport:
    """A transport proxy: small writes wait for the end of the loop turn, then go out as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if len(data) >= COALESCE_LIMIT:
            self.flush()
            self._transport.write(data)
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Send what was gathered (no-op when nothing was)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str) -> Any:
        # Everything else (extra info, reading, flow control) is the real transport's.
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        real = cast(asyncio.Transport, transport)
        super().connection_made(CoalescingTransport(real, self.loop))  # type: ignore[arg-type]
