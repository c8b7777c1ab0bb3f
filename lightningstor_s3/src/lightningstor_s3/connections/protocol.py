"""uvicorn's httptools protocol with the guard's admission and deadlines.

httptools in uvicorn only closes a keep-alive connection idle after a response: a connection
that never sends a byte, sends its head a byte at a time, or its body at a few bytes a second,
is held for ever. This protocol adds, per connection:

- admission: :meth:`ConnectionGuard.admit` at ``connection_made``; a refused connection is
  aborted before uvicorn sees it (it costs a descriptor for one loop turn);
- the head deadline: from the connection's opening, or the first byte of a later request, to
  the end of the request head; a partial head is answered ``400 RequestTimeout``, a silent
  connection just closed;
- the body rate: while a body is expected, every ``body_timeout_seconds`` the bytes the client
  sent in the window must reach ``min_body_rate`` a second. Windows in which the server is the
  slow side (reading paused by flow control, bytes not yet taken by the application,
  ``100-continue`` not yet sent) do not count. A slow body is answered ``400 RequestTimeout``
  as S3 answers it, and the connection closed (after a short linger, so that the client's late
  bytes do not reset the connection before it reads the answer);
- the idle keep-alive deadline, in place of uvicorn's timer;
- with ``[server] proxy_protocol``, the PROXY header (v1 or v2, ``proxy_header.py``) before the
  request: a peer outside ``trusted_proxies`` is closed at accept, a malformed header closes the
  connection, and the client address it carries becomes the connection's (``scope["client"]``:
  ``aws:SourceIp``, the access log). It is read under the head deadline.

Each phase writes its deadline (one ``loop.time()`` per request); the guard's sweep acts on it.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

from lightningstor_s3.conditions import is_trusted_proxy
from lightningstor_s3.connections.guard import ConnectionGuard
from lightningstor_s3.connections.proxy_header import MalformedProxyHeaderError, parse_proxy_header
from lightningstor_s3.errors import error_document, new_host_id, new_request_id
from lightningstor_s3.transport import CoalescingHttpToolsProtocol
from lightningstor_types.errors import RequestTimeout

__all__ = [
    "LINGER_SECONDS",
    "GuardedHttpToolsProtocol",
    "guarded_protocol",
    "request_timeout_response",
]

LINGER_SECONDS = 2.0
"""After a RequestTimeout answer, how long what the client still sends is read and dropped."""

# The phase a connection's deadline belongs to.
_NONE, _HEAD, _BODY, _IDLE, _LINGER = range(5)


def request_timeout_response(resource: str) -> bytes:
    """The whole ``400 RequestTimeout`` response (head and error document), closing."""
    err = RequestTimeout()
    request_id = new_request_id()
    body = error_document(err, resource=resource, request_id=request_id, host_id=new_host_id())
    head = (
        f"HTTP/1.1 {err.http_status} Bad Request\r\n"
        f"x-amz-request-id: {request_id}\r\n"
        "content-type: application/xml\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """One S3 connection under the listener's :class:`ConnectionGuard`."""

    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._admitted = False
        self._source: str | None = None
        self.deadline = 0.0
        self._phase = _NONE
        self._in_body = False
        self._body_bytes = 0
        self._request_began = False
        self._proxy_pending = False
        self._proxy_bytes = b""

    # ---- the connection ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._source = peer[0] if isinstance(peer, tuple) and peer else None
        proxies = self.guard.proxy_from
        if proxies is not None and not is_trusted_proxy(self._source, proxies):
            self.guard.reporter.hit("proxy_untrusted", self._source)
            cast(asyncio.Transport, transport).abort()
            return
        if not self.guard.admit(self._source):
            cast(asyncio.Transport, transport).abort()
            return
        self._admitted = True
        self._proxy_pending = proxies is not None
        super().connection_made(transport)
        self._set(_HEAD, self.guard.header_timeout)
        self.guard.watch(self, self.loop)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return  # refused at accept: uvicorn never knew it
        self._admitted = False
        self.deadline = 0.0
        self.guard.forget(self)
        self.guard.release(self._source)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == _LINGER:
            return  # answered and closing: what the client still sends is dropped
        if self._proxy_pending:
            data = self._proxy_header(data)
            if not data:
                return
        super().data_received(data)
        # The body window starts only when a body is still expected after this read: a GET's
        # head and its end come in one read.
        if self._in_body and self._phase != _BODY:
            self._body_bytes = 0
            self._set(_BODY, self.guard.body_window)

    def _proxy_header(self, data: bytes) -> bytes:
        """Take the PROXY header off the connection's first bytes; what follows it (empty while
        the header is incomplete, or when it was malformed and the connection closed)."""
        received = self._proxy_bytes + data
        try:
            header = parse_proxy_header(received)
        except MalformedProxyHeaderError:
            self._proxy_pending = False
            self.guard.reporter.hit("proxy_malformed", self._source)
            self._set(_NONE)
            self.transport.abort()
            return b""
        if header is None:  # bounded: a v1 line is 107 bytes, a v2 header 64 KiB
            self._proxy_bytes = received
            return b""
        self._proxy_pending = False
        self._proxy_bytes = b""
        if header.source is not None:
            self.client = header.source
        return received[header.consumed :]

    def on_response_complete(self) -> None:
        # uvicorn's, with the keep-alive timer replaced by the idle deadline.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._phase == _NONE:  # not while the next head or an unread body is timed
            self._set(_IDLE, self.guard.idle_timeout)

    # ---- parser callbacks ----

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_began = True
        if self._phase != _HEAD:  # a later request: its head's time starts now
            self._set(_HEAD, self.guard.header_timeout)

    def on_headers_complete(self) -> None:
        self._set(_NONE)
        self._request_began = False
        self._in_body = True
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        if self._phase == _BODY:
            self._set(_NONE)
        super().on_message_complete()

    # ---- deadlines (called by the guard's sweep) ----

    def _set(self, phase: int, seconds: float = 0.0) -> None:
        self._phase = phase
        self.deadline = self.loop.time() + seconds if phase != _NONE else 0.0

    def expired(self, now: float) -> None:
        if self.transport.is_closing() and self._phase != _LINGER:
            self.deadline = 0.0
            return
        if self._phase == _HEAD:
            self._head_expired()
        elif self._phase == _BODY:
            self._body_check()
        elif self._phase == _IDLE:
            self.guard.reporter.hit("idle_timeout", self._source)
            self._set(_NONE)
            self.transport.close()
        elif self._phase == _LINGER:
            self._set(_NONE)
            self.transport.abort()

    def _head_expired(self) -> None:
        self.guard.reporter.hit("header_timeout", self._source)
        self._set(_NONE)
        if self._request_began:
            self._answer_and_close(request_timeout_response(self.url.decode("latin-1") or "/"))
        else:  # not a byte of a request: nothing to answer
            self.transport.abort()

    def _body_check(self) -> None:
        received, self._body_bytes = self._body_bytes, 0
        cycle = self.cycle
        server_side = self.flow.read_paused or (
            cycle is not None and (bool(cycle.body) or cycle.waiting_for_100_continue)
        )
        if received >= self.guard.min_body_bytes or server_side:
            self._set(_BODY, self.guard.body_window)
            return
        self.guard.reporter.hit("body_timeout", self._source)
        self._in_body = False
        self._set(_NONE)
        answer = cycle is not None and not cycle.response_started
        if cycle is not None:
            # The application's next receive() is a disconnect: it stops reading, and what it
            # sends is dropped; the answer is ours.
            cycle.disconnected = True
            cycle.message_event.set()
        if answer:
            self._answer_and_close(request_timeout_response(self.scope["path"]))
        else:
            self.transport.close()

    def _answer_and_close(self, response: bytes) -> None:
        """Send ``response``, then close without losing it.

        The client may still be sending; bytes that reach a closed socket make the kernel
        answer with a reset, which can destroy the response before the client reads it. So
        the write side is shut (FIN after the response) and what still arrives is read and
        dropped for up to :data:`LINGER_SECONDS` (or until the client closes).
        """
        self._in_body = False
        self.transport.write(response)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._set(_LINGER, LINGER_SECONDS)
        else:  # TLS: no half-close
            self.transport.close()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` option, bound to ``guard``."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"guard": guard})
