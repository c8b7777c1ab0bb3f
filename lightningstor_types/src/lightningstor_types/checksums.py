"""The S3 checksum algorithms, computed while a body streams.

One place for every digest an object carries: the MD5 behind the ETag and the flexible checksums
of S3 (CRC32, CRC32C, SHA1, SHA256, CRC64NVME). The core feeds a :class:`MultiHasher` while a PUT
streams; the S3 facade uses :func:`new_hasher` for aws-chunked trailers and
:func:`parse_b64_checksum` for the values clients send.

Every algorithm runs in native code (hashlib, zlib, google-crc32c, awscrt): no CRC loop is
written in Python. S3 sends digests as base64 of the big-endian bytes; :func:`b64digest` makes
that form.

Multipart objects carry composite values: the ETag is the MD5 of the parts' binary MD5s plus
``-N`` (:func:`multipart_etag`), and a composite checksum is the algorithm applied to the
concatenated part digests plus ``-N`` (:func:`composite_checksum`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Protocol

import google_crc32c
from awscrt import checksums as _awscrt_checksums  # type: ignore[import-untyped]

__all__ = [
    "THREAD_THRESHOLD",
    "ChecksumAlgorithm",
    "Hasher",
    "MultiHasher",
    "b64digest",
    "composite_checksum",
    "multipart_etag",
    "new_hasher",
    "parse_b64_checksum",
]

THREAD_THRESHOLD = 256 * 1024
"""Buffers of at least this many bytes are hashed in a worker thread by ``update_async``."""


class ChecksumAlgorithm(StrEnum):
    """A flexible checksum algorithm of S3; the value is the name S3 uses on the wire."""

    CRC32 = "CRC32"
    CRC32C = "CRC32C"
    SHA1 = "SHA1"
    SHA256 = "SHA256"
    CRC64NVME = "CRC64NVME"

    @property
    def header_name(self) -> str:
        """The request/response header that carries this checksum (``x-amz-checksum-crc32``…)."""
        return f"x-amz-checksum-{self.value.lower()}"

    @property
    def digest_size(self) -> int:
        """Length in bytes of the binary digest."""
        return _DIGEST_SIZES[self]


_DIGEST_SIZES: dict[ChecksumAlgorithm, int] = {
    ChecksumAlgorithm.CRC32: 4,
    ChecksumAlgorithm.CRC32C: 4,
    ChecksumAlgorithm.SHA1: 20,
    ChecksumAlgorithm.SHA256: 32,
    ChecksumAlgorithm.CRC64NVME: 8,
}


class Hasher(Protocol):
    """A running digest: feed it with ``update``, read it with ``digest`` (big-endian bytes)."""

    def update(self, data: bytes | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    """CRC-32 (ISO-HDLC, as zlib and S3 compute it)."""

    __slots__ = ("_crc",)

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


class _Crc32c:
    """CRC-32C (Castagnoli) through google-crc32c's C extension."""

    __slots__ = ("_crc",)

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | memoryview, /) -> None:
        # The C extension takes only ``bytes``; a memoryview is copied once (memcpy speed, far
        # above any hash here).
        chunk = data if isinstance(data, bytes) else bytes(data)
        self._crc = int(google_crc32c.extend(self._crc, chunk))

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


class _Crc64Nvme:
    """CRC-64/NVME through awscrt (the AWS SDKs' own implementation)."""

    __slots__ = ("_crc",)

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self._crc = int(_awscrt_checksums.crc64nvme(data, self._crc))

    def digest(self) -> bytes:
        return self._crc.to_bytes(8, "big")


def new_hasher(alg: ChecksumAlgorithm) -> Hasher:
    """A fresh running digest for ``alg``."""
    match alg:
        case ChecksumAlgorithm.CRC32:
            return _Crc32()
        case ChecksumAlgorithm.CRC32C:
            return _Crc32c()
        case ChecksumAlgorithm.SHA1:
            return hashlib.sha1()  # noqa: S324 - S3's checksum algorithm, not a security use
        case ChecksumAlgorithm.SHA256:
            return hashlib.sha256()
        case ChecksumAlgorithm.CRC64NVME:
            return _Crc64Nvme()


def b64digest(hasher: Hasher) -> str:
    """The digest as S3 sends it: base64 of the big-endian bytes."""
    return base64.b64encode(hasher.digest()).decode("ascii")


def parse_b64_checksum(alg: ChecksumAlgorithm, value: str) -> bytes:
    """Decode a base64 checksum sent by a client; ``ValueError`` unless it is ``alg``'s length."""
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{alg.header_name}: not valid base64") from exc
    if len(raw) != alg.digest_size:
        raise ValueError(f"{alg.header_name}: expected {alg.digest_size} bytes, got {len(raw)}")
    return raw


