"""What every handler receives: the exchange, its route, the caller and the service."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lightningstor_s3 import xml_in
from lightningstor_s3.auth import AuthResult, DecodedBody, RequestHead, decode_body
from lightningstor_s3.exchange import Exchange, read_limited
from lightningstor_s3.router import Route
from lightningstor_types.checksums import ChecksumAlgorithm, new_hasher, parse_b64_checksum
from lightningstor_types.config import Settings
from lightningstor_types.errors import (
    BadDigest,
    InvalidArgument,
    InvalidDigest,
    InvalidRequest,
    MissingContentLength,
)
from lightningstor_types.service import RequestContext, StorageService


@dataclass(slots=True)
class S3Call:
    """One authenticated S3 request on its way to the service."""

    ex: Exchange
    head: RequestHead
    auth: AuthResult
    route: Route
    query: dict[str, str]
    ctx: RequestContext
    service: StorageService
    settings: Settings

    @property
    def headers(self) -> dict[str, str]:
        return self.ex.headers

    def body(self) -> DecodedBody:
        """The request body with any aws-chunked framing removed and its signatures checked."""
        return decode_body(self.ex.raw_body(), self.head, self.auth)

    def content_length(self) -> int | None:
        """The size of the decoded body: ``x-amz-decoded-content-length`` for aws-chunked
        bodies, else Content-Length; None for a body streamed without either."""
        payload = self.auth.payload
        if payload.aws_chunked:
            return payload.decoded_content_length
        if payload.content_length is None and "transfer-encoding" not in self.headers:
            raise MissingContentLength()
        return payload.content_length

    async def read_xml(
        self, *, integrity_required: bool = False, object_checksums: bool = False
    ) -> bytes:
        """A request document, whole (bounded), checked against Content-MD5 and any
        ``x-amz-checksum-*`` header; with ``integrity_required`` one of them must be there.
        With ``object_checksums`` those headers are the object's, not the document's
        (CompleteMultipartUpload: the core checks them against the parts)."""
        decoded = self.body()
        body = await read_limited(decoded, xml_in.MAX_XML_BYTES)
        checked = _check_md5(self.headers.get("content-md5"), body)
        if decoded.trailer_checksums:  # verified against the body by decode_body
            checked = True
        for alg in () if object_checksums else ChecksumAlgorithm:
            if value := self.headers.get(alg.header_name):
                _check_checksum(alg, value, body)
                checked = True
        if integrity_required and not checked:
            raise InvalidRequest(
                "Missing required header for this request: Content-MD5 or x-amz-checksum-*"
            )
        return body


def _check_md5(value: str | None, body: bytes) -> bool:
    if value is None:
        return False
    try:
        digest = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII value
        digest = b""
    if len(digest) != 16:
        raise InvalidDigest(ContentMD5=value)
    if hashlib.md5(body).digest() != digest:  # noqa: S324 - Content-MD5, not a security use
        raise BadDigest(ExpectedDigest=value)
    return True


def _check_checksum(alg: ChecksumAlgorithm, value: str, body: bytes) -> None:
    try:
        expected = parse_b64_checksum(alg, value)
    except ValueError as exc:
        raise InvalidRequest(f"Value for {alg.header_name} header is invalid.") from exc
    hasher = new_hasher(alg)
    hasher.update(body)
    if hasher.digest() != expected:
        raise BadDigest(f"The {alg.value} you specified did not match the calculated checksum.")


Handler = Callable[[S3Call], Awaitable[None]]


def int_param(query: dict[str, str], name: str, default: int, *, high: int) -> int:
    """A non-negative integer query parameter, capped at ``high``."""
    value = query.get(name)
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit()):  # isdigit() alone admits "²"
        raise InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=value,
        )
    return min(int(value), high)
