"""One HTTP exchange on the raw ASGI primitives: the request head, its body, the response.

Object bodies never pass through a framework: :meth:`Exchange.raw_body` yields what ``receive``
delivers (uvicorn has already removed ``Transfer-Encoding: chunked``), and the response goes out
through ``send`` piece by piece. Measured on 4 KiB GETs (docs/architecture.md §2):
raw ASGI 3.6k req/s,
FastAPI's StreamingResponse 0.6k.

uvicorn answers ``Expect: 100-continue`` when the app first calls ``receive``; the dispatcher
authenticates before that, so an unauthenticated upload is refused before its body is sent.
Every response carries ``x-amz-request-id`` and ``x-amz-id-2``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from lightningstor_types.errors import (
    ClientDisconnected,
    InvalidArgument,
    MaxMessageLengthExceeded,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def parse_query(query_string: bytes) -> dict[str, str]:
    """The query parameters, percent-decoded once as UTF-8; the first of repeated names wins.

    ``+`` is a literal plus, never a space: what every AWS SDK sends as ``%2B`` and how the
    signature check (``auth.canonical``) reads it, so both agree on what was asked.
    """
    query: dict[str, str] = {}
    for segment in query_string.split(b"&"):
        if not segment:
            continue
        raw_name, _, raw_value = segment.partition(b"=")
        try:
            name = unquote_to_bytes(raw_name).decode("utf-8")
            value = unquote_to_bytes(raw_value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgument("The query string is not valid UTF-8") from exc
        query.setdefault(name, value)
    return query


def header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names to values (latin-1, as HTTP defines); repeated headers joined by ','."""
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        value = value_bytes.decode("latin-1").strip()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


class Exchange:
    """The request as received and the response as it is being sent."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, *, request_id: str, host_id: str
    ) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.request_id = request_id
        self.host_id = host_id
        self.method: str = scope["method"]
        self.raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        self.query_string: bytes = scope.get("query_string", b"")
        self.raw_headers: list[tuple[bytes, bytes]] = list(scope.get("headers", ()))
        self.headers = header_map(self.raw_headers)
        self.host = self.headers.get("host", "")
        client = scope.get("client")
        self.source_address = f"{client[0]}:{client[1]}" if client else ""
        self.status = 0
        self.body_received = False
        self.bytes_received = 0
        self.bytes_sent = 0
        self.extra_headers: list[tuple[bytes, bytes]] = []  # added to the head (CORS)

    @property
    def started(self) -> bool:
        """True once the response head has been sent (an error can then only cut it short)."""
        return self.status != 0

    # ---- request body ----

    async def raw_body(self) -> AsyncIterator[bytes]:
        """The body bytes as they arrive; raises ClientDisconnected if the client goes away."""
        if self.body_received:
            return
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            data: bytes = message.get("body", b"")
            more: bool = message.get("more_body", False)
            if not more:
                self.body_received = True
            if data:
                self.bytes_received += len(data)
                yield data
            if not more:
                return

    async def drain(self, limit: int = 1024 * 1024) -> None:
        """Read and drop an unread body (up to ``limit``) so the connection can be reused."""
        if self.body_received or self.started:
            return
        seen = 0
        try:
            async for data in self.raw_body():
                seen += len(data)
                if seen > limit:
                    return
        except ClientDisconnected:
            return

    # ---- response ----

    async def start(self, status: int, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
        """Send the response head; the request-id headers are added here."""
        self.status = status
        await self._send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"x-amz-request-id", self.request_id.encode()),
                    (b"x-amz-id-2", self.host_id.encode()),
                    *headers,
                    *self.extra_headers,
                ],
            }
        )

    async def write(self, data: bytes, *, more: bool = True) -> None:
        """Send a piece of the response body (``more=False`` ends the response)."""
        self.bytes_sent += len(data)
        await self._send({"type": "http.response.body", "body": data, "more_body": more})

    async def respond(
        self, status: int, headers: Sequence[tuple[bytes, bytes]] = (), body: bytes = b""
    ) -> None:
        """A whole response with a small body (XML documents, errors)."""
        head = list(headers)
        if self.method != "HEAD" or not any(name == b"content-length" for name, _ in head):
            head.append((b"content-length", str(len(body)).encode()))
        await self.start(status, head)
        await self.write(body if self.method != "HEAD" else b"", more=False)

    async def respond_xml(
        self, document: bytes, headers: Sequence[tuple[bytes, bytes]] = (), status: int = 200
    ) -> None:
        await self.respond(status, [(b"content-type", b"application/xml"), *headers], document)


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """A small body (an XML document) as bytes; MaxMessageLengthExceeded past ``limit``."""
    parts: list[bytes] = []
    size = 0
    async for data in chunks:
        size += len(data)
        if size > limit:
            raise MaxMessageLengthExceeded()
        parts.append(data)
    return b"".join(parts)
