"""The chunk file format: trailer encoding, block hashing, and the blocking reader and writer."""

from __future__ import annotations

import os
from pathlib import Path

import google_crc32c
import pytest

from lightningstor_storage import ChunkCorrupt
from lightningstor_storage.chunkfile import (
    BLOCK_SIZE,
    FOOTER_SIZE,
    MAGIC,
    PIECE_SIZE,
    BlockHasher,
    ChunkFileReader,
    ChunkFileWriter,
    Footer,
    block_count,
    data_size_of,
    encode_trailer,
    file_size_of,
    parse_footer,
    parse_trailer,
)

BS = BLOCK_SIZE
SIZES = [0, 1, BS - 1, BS, BS + 1, 2 * BS, 3 * BS + 7, 16 * BS, 16 * BS + 1, 100 * BS - 3]


def payload(size: int) -> bytes:
    return os.urandom(size)


def write_file(path: Path, data: bytes, piece: int | None = None) -> tuple[int, int]:
    writer = ChunkFileWriter(path)
    writer.open()
    step = piece or max(len(data), 1)
    for at in range(0, len(data), step):
        writer.write(data[at : at + step])
    return writer.finish()


def read_all(path: Path, offset: int = 0, length: int | None = None) -> list[bytes]:
    reader = ChunkFileReader(path, offset, length)
    pieces = []
    while piece := reader.next_piece():
        pieces.append(piece)
    return pieces


@pytest.mark.parametrize("size", SIZES)
def test_sizes_round_trip_through_the_length_formulas(size):
    assert data_size_of(file_size_of(size)) == size
    assert file_size_of(size) == size + 4 * block_count(size) + FOOTER_SIZE


@pytest.mark.parametrize("pieces", [[1], [7, BS - 7, 1], [BS * 2 + 3], [100, 200, BS, 5]])
def test_block_hasher_is_independent_of_piece_sizes(pieces):
    data = payload(sum(pieces) * 3)
    h = BlockHasher()
    at = 0
    while at < len(data):
        for n in pieces:
            h.update(data[at : at + n])
            at += n
    crcs = h.finish()
    assert h.size == len(data)
    assert h.crc == google_crc32c.value(data)
    assert crcs == [google_crc32c.value(data[i : i + BS]) for i in range(0, len(data), BS)]


def test_trailer_round_trip():
    data = payload(2 * BS + 10)
    crcs = [google_crc32c.value(data[i : i + BS]) for i in range(0, len(data), BS)]
    trailer = encode_trailer(crcs, len(data), google_crc32c.value(data))
    assert trailer[-FOOTER_SIZE:].startswith(MAGIC)
    footer = parse_footer(trailer[-FOOTER_SIZE:], len(data) + len(trailer))
    assert footer == Footer(BS, len(data), google_crc32c.value(data))
    assert parse_trailer(trailer, footer) == tuple(crcs)


def test_trailer_needs_one_crc_per_block():
    with pytest.raises(ValueError):
        encode_trailer([1], 2 * BS, 0)


@pytest.mark.parametrize("index", range(3 * 4 + FOOTER_SIZE))
def test_every_trailer_byte_is_protected(index):
    data_size = 2 * BS + 10
    trailer = bytearray(encode_trailer([1, 2, 3], data_size, 4))
    trailer[index] ^= 0x01
    with pytest.raises(ChunkCorrupt):
        footer = parse_footer(bytes(trailer[-FOOTER_SIZE:]), data_size + len(trailer))
        parse_trailer(bytes(trailer), footer)


def test_footer_must_match_the_file_length():
    trailer = encode_trailer([], 0, 0)
    with pytest.raises(ChunkCorrupt, match="footer says"):
        parse_footer(trailer, FOOTER_SIZE + 1)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("piece", [None, 1000, BS + 3])
def test_writer_and_reader_round_trip(tmp_path, size, piece):
    data = payload(size)
    path = tmp_path / "chunk"
    assert write_file(path, data, piece) == (size, google_crc32c.value(data))
    assert path.stat().st_size == file_size_of(size)
    pieces = read_all(path)
    assert b"".join(pieces) == data
    assert all(0 < len(p) <= PIECE_SIZE for p in pieces)


def test_reader_verifies_only_the_blocks_it_reads(tmp_path):
    data = payload(5 * BS)
    path = tmp_path / "chunk"
    write_file(path, data)
    with path.open("r+b") as f:
        f.seek(BS + 100)
        f.write(bytes([data[BS + 100] ^ 0xFF]))
    assert b"".join(read_all(path, 0, BS)) == data[:BS]
    assert b"".join(read_all(path, 2 * BS, 3 * BS)) == data[2 * BS :]
    with pytest.raises(ChunkCorrupt, match="block 1"):
        read_all(path, BS + 100, 1)


def test_reader_rejects_ranges_outside_the_chunk(tmp_path):
    path = tmp_path / "chunk"
    write_file(path, payload(10))
    for offset, length in [(-1, None), (11, None), (0, 11), (5, 6), (3, -1)]:
        with pytest.raises(ValueError):
            ChunkFileReader(path, offset, length)
    assert read_all(path, 10, None) == []
    assert read_all(path, 4, 0) == []


def test_writer_discard_removes_the_file(tmp_path):
    writer = ChunkFileWriter(tmp_path / "chunk")
    writer.open()
    writer.write(b"abc")
    writer.discard()
    writer.discard()
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_an_existing_file(tmp_path):
    (tmp_path / "chunk").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        ChunkFileWriter(tmp_path / "chunk").open()
