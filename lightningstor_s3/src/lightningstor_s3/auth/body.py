"""The body of a request, read as its signature says: the object's bytes, verified as they pass.

:func:`decode_body` wraps the raw body (the ASGI ``http.request`` bodies, as an async iterator)
in a :class:`DecodedBody`: an async iterator of the object's bytes that raises the S3 error of
a fault instead of ending. It raises at the latest when the last bytes have been taken and
before it reports the end, so a consumer that commits only after the end (the core does)
never stores a body that failed: a plain body whose SHA-256 differs from the signed one
(``XAmzContentSHA256Mismatch``), one shorter than its ``Content-Length`` (``IncompleteBody``),
or any fault of an aws-chunked body (:mod:`lightningstor_s3.auth.chunked`).

After the end, :attr:`DecodedBody.trailer_checksums` holds the trailer's verified checksums,
for the caller to store. Checksums sent as headers (``x-amz-checksum-*``, ``Content-MD5``) are
the core's to verify; this module does not.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from contextlib import aclosing

from lightningstor_s3.auth.chunked import ChunkedDecoder
from lightningstor_s3.auth.payload import PayloadInfo, PayloadMode
from lightningstor_s3.auth.request import AuthResult, RequestHead
from lightningstor_types.checksums import THREAD_THRESHOLD, ChecksumAlgorithm
from lightningstor_types.errors import IncompleteBody, XAmzContentSHA256Mismatch

__all__ = ["DecodedBody", "decode_body"]


def decode_body(
    receive_chunks: AsyncIterable[bytes], head: RequestHead, auth: AuthResult
) -> DecodedBody:
    """The object's bytes of a request body authenticated as ``auth``.

    ``head`` is the request :func:`~lightningstor_s3.auth.sigv4.authenticate` saw; the body's
    description comes from ``auth.payload``.
    """
    del head  # everything needed was read into auth.payload
    return DecodedBody(receive_chunks, auth.payload)


class DecodedBody:
    """An async iterator of an object's bytes, decoded and verified from a request body."""

    __slots__ = ("_chunked", "_decoded", "_iterator", "_payload", "_source")

    def __init__(self, source: AsyncIterable[bytes], payload: PayloadInfo) -> None:
        self._payload = payload
        self._source = source
        self._decoded = 0
        self._chunked = ChunkedDecoder(payload) if payload.aws_chunked else None
        self._iterator: AsyncGenerator[bytes, None] = self._run()

    @property
    def payload(self) -> PayloadInfo:
        """How the body is read."""
        return self._payload

    @property
    def decoded_length(self) -> int:
        """Object bytes produced so far (all of them once the iterator has ended)."""
        return self._chunked.decoded_length if self._chunked else self._decoded

    @property
    def trailer_checksums(self) -> dict[ChecksumAlgorithm, str]:
        """Checksums from the trailer (base64, as S3 sends them), verified; filled at the end."""
        return self._chunked.trailer_checksums if self._chunked else {}

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop early: close the decoder and the raw body."""
        await self._iterator.aclose()

    async def _run(self) -> AsyncGenerator[bytes, None]:
        try:
            if self._chunked is not None:
                wire = self._wire()
                async with aclosing(wire), aclosing(self._chunked.run(wire)) as stream:
                    async for data in stream:
                        yield data
            else:
                async with aclosing(self._plain()) as stream:
                    async for data in stream:
                        yield data
        finally:
            aclose = getattr(self._source, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _wire(self) -> AsyncGenerator[bytes, None]:
        """The raw body, hashed when the signed payload hash covers the framed bytes."""
        sha = _sha256_for(self._payload)
        async for piece in self._source:
            if piece:
                if sha is not None:
                    await _update(sha, piece)
                yield piece
        if sha is not None:
            _check_sha256(self._payload, sha)

    async def _plain(self) -> AsyncGenerator[bytes, None]:
        sha = _sha256_for(self._payload)
        async for piece in self._source:
            if not piece:
                continue
            self._decoded += len(piece)
            if sha is not None:
                await _update(sha, piece)
            yield piece
        expected = self._payload.content_length
        if expected is not None and self._decoded != expected:
            raise IncompleteBody()
        if sha is not None:
            _check_sha256(self._payload, sha)


def _sha256_for(payload: PayloadInfo) -> hashlib._Hash | None:
    return hashlib.sha256() if payload.mode is PayloadMode.SIGNED else None


async def _update(sha: hashlib._Hash, piece: bytes) -> None:
    if len(piece) >= THREAD_THRESHOLD:
        await asyncio.to_thread(sha.update, piece)
    else:
        sha.update(piece)


def _check_sha256(payload: PayloadInfo, sha: hashlib._Hash) -> None:
    computed = sha.hexdigest()
    claimed = payload.content_sha256 or ""
    if not hmac.compare_digest(computed.encode("ascii"), claimed.encode("ascii")):
        raise XAmzContentSHA256Mismatch(
            ClientComputedContentSHA256=claimed, S3ComputedContentSHA256=computed
        )