class MultiHasher:
    """MD5 (for the ETag) plus any set of checksum algorithms, fed once per buffer.

    ``update`` hashes inline. ``update_async`` hands buffers of at least
    :data:`THREAD_THRESHOLD` bytes to worker threads (MD5 in one, the other algorithms in
    another), so while they run the event loop keeps receiving and the two cores share the work;
    hashlib, zlib and the native CRCs release the GIL on large inputs. Smaller buffers are hashed
    inline, where a thread hop would cost more than the hash.

    Updates must not overlap: await each ``update_async`` before the next update. A cancelled
    ``update_async`` leaves the hasher unusable (its threads may still be running).
    """

    __slots__ = ("_busy", "_hashers", "_md5")

    def __init__(self, algorithms: Iterable[ChecksumAlgorithm] = ()) -> None:
        self._md5 = hashlib.md5()  # noqa: S324 - the S3 ETag, not a security use
        self._hashers: dict[ChecksumAlgorithm, Hasher] = {
            alg: new_hasher(alg) for alg in dict.fromkeys(algorithms)
        }
        self._busy = False

    @property
    def algorithms(self) -> tuple[ChecksumAlgorithm, ...]:
        """The checksum algorithms computed besides MD5."""
        return tuple(self._hashers)

    def update(self, data: bytes | memoryview) -> None:
        """Hash ``data`` with every algorithm, inline."""
        self._check_idle()
        self._md5.update(data)
        self._update_checksums(data)

    async def update_async(self, data: bytes | memoryview) -> None:
        """Hash ``data`` with every algorithm, in worker threads when it is large."""
        if len(data) < THREAD_THRESHOLD:
            self.update(data)
            return
        self._check_idle()
        self._busy = True
        jobs = [asyncio.to_thread(self._md5.update, data)]
        if self._hashers:
            jobs.append(asyncio.to_thread(self._update_checksums, data))
        # Wait for every thread even if one fails. If this task is cancelled the threads run on
        # and the hasher stays busy: it refuses further updates rather than mix up its state.
        results = await asyncio.gather(*jobs, return_exceptions=True)
        self._busy = False
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def md5_hex(self) -> str:
        """Hex MD5 of everything hashed so far (a single-part ETag, unquoted)."""
        return self._md5.hexdigest()

    def md5_digest(self) -> bytes:
        """Binary MD5 of everything hashed so far (``Content-MD5`` compares against this)."""
        return self._md5.digest()

    def digest(self, alg: ChecksumAlgorithm) -> bytes:
        """Binary digest of ``alg``; ``KeyError`` if it is not computed here."""
        return self._hashers[alg].digest()

    def checksums(self) -> dict[ChecksumAlgorithm, str]:
        """Base64 digest of every checksum algorithm, as S3 sends them."""
        return {alg: b64digest(hasher) for alg, hasher in self._hashers.items()}

    def _update_checksums(self, data: bytes | memoryview) -> None:
        for hasher in self._hashers.values():
            hasher.update(data)

    def _check_idle(self) -> None:
        if self._busy:
            raise RuntimeError("MultiHasher updated while an update_async runs or was cancelled")


def composite_checksum(alg: ChecksumAlgorithm, part_digests: Sequence[bytes]) -> str:
    """The COMPOSITE checksum of a multipart object: ``base64(alg(part digests…))-N``."""
    if not part_digests:
        raise ValueError("a multipart object has at least one part")
    hasher = new_hasher(alg)
    for digest in part_digests:
        if len(digest) != alg.digest_size:
            raise ValueError(
                f"{alg} part digest must be {alg.digest_size} bytes, got {len(digest)}"
            )
        hasher.update(digest)
    return f"{b64digest(hasher)}-{len(part_digests)}"


def multipart_etag(part_md5_hex: Sequence[str]) -> str:
    """The S3 ETag of a multipart object (unquoted): MD5 of the parts' binary MD5s, then ``-N``."""
    if not part_md5_hex:
        raise ValueError("a multipart object has at least one part")
    md5 = hashlib.md5()  # noqa: S324 - the S3 ETag, not a security use
    for part in part_md5_hex:
        if len(part) != 32:
            raise ValueError(f"part MD5 must be 32 hex digits, got {part!r}")
        md5.update(bytes.fromhex(part))  # ValueError on non-hex
    return f"{md5.hexdigest()}-{len(part_md5_hex)}"


_COMBINE: dict[ChecksumAlgorithm, Callable[[int, int, int], int]] = {
    ChecksumAlgorithm.CRC32: _awscrt_checksums.combine_crc32,
    ChecksumAlgorithm.CRC32C: _awscrt_checksums.combine_crc32c,
    ChecksumAlgorithm.CRC64NVME: _awscrt_checksums.combine_crc64nvme,
}


def combine_crcs(alg: ChecksumAlgorithm, digests: Sequence[bytes], sizes: Sequence[int]) -> str:
    """Base64 CRC of concatenated parts from the parts' CRCs and sizes (S3 FULL_OBJECT type).

    Only the CRC algorithms combine; no part's bytes are read again.
    """
    combine = _COMBINE[alg]
    crc = int.from_bytes(digests[0], "big")
    for digest, size in zip(digests[1:], sizes[1:], strict=True):
        crc = combine(crc, int.from_bytes(digest, "big"), size)
    return base64.b64encode(crc.to_bytes(alg.digest_size, "big")).decode()
