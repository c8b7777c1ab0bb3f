"""Hand-made S3 requests for what no SDK sends: bad signatures, skewed clocks, aws-chunked bodies
with broken chunks or trailers, chunked transfer encoding, ``Expect: 100-continue``.

A small, independent SigV4 signer (header and presigned) written from the AWS specification,
so the tests check the server against the spec, not against its own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import socket
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from xml.etree import ElementTree as ET

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def code(self) -> str | None:
        """The S3 error code of an error document, else None."""
        if not self.body.startswith(b"<?xml"):
            return None
        return ET.fromstring(self.body).findtext("Code")


@dataclass
class Signer:
    address: str  # host:port
    key_id: str
    secret: str
    region: str = "us-east-1"

    def key(self, day: str) -> bytes:
        k = _hmac(("AWS4" + self.secret).encode(), day)
        k = _hmac(k, self.region)
        k = _hmac(k, "s3")
        return _hmac(k, "aws4_request")

    def scope(self, day: str) -> str:
        return f"{day}/{self.region}/s3/aws4_request"

    @staticmethod
    def canonical_query(query: dict[str, str]) -> str:
        pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in query.items())
        return "&".join(f"{k}={v}" for k, v in pairs)

    def _signature(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
        payload_hash: str, stamp: str,
    ) -> tuple[str, str]:  # fmt: skip
        names = sorted(headers)
        canonical = "\n".join(
            [
                method,
                path,
                self.canonical_query(query),
                "".join(f"{n}:{' '.join(headers[n].split())}\n" for n in names),
                ";".join(names),
                payload_hash,
            ]
        )
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", stamp, self.scope(stamp[:8]),
             hashlib.sha256(canonical.encode()).hexdigest()]
        )  # fmt: skip
        return ";".join(names), hmac.new(
            self.key(stamp[:8]), to_sign.encode(), "sha256"
        ).hexdigest()

    def sign(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        payload_hash: str = UNSIGNED,
        when: datetime | None = None,
    ) -> tuple[dict[str, str], str]:
        """Signed headers for a request (path already URI-encoded); and the seed signature."""
        stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        all_headers = {k.lower(): v for k, v in (headers or {}).items()}
        all_headers |= {
            "host": self.address,
            "x-amz-date": stamp,
            "x-amz-content-sha256": payload_hash,
        }
        signed, signature = self._signature(
            method, path, query or {}, all_headers, payload_hash, stamp
        )
        all_headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.key_id}/{self.scope(stamp[:8])}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return all_headers, signature

    def presign(
        self, method: str, path: str, *, expires: int = 300, when: datetime | None = None
    ) -> str:
        """A presigned path+query (host signed, UNSIGNED-PAYLOAD)."""
        stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        query = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{self.key_id}/{self.scope(stamp[:8])}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
        }
        _, signature = self._signature(method, path, query, {"host": self.address}, UNSIGNED, stamp)
        query["X-Amz-Signature"] = signature
        return f"{path}?{self.canonical_query(query)}"

    def chunked_body(
        self, chunks: Iterable[bytes], seed: str, stamp: str, *, corrupt_chunk: int = -1
    ) -> bytes:
        """An aws-chunked body with chunk signatures (the final empty chunk included)."""
        out, previous = [], seed
        for i, chunk in enumerate([*chunks, b""]):
            to_sign = "\n".join(
                ["AWS4-HMAC-SHA256-PAYLOAD", stamp, self.scope(stamp[:8]), previous,
                 EMPTY_SHA256, hashlib.sha256(chunk).hexdigest()]
            )  # fmt: skip
            signature = hmac.new(self.key(stamp[:8]), to_sign.encode(), "sha256").hexdigest()
            previous = signature
            if i == corrupt_chunk:
                signature = "0" * 64
            out.append(f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + chunk + b"\r\n")
        return b"".join(out)


def unsigned_trailer_body(chunks: Iterable[bytes], trailer: str | None) -> bytes:
    """An aws-chunked body without signatures, ending with ``trailer`` (``name:value``)."""
    out = [f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks]
    out.append(b"0\r\n")
    if trailer is not None:
        out.append(trailer.encode() + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def request(
    address: str,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | Iterable[bytes] | None = None,
    *,
    chunked: bool = False,
    source: str | None = None,
) -> Response:
    """One request on a fresh connection (from the local address ``source``, e.g. another
    loopback address, when given)."""
    host, port = address.rsplit(":", 1)
    bind = (source, 0) if source is not None else None
    conn = http.client.HTTPConnection(host, int(port), timeout=30, source_address=bind)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if isinstance(body, bytes) and "content-length" not in {k.lower() for k in hdrs}:
            hdrs["Content-Length"] = str(len(body))
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        for name, value in hdrs.items():
            conn.putheader(name, value)
        conn.endheaders()
        if isinstance(body, bytes):
            conn.send(body)
        elif body is not None:
            for piece in body:
                conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
            if chunked:
                conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def expect_continue(address: str, target: str, headers: dict[str, str], body: bytes) -> list[bytes]:
    """Send the head with ``Expect: 100-continue``; the status lines received, in order.

    The body is sent only after a ``100 Continue``; after a final status it is not sent.
    """
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = [f"PUT {target} HTTP/1.1", "Expect: 100-continue", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        reader = sock.makefile("rb")
        first = reader.readline()
        statuses = [first.strip()]
        if b" 100 " in first:
            reader.readline()  # the blank line after the interim response
            sock.sendall(body)
            statuses.append(reader.readline().strip())
        return statuses


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
