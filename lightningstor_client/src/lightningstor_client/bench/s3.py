"""The S3 side of the load generator: a keep-alive HTTP/1.1 connection over asyncio streams.

One :class:`HttpConnection` per worker, reused for every request (reopened only when the server
closes it); requests are written as one buffer (head and small body together), responses read by
``Content-Length`` or chunked transfer coding. Large bodies go out in 1 MiB slices of one shared
buffer and come back in reads that are counted and dropped, so nothing is copied whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lightningstor_client.sigv4 import (
    EMPTY_SHA256,
    UNSIGNED_PAYLOAD,
    Signer,
    canonical_query,
    uri_path,
)

__all__ = ["HttpConnection", "HttpError", "Response", "S3Client", "S3Driver", "S3Session"]

SLICE = 1024 * 1024
_READ_LIMIT = 1024 * 1024
_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
_KEY_COUNT = re.compile(rb"<KeyCount>(\d+)</KeyCount>")


class HttpError(Exception):
    """A response that broke HTTP/1.1 framing, or a status the operation did not expect."""

    retry_after: float | None = None
    """A 503's ``Retry-After`` in seconds (a rate limit), when it sent one."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    length: int
    """Bytes of body received (kept in ``body`` only when asked to)."""


class HttpConnection:
    """One keep-alive connection to ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=_READ_LIMIT)
        self._reader, self._writer = reader, writer
        return reader, writer

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(
        self, head: bytes, body: memoryview | None, *, has_body: bool = True, keep: bool = True
    ) -> Response:
        """Send ``head`` (the request line and headers, ending in a blank line) and ``body``.

        ``has_body=False`` for HEAD (the answer's Content-Length describes no body);
        ``keep=False`` drops the response body after counting it.
        """
        if self._writer is None or self._reader is None:
            reader, writer = await self._open()
        else:
            reader, writer = self._reader, self._writer
        try:
            if body is None or len(body) <= SLICE:
                writer.write(head + body if body is not None else head)
            else:
                writer.write(head)
                for start in range(0, len(body), SLICE):
                    writer.write(body[start : start + SLICE])
                    await writer.drain()
            return await self._response(reader, has_body=has_body, keep=keep)
        except BaseException:
            await self.close()
            raise

    async def _response(
        self, reader: asyncio.StreamReader, *, has_body: bool, keep: bool
    ) -> Response:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
        body = b""
        length = 0
        if has_body and status not in (204, 304) and status >= 200:
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                body, length = await _chunked(reader, keep)
            elif b"content-length" in headers:
                length = int(headers[b"content-length"])
                body = await _exactly(reader, length, keep)
            else:  # body until close
                body = await reader.read() if keep else b""
                length = len(body)
                await self.close()
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return Response(status, headers, body, length)


async def _exactly(reader: asyncio.StreamReader, n: int, keep: bool) -> bytes:
    if keep or n <= SLICE:
        return await reader.readexactly(n)
    left = n
    while left:
        piece = await reader.read(min(left, SLICE))
        if not piece:
            raise HttpError("connection closed in the middle of a body")
        left -= len(piece)
    return b""


async def _chunked(reader: asyncio.StreamReader, keep: bool) -> tuple[bytes, int]:
    pieces: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            return b"".join(pieces), total
        piece = await _exactly(reader, size, keep)
        if keep:
            pieces.append(piece)
        total += size
        await reader.readexactly(2)


class S3Client:
    """Signed S3 requests (path style) over a caller-owned :class:`HttpConnection`."""

    def __init__(
        self, host: str, port: int, signer: Signer, put_headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.host = host
        self.port = port
        self.signer = signer
        self.host_header = f"{host}:{port}"
        self.put_headers = tuple(put_headers)
        """Signed headers every PUT carries (``x-amz-server-side-encryption`` for --sse)."""

    def connection(self) -> HttpConnection:
        return HttpConnection(self.host, self.port)

    def _head(
        self,
        method: str,
        path: str,
        query: str = "",
        *,
        payload_hash: str = EMPTY_SHA256,
        content_length: int | None = None,
        extra: Sequence[tuple[str, str]] = (),
    ) -> bytes:
        amz_date, auth = self.signer.headers(
            method, path, query, self.host_header, payload_hash, extra
        )
        target = f"{path}?{query}" if query else path
        length = f"Content-Length: {content_length}\r\n" if content_length is not None else ""
        more = "".join(f"{name}: {value}\r\n" for name, value in extra)
        return (
            f"{method} {target} HTTP/1.1\r\nHost: {self.host_header}\r\n"
            f"x-amz-date: {amz_date}\r\nx-amz-content-sha256: {payload_hash}\r\n"
            f"{more}Authorization: {auth}\r\n{length}\r\n"
        ).encode()

    async def create_bucket(self, conn: HttpConnection, bucket: str) -> int:
        head = self._head("PUT", uri_path(bucket), content_length=0)
        return (await conn.request(head, None)).status

    async def put(
        self, conn: HttpConnection, bucket: str, key: str, body: memoryview, payload_hash: str
    ) -> int:
        head = self._head(
            "PUT",
            uri_path(bucket, key),
            payload_hash=payload_hash,
            content_length=len(body),
            extra=self.put_headers,
        )
        return (await conn.request(head, body)).status

    async def get(self, conn: HttpConnection, bucket: str, key: str) -> Response:
        head = self._head("GET", uri_path(bucket, key))
        return await conn.request(head, None, keep=False)

    async def head(self, conn: HttpConnection, bucket: str, key: str) -> Response:
        head = self._head("HEAD", uri_path(bucket, key))
        return await conn.request(head, None, has_body=False)

    async def delete(self, conn: HttpConnection, bucket: str, key: str) -> int:
        head = self._head("DELETE", uri_path(bucket, key))
        return (await conn.request(head, None)).status

    async def list_page(
        self,
        conn: HttpConnection,
        bucket: str,
        prefix: str,
        max_keys: int,
        token: str | None,
        *,
        start_after: str = "",
    ) -> tuple[int, int, str | None]:
        """One ListObjectsV2 page: ``(status, keys on the page, next continuation token)``."""
        params = {"list-type": "2", "max-keys": str(max_keys), "prefix": prefix}
        if token:
            params["continuation-token"] = token
        if start_after:
            params["start-after"] = start_after
        query = canonical_query(params)
        resp = await conn.request(self._head("GET", uri_path(bucket), query), None)
        if resp.status != 200:
            return resp.status, 0, None
        count = _KEY_COUNT.search(resp.body)
        found = _TOKEN.search(resp.body)
        next_token = (
            found.group(1).decode() if found and b"<IsTruncated>true" in resp.body else None
        )
        if next_token is not None:
            next_token = next_token.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        return resp.status, int(count.group(1)) if count else 0, next_token

    def presigned_url(self, bucket: str, key: str, *, expires: int = 3600) -> str:
        path = self.signer.presign("GET", uri_path(bucket, key), self.host_header, expires=expires)
        return f"http://{self.host_header}{path}"


class S3Session:
    """A worker's own connection and the operations of the load generator over it."""

    def __init__(self, client: S3Client, bucket: str, body: memoryview, payload_hash: str) -> None:
        self._client = client
        self._conn = client.connection()
        self._bucket = bucket
        self._body = body
        self._hash = payload_hash

    @staticmethod
    def _check(status: int, *expected: int, headers: dict[bytes, bytes] | None = None) -> None:
        if status not in expected:
            err = HttpError(f"HTTP {status}")
            retry = (headers or {}).get(b"retry-after", b"")
            if status == 503 and retry.isdigit():
                err.retry_after = float(retry)
            raise err

    async def put(self, key: str) -> int:
        self._check(
            await self._client.put(self._conn, self._bucket, key, self._body, self._hash), 200
        )
        return len(self._body)

    async def get(self, key: str) -> int:
        resp = await self._client.get(self._conn, self._bucket, key)
        self._check(resp.status, 200, headers=resp.headers)
        return resp.length

    async def head(self, key: str) -> int:
        resp = await self._client.head(self._conn, self._bucket, key)
        self._check(resp.status, 200, headers=resp.headers)
        return 0

    async def delete(self, key: str) -> int:
        self._check(await self._client.delete(self._conn, self._bucket, key), 204, 200)
        return 0

    async def exists(self, key: str) -> bool:
        status = (await self._client.head(self._conn, self._bucket, key)).status
        if status not in (200, 404):
            raise HttpError(f"HTTP {status}")
        return status == 200

    async def list_page(
        self, prefix: str, max_keys: int, token: str | None
    ) -> tuple[int, str | None]:
        status, count, next_token = await self._client.list_page(
            self._conn, self._bucket, prefix, max_keys, token
        )
        self._check(status, 200)
        return count, next_token

    async def close(self) -> None:
        await self._conn.close()


class S3Driver:
    """Sessions of signed S3 requests to one endpoint, each on its own keep-alive connection."""

    api = "s3"

    def __init__(
        self, client: S3Client, bucket: str, body: bytes, *, unsigned_payload: bool = False
    ) -> None:
        self.client = client
        self._bucket = bucket
        self._body = memoryview(body)
        self._hash = UNSIGNED_PAYLOAD if unsigned_payload else hashlib.sha256(body).hexdigest()

    async def create_bucket(self) -> None:
        conn = self.client.connection()
        try:
            status = await self.client.create_bucket(conn, self._bucket)
        finally:
            await conn.close()
        if status not in (200, 409):
            raise HttpError(f"create bucket {self._bucket}: HTTP {status}")

    def session(self) -> S3Session:
        return S3Session(self.client, self._bucket, self._body, self._hash)

    async def close(self) -> None:
        return None
