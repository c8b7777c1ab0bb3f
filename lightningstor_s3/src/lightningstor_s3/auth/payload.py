"""How a request's body is to be read: its payload mode, framing, lengths and trailers.

The mode comes from the payload hash the request signed (``x-amz-content-sha256``, or
``X-Amz-Content-Sha256`` in a presigned query): a hex SHA-256 of the body, ``UNSIGNED-PAYLOAD``,
or one of the three streaming sentinels. A body is aws-chunked when the mode is streaming or
``Content-Encoding`` names ``aws-chunked`` (some clients frame an ``UNSIGNED-PAYLOAD`` body).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from lightningstor_types.checksums import ChecksumAlgorithm
from lightningstor_types.errors import InvalidArgument, InvalidRequest, MissingContentLength

__all__ = ["ChunkSigning", "PayloadInfo", "PayloadMode", "payload_info"]

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_DIGITS = re.compile(r"\d{1,19}")
_TRAILER_ALGORITHMS = {alg.header_name: alg for alg in ChecksumAlgorithm}


class PayloadMode(Enum):
    """The payload hash a request signed; the value is the sentinel S3 sends."""

    UNSIGNED = "UNSIGNED-PAYLOAD"
    SIGNED = "<sha256>"
    """The hex SHA-256 of the body (``PayloadInfo.content_sha256``), checked while it streams."""
    STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

    @property
    def chunk_signed(self) -> bool:
        """Each aws-chunked chunk carries a signature chained from the request's."""
        return self in (PayloadMode.STREAMING_SIGNED, PayloadMode.STREAMING_SIGNED_TRAILER)

    @property
    def streaming(self) -> bool:
        """The body is aws-chunked by the mode itself."""
        return self.value.startswith("STREAMING-")


_SENTINELS = {mode.value: mode for mode in PayloadMode if mode is not PayloadMode.SIGNED}


@dataclass(frozen=True, slots=True)
class ChunkSigning:
    """What verifying chunk and trailer signatures needs: the key and the seed of the chain."""

    key: bytes = field(repr=False)
    timestamp: str
    scope: str
    seed_signature: str


@dataclass(frozen=True, slots=True)
class PayloadInfo:
    """How to read and verify a request's body (see :func:`lightningstor_s3.auth.decode_body`)."""

    mode: PayloadMode
    content_sha256: str | None = None
    """Lower-case hex SHA-256 the body must have (mode SIGNED only)."""
    aws_chunked: bool = False
    """The body is aws-chunked framing; the object is what the chunks carry."""
    decoded_content_length: int | None = None
    """``x-amz-decoded-content-length``: the object's size when the body is aws-chunked."""
    content_length: int | None = None
    """``Content-Length``: the size of the body on the wire, when the client sent it."""
    trailers: tuple[ChecksumAlgorithm, ...] = ()
    """The checksums announced in ``x-amz-trailer``, to come after the last chunk."""
    content_encoding: str | None = None
    """``Content-Encoding`` without ``aws-chunked``: the encoding to store with the object."""
    signing: ChunkSigning | None = None
    """Set for the chunk-signed modes of an authenticated request."""

    @property
    def object_size(self) -> int | None:
        """The size of the object when known before reading: decoded length or Content-Length."""
        return self.decoded_content_length if self.aws_chunked else self.content_length


def payload_info(headers: Mapping[bytes, Sequence[bytes]], payload_hash: str | None) -> PayloadInfo:
    """Read the body's description from the headers and the signed payload hash.

    ``payload_hash`` is None for an anonymous request without ``x-amz-content-sha256``.
    Raises ``InvalidArgument`` for a payload hash S3 does not know, ``InvalidRequest`` for a
    trailer it cannot take, ``MissingContentLength`` for a chunk-signed body without its
    decoded length.
    """
    mode, sha = _mode(payload_hash)
    encodings = [
        token.strip() for token in _text(headers, b"content-encoding").split(",") if token.strip()
    ]
    kept = [token for token in encodings if token.lower() != "aws-chunked"]
    aws_chunked = mode.streaming or len(kept) != len(encodings)
    trailers = _trailers(headers, aws_chunked=aws_chunked)
    decoded = _length(headers, b"x-amz-decoded-content-length", strict=True)
    if mode.chunk_signed and decoded is None:
        raise MissingContentLength()  # x-amz-decoded-content-length, for a chunk-signed body
    return PayloadInfo(
        mode=mode,
        content_sha256=sha,
        aws_chunked=aws_chunked,
        decoded_content_length=decoded if aws_chunked else None,
        content_length=_length(headers, b"content-length", strict=False),
        trailers=trailers,
        content_encoding=",".join(kept) or None,
    )


def _mode(payload_hash: str | None) -> tuple[PayloadMode, str | None]:
    if payload_hash is None:
        return PayloadMode.UNSIGNED, None
    mode = _SENTINELS.get(payload_hash)
    if mode is not None:
        return mode, None
    if _SHA256_HEX.fullmatch(payload_hash):
        return PayloadMode.SIGNED, payload_hash.lower()
    raise InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "or a valid sha256 value.",
        ArgumentName="x-amz-content-sha256",
        ArgumentValue=payload_hash,
    )


def _trailers(
    headers: Mapping[bytes, Sequence[bytes]], *, aws_chunked: bool
) -> tuple[ChecksumAlgorithm, ...]:
    names = [
        name.strip().lower() for name in _text(headers, b"x-amz-trailer").split(",") if name.strip()
    ]
    if not names:
        return ()
    algorithms = [_TRAILER_ALGORITHMS.get(name) for name in names]
    if not aws_chunked or None in algorithms:
        raise InvalidRequest("The value specified in the x-amz-trailer header is not supported")
    if len(set(algorithms)) > 1 or any(name in headers for name in _HEADER_NAMES):
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    return tuple(alg for alg in dict.fromkeys(algorithms) if alg is not None)


_HEADER_NAMES = tuple(name.encode("ascii") for name in _TRAILER_ALGORITHMS)


_LENGTH_MAX = 2**63 - 1


def _length(headers: Mapping[bytes, Sequence[bytes]], name: bytes, *, strict: bool) -> int | None:
    values = headers.get(name)
    if not values:
        return None
    text = values[0].decode("latin-1").strip()
    if _DIGITS.fullmatch(text):
        # No body is longer than int64: a larger length is refused by the size limit
        # (EntityTooLarge), as any length past it, instead of overflowing the API message.
        return min(int(text), _LENGTH_MAX)
    if not strict:
        return None
    raise InvalidArgument(
        f"{name.decode('ascii')} must be a non-negative integer",
        ArgumentName=name.decode("ascii"),
        ArgumentValue=text,
    )


def _text(headers: Mapping[bytes, Sequence[bytes]], name: bytes) -> str:
    return ",".join(value.decode("latin-1") for value in headers.get(name, ()))
