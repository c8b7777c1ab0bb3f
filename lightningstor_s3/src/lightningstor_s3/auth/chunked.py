"""aws-chunked bodies: the framing taken off, chunk signatures chained, trailers verified.

The wire form (S3 "Transferring Payload in Multiple Chunks" and "Trailing Headers")::

    <hex size>[;chunk-signature=<sig>]\\r\\n <size bytes> \\r\\n   … repeated …
    0[;chunk-signature=<sig>]\\r\\n
    [<name>:<value>\\r\\n … [x-amz-trailer-signature:<sig>\\r\\n]]   (trailer modes)
    \\r\\n

In the chunk-signed modes chunk *n* signs ``AWS4-HMAC-SHA256-PAYLOAD``, the time, the scope, the
signature of chunk *n-1* (the request's own signature for the first), the SHA-256 of nothing and
the SHA-256 of its data, so chunks can be neither changed nor reordered; the trailer signs
``AWS4-HMAC-SHA256-TRAILER`` … the last chunk's signature and the SHA-256 of its
``name:value\\n`` lines.

Data passes through in the slices it arrived in: chunk headers are found with ``bytes.find``
(bounded to :data:`LINE_LIMIT`), data is sliced, never copied byte by byte, and fed to the
chunk's SHA-256 and the trailer's checksum in those slices. Faults, as S3 names them: framing
that is not aws-chunked or a body that ends early → ``IncompleteBody``; a chunk signature or a
trailer signature that does not verify → ``SignatureDoesNotMatch``; a data chunk after one
smaller than 8 KiB → ``InvalidChunkSizeError``; a trailer missing, unannounced or not
``name:value`` → ``MalformedTrailerError``; a checksum value that is not valid →
``InvalidRequest``, one that does not match the data → ``BadDigest``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncGenerator, AsyncIterable
from enum import Enum, auto

from lightningstor_s3.auth.canonical import sha256_hex
from lightningstor_s3.auth.errors import MalformedTrailerError, truncated_body
from lightningstor_s3.auth.payload import PayloadInfo
from lightningstor_s3.auth.signing_key import hmac_sha256_hex
from lightningstor_types.checksums import (
    ChecksumAlgorithm,
    Hasher,
    b64digest,
    new_hasher,
    parse_b64_checksum,
)
from lightningstor_types.errors import (
    BadDigest,
    InvalidChunkSizeError,
    InvalidRequest,
    SignatureDoesNotMatch,
)

__all__ = ["LINE_LIMIT", "MIN_CHUNK_SIZE", "ChunkedDecoder"]

LINE_LIMIT = 4096
"""Longest chunk header or trailer line taken (a real one is under 200 bytes)."""
MIN_CHUNK_SIZE = 8192
"""Every data chunk but the last carries at least this many bytes (S3's rule)."""
MAX_TRAILER_LINES = 16

_HEX_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_SIGNATURE = re.compile(rb"[0-9a-fA-F]{64}")
_SIGNATURE_PREFIX = b"chunk-signature="
_EMPTY_SHA256 = sha256_hex(b"")
_TRAILER_SIGNATURE = "x-amz-trailer-signature"


class _State(Enum):
    HEADER = auto()
    DATA = auto()
    DATA_END = auto()
    TRAILER = auto()
    DONE = auto()


class ChunkedDecoder:
    """Decodes one aws-chunked body; :meth:`run` yields the object's bytes."""

    def __init__(self, payload: PayloadInfo) -> None:
        self._payload = payload
        signing = payload.signing if payload.mode.chunk_signed else None
        if payload.mode.chunk_signed and signing is None:
            raise ValueError("a chunk-signed payload needs its signing context")
        self._signing = signing
        self._previous = signing.seed_signature if signing else ""
        self._state = _State.HEADER
        self._pending = bytearray()
        self._remaining = 0
        self._chunks = 0
        self._last_size: int | None = None
        self._chunk_signature = b""
        self._chunk_hash: hashlib._Hash | None = None
        self._hashers: dict[ChecksumAlgorithm, Hasher] = {
            alg: new_hasher(alg) for alg in payload.trailers
        }
        self._trailer: list[tuple[str, str]] = []
        self.decoded_length = 0
        """Object bytes decoded so far."""
        self.trailer_checksums: dict[ChecksumAlgorithm, str] = {}
        """The trailer's checksums (base64), once verified at the end of the body."""

    async def run(self, source: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
        """The object's bytes; raises the S3 error of the first fault, at the latest at the end."""
        async for piece in source:
            pos, size = 0, len(piece)
            while pos < size:
                if self._state is _State.DATA:
                    take = min(self._remaining, size - pos)
                    data = piece if take == size else piece[pos : pos + take]
                    pos += take
                    self._take(data)
                    yield data
                    continue
                if self._state is _State.DONE:
                    raise truncated_body()  # bytes after the end of the framing
                line, pos = self._line(piece, pos)
                if line is not None:
                    self._on_line(line)
        self._finish()

    # -- lines ------------------------------------------------------------------------------

    def _line(self, piece: bytes, pos: int) -> tuple[bytes | None, int]:
        """The next CRLF-ended line (``None`` if it continues in the next piece), new position."""
        pending = self._pending
        window = LINE_LIMIT + 2
        if not pending:
            end = piece.find(b"\r\n", pos, pos + window)
            if end >= 0:
                return piece[pos:end], end + 2
            if len(piece) - pos >= window:
                raise truncated_body()
            pending += piece[pos:]
            return None, len(piece)
        held = len(pending)
        pending += piece[pos : pos + window - held]
        end = pending.find(b"\r\n", held - 1)  # a CR held back may pair with an LF here
        if end >= 0:
            line = bytes(pending[:end])
            pending.clear()
            return line, pos + end + 2 - held
        if len(pending) >= window:
            raise truncated_body()
        return None, len(piece)

    def _on_line(self, line: bytes) -> None:
        match self._state:
            case _State.HEADER:
                self._chunk_header(line)
            case _State.DATA_END:
                if line:
                    raise truncated_body()
                self._state = _State.HEADER
            case _State.TRAILER:
                if line:
                    self._trailer_line(line)
                else:
                    self._state = _State.DONE
            case _:  # DATA and DONE never read lines
                raise AssertionError(self._state)

    def _chunk_header(self, line: bytes) -> None:
        size_text, _, extension = line.partition(b";")
        if not _HEX_SIZE.fullmatch(size_text):
            raise truncated_body()
        size = int(size_text, 16)
        if self._signing is not None:
            signature = extension[len(_SIGNATURE_PREFIX) :]
            if not extension.startswith(_SIGNATURE_PREFIX) or not _SIGNATURE.fullmatch(signature):
                raise truncated_body()
            self._chunk_signature = signature
            self._chunk_hash = hashlib.sha256()
        self._chunks += 1
        if size == 0:
            self._end_chunk()
            self._state = _State.TRAILER
            return
        if self._last_size is not None and self._last_size < MIN_CHUNK_SIZE:
            raise InvalidChunkSizeError(Chunk=str(self._chunks), BadChunkSize=str(self._last_size))
        self._last_size = size
        self._remaining = size
        self._state = _State.DATA

    def _trailer_line(self, line: bytes) -> None:
        name, colon, value = line.partition(b":")
        name = name.strip()
        if not colon or not name or len(self._trailer) >= MAX_TRAILER_LINES:
            raise MalformedTrailerError()
        self._trailer.append((name.lower().decode("latin-1"), value.strip().decode("latin-1")))

    # -- data -------------------------------------------------------------------------------

    def _take(self, data: bytes) -> None:
        if self._chunk_hash is not None:
            self._chunk_hash.update(data)
        for hasher in self._hashers.values():
            hasher.update(data)
        self.decoded_length += len(data)
        declared = self._payload.decoded_content_length
        if declared is not None and self.decoded_length > declared:
            raise truncated_body()
        self._remaining -= len(data)
        if self._remaining == 0:
            self._end_chunk()
            self._state = _State.DATA_END

    def _end_chunk(self) -> None:
        """Verify the signature of the chunk just read (chunk-signed modes)."""
        if self._signing is None or self._chunk_hash is None:
            return
        to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                self._signing.timestamp,
                self._signing.scope,
                self._previous,
                _EMPTY_SHA256,
                self._chunk_hash.hexdigest(),
            )
        )
        expected = hmac_sha256_hex(self._signing.key, to_sign)
        if not hmac.compare_digest(expected.encode("ascii"), self._chunk_signature):
            raise SignatureDoesNotMatch()
        self._previous = expected
        self._chunk_hash = None

    # -- the end ----------------------------------------------------------------------------

    def _finish(self) -> None:
        if self._state is _State.TRAILER and self._pending:
            # The last trailer line without its CRLF: the body simply ended there.
            line = bytes(self._pending).strip()
            self._pending.clear()
            if line:
                self._trailer_line(line)
        elif self._state is not _State.TRAILER and self._state is not _State.DONE:
            raise truncated_body()
        declared = self._payload.decoded_content_length
        if declared is not None and self.decoded_length != declared:
            raise truncated_body()
        self._verify_trailer()

    def _verify_trailer(self) -> None:
        received: dict[str, str] = {}
        signature: str | None = None
        for name, value in self._trailer:
            if name == _TRAILER_SIGNATURE:
                signature = value
            elif name in received:
                raise MalformedTrailerError()
            else:
                received[name] = value
        announced = {alg.header_name: alg for alg in self._payload.trailers}
        if self._signing is not None and (received or announced):
            self._verify_trailer_signature(signature)
        if received.keys() != announced.keys():
            raise MalformedTrailerError()
        for name, alg in announced.items():
            try:
                claimed = parse_b64_checksum(alg, received[name])
            except ValueError:
                raise InvalidRequest(f"Value for {name} trailing header is invalid.") from None
            hasher = self._hashers[alg]
            if not hmac.compare_digest(hasher.digest(), claimed):
                raise BadDigest(
                    f"The {alg.value} you specified did not match the calculated checksum."
                )
            self.trailer_checksums[alg] = b64digest(hasher)

    def _verify_trailer_signature(self, signature: str | None) -> None:
        assert self._signing is not None
        if signature is None:
            raise MalformedTrailerError()
        lines = "".join(
            f"{name}:{value}\n" for name, value in self._trailer if name != _TRAILER_SIGNATURE
        )
        to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                self._signing.timestamp,
                self._signing.scope,
                self._previous,
                sha256_hex(lines.encode("latin-1")),
            )
        )
        expected = hmac_sha256_hex(self._signing.key, to_sign)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("latin-1")):
            raise SignatureDoesNotMatch()
