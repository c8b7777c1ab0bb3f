"""The on-disk chunk file: data, a table of per-block CRC32Cs, then a fixed footer.

Layout (all integers little-endian)::

    data        data_size bytes, as written
    crc table   one uint32 CRC32C per block_size bytes of data (the last block may be short)
    footer      magic b"LSCK", version uint16, block_size uint32, data_size uint64,
                CRC32C of all data uint32, CRC32C of the crc table and the footer fields before
                this one (the bytes from the end of the data to here) uint32

Per-block checksums let a range read verify only the blocks it touches. The pure functions here
encode and check that layout; :class:`ChunkFileWriter` and :class:`ChunkFileReader` do blocking
I/O and must run off the event loop.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import google_crc32c

from lightningstor_storage.backend import ChunkCorrupt

__all__ = [
    "BLOCK_SIZE",
    "FOOTER_SIZE",
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_BLOCK_SIZE",
    "PIECE_SIZE",
    "BlockHasher",
    "ChunkFileReader",
    "ChunkFileWriter",
    "Footer",
    "block_count",
    "crc32c",
    "data_size_of",
    "encode_trailer",
    "file_size_of",
    "parse_footer",
    "parse_trailer",
]

MAGIC = b"LSCK"
FORMAT_VERSION = 1
BLOCK_SIZE = 64 * 1024
MAX_BLOCK_SIZE = 1024 * 1024
PIECE_SIZE = 1024 * 1024  # the largest piece a reader returns
_CRC = struct.Struct("<I")
_FIELDS = struct.Struct("<4sHIQI")  # the footer without its own checksum
FOOTER_SIZE = _FIELDS.size + _CRC.size


@dataclass(frozen=True, slots=True)
class Footer:
    """The fields of a chunk file's footer that describe its data."""

    block_size: int
    data_size: int
    crc32c: int


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C of ``data``, continuing from ``crc`` (the CRC32C of the bytes before it)."""
    return int(google_crc32c.extend(crc, data))


def block_count(data_size: int, block_size: int = BLOCK_SIZE) -> int:
    """How many blocks (and crc table entries) ``data_size`` bytes take."""
    return -(-data_size // block_size)


def file_size_of(data_size: int, block_size: int = BLOCK_SIZE) -> int:
    """The length of the chunk file holding ``data_size`` bytes of data."""
    return data_size + _CRC.size * block_count(data_size, block_size) + FOOTER_SIZE


def data_size_of(file_size: int, block_size: int = BLOCK_SIZE) -> int:
    """The data size of a chunk file of ``file_size`` bytes, from its length alone (unverified)."""
    rest = max(file_size - FOOTER_SIZE, 0)
    # Every block adds its bytes plus one crc entry, and the last block holds at least one byte.
    return rest - _CRC.size * block_count(rest, block_size + _CRC.size)


def encode_trailer(
    block_crcs: Sequence[int], data_size: int, chunk_crc: int, block_size: int = BLOCK_SIZE
) -> bytes:
    """The crc table and footer that follow ``data_size`` bytes of data."""
    if len(block_crcs) != block_count(data_size, block_size):
        raise ValueError("one CRC per block is needed")
    table = struct.pack(f"<{len(block_crcs)}I", *block_crcs)
    head = table + _FIELDS.pack(MAGIC, FORMAT_VERSION, block_size, data_size, chunk_crc)
    return head + _CRC.pack(crc32c(head))


def parse_footer(raw: bytes, file_size: int) -> Footer:
    """Check the last FOOTER_SIZE bytes of a file of ``file_size`` bytes; ChunkCorrupt if bad."""
    if len(raw) != FOOTER_SIZE:
        raise ChunkCorrupt("truncated footer")
    magic, version, block_size, data_size, chunk_crc = _FIELDS.unpack_from(raw)
    if magic != MAGIC:
        raise ChunkCorrupt("bad footer magic")
    if version != FORMAT_VERSION:
        raise ChunkCorrupt(f"unknown format version {version}")
    if not 0 < block_size <= MAX_BLOCK_SIZE:
        raise ChunkCorrupt(f"bad block size {block_size}")
    if file_size_of(data_size, block_size) != file_size:
        raise ChunkCorrupt(f"file is {file_size} bytes, its footer says {data_size} of data")
    return Footer(block_size, data_size, chunk_crc)


def parse_trailer(trailer: bytes, footer: Footer) -> tuple[int, ...]:
    """Verify the crc table plus footer (the bytes after the data); return the block CRCs."""
    entries = block_count(footer.data_size, footer.block_size)
    if len(trailer) != _CRC.size * entries + FOOTER_SIZE:
        raise ChunkCorrupt("truncated crc table")
    (expected,) = _CRC.unpack_from(trailer, len(trailer) - _CRC.size)
    if crc32c(trailer[: -_CRC.size]) != expected:
        raise ChunkCorrupt("crc table or footer checksum mismatch")
    return struct.unpack_from(f"<{entries}I", trailer)


class BlockHasher:
    """Per-block and whole CRC32Cs of data fed in pieces of any size."""

    def __init__(self, block_size: int = BLOCK_SIZE) -> None:
        self.block_size = block_size
        self.size = 0
        self.crc = 0
        self.block_crcs: list[int] = []
        self._fill = 0  # bytes of the block being filled
        self._block_crc = 0

    def update(self, data: bytes) -> None:
        """Add the next bytes."""
        pos = 0
        while pos < len(data):
            take = min(self.block_size - self._fill, len(data) - pos)
            # Small slices stay in cache for both CRCs: faster than one pass over a large buffer.
            piece = data[pos : pos + take] if take < len(data) else data
            self._block_crc = crc32c(piece, self._block_crc)
            self.crc = crc32c(piece, self.crc)
            self._fill += take
            pos += take
            if self._fill == self.block_size:
                self._end_block()
        self.size += len(data)

    def finish(self) -> list[int]:
        """The CRC of every block, counting a short last block."""
        if self._fill:
            self._end_block()
        return self.block_crcs

    def _end_block(self) -> None:
        self.block_crcs.append(self._block_crc)
        self._block_crc = 0
        self._fill = 0


class ChunkFileWriter:
    """Blocking writer of one chunk file: :meth:`open`, :meth:`write`, then :meth:`finish`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._hasher = BlockHasher()

    @property
    def opened(self) -> bool:
        """Whether the file is open for writing."""
        return self._fd is not None

    def open(self) -> None:
        """Create the file; it must not exist."""
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)

    def write(self, data: bytes) -> None:
        """Append data."""
        self._hasher.update(data)
        _write_all(self._require_fd(), data)

    def finish(self) -> tuple[int, int]:
        """Append the crc table and footer, fsync and close; return (data size, CRC32C)."""
        fd = self._require_fd()
        h = self._hasher
        _write_all(fd, encode_trailer(h.finish(), h.size, h.crc, h.block_size))
        os.fsync(fd)
        self._close()
        return h.size, h.crc

    def discard(self) -> None:
        """Close and remove the file, whatever state it is in."""
        self._close()
        self.path.unlink(missing_ok=True)

    def _require_fd(self) -> int:
        if self._fd is None:
            raise RuntimeError("chunk file is not open")
        return self._fd

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class ChunkFileReader:
    """Blocking reader of a byte range of one chunk file, verifying each block it reads."""

    def __init__(self, path: Path, offset: int = 0, length: int | None = None) -> None:
        self.name = path.name
        self._fd: int | None = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self.footer, self._crcs = _read_trailer(self._fd, self.name)
            self._pos, self._end = _span(self.footer.data_size, offset, length)
        except BaseException:
            self.close()
            raise

    @property
    def done(self) -> bool:
        """Whether the whole range has been returned (the file is then closed)."""
        return self._fd is None or self._pos >= self._end

    def next_piece(self) -> bytes:
        """The next verified piece of the range (at most PIECE_SIZE bytes); b"" once it is done."""
        if self._fd is None or self._pos >= self._end:
            self.close()
            return b""
        bs = self.footer.block_size
        first = self._pos // bs
        start = first * bs
        stop = min(self._end, start + PIECE_SIZE)
        read_end = min(block_count(stop, bs) * bs, self.footer.data_size)
        buf = os.pread(self._fd, read_end - start, start)
        if len(buf) != read_end - start:
            raise ChunkCorrupt(f"chunk {self.name}: file shrank while being read")
        for i, at in enumerate(range(0, len(buf), bs), start=first):
            block = buf[at : at + bs] if len(buf) > bs else buf
            if crc32c(block) != self._crcs[i]:
                raise ChunkCorrupt(f"chunk {self.name}: block {i} checksum mismatch")
        whole = (start, read_end) == (self._pos, stop)
        piece = buf if whole else buf[self._pos - start : stop - start]
        self._pos = stop
        if self._pos >= self._end:
            self.close()
        return piece

    def close(self) -> None:
        """Close the file (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _read_trailer(fd: int, name: str) -> tuple[Footer, tuple[int, ...]]:
    file_size = os.fstat(fd).st_size
    try:
        if file_size < FOOTER_SIZE:
            raise ChunkCorrupt(f"file of {file_size} bytes is too short")
        footer = parse_footer(os.pread(fd, FOOTER_SIZE, file_size - FOOTER_SIZE), file_size)
        trailer = os.pread(fd, file_size - footer.data_size, footer.data_size)
        return footer, parse_trailer(trailer, footer)
    except ChunkCorrupt as exc:
        raise ChunkCorrupt(f"chunk {name}: {exc}") from None


def _span(size: int, offset: int, length: int | None) -> tuple[int, int]:
    end = size if length is None else offset + length
    if not 0 <= offset <= end <= size:
        raise ValueError(f"range (offset {offset}, length {length}) is outside {size} bytes")
    return offset, end


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
