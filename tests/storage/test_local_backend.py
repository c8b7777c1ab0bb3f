"""LocalBackend on real files: round trips, ranges, corruption, durability layout and cleanup."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import google_crc32c
import pytest

import lightningstor_storage
from lightningstor_storage import (
    Capabilities,
    ChunkCorrupt,
    ChunkExists,
    ChunkInfo,
    ChunkNotFound,
    InvalidChunkId,
    LocalBackend,
    StorageError,
    new_chunk_id,
    validate_chunk_id,
)
from lightningstor_storage.chunkfile import BLOCK_SIZE, FOOTER_SIZE, PIECE_SIZE
from tests.wait import await_until

BS = BLOCK_SIZE
MIB = 1024 * 1024
SIZES = [0, 1, BS, BS + 1, 3 * MIB + 12345]
BAD_IDS = [
    "../x",
    "../" + "a" * 29,
    "ab/cd" + "0" * 27,
    "A" * 32,
    "a" * 31,
    "a" * 33,
    "g" * 32,
    "a" * 31 + "\n",
    "",
]


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[LocalBackend]:
    b = LocalBackend(tmp_path)
    yield b
    await b.close()


def chunk_file(root: Path, chunk_id: str) -> Path:
    return root / "chunks" / chunk_id[:2] / chunk_id[2:4] / chunk_id


def temp_files(root: Path) -> list[Path]:
    tmp = root / "chunks" / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


async def read(b: LocalBackend, chunk_id: str, offset: int = 0, length: int | None = None) -> bytes:
    return b"".join([p async for p in b.get_chunk(chunk_id, offset, length)])


async def irregular(data: bytes) -> AsyncIterator[bytes]:
    sizes = [1, 7, 0, BS - 3, 2 * MIB + 5, 333, BS]
    at = 0
    i = 0
    while at < len(data):
        n = sizes[i % len(sizes)]
        yield data[at : at + n]
        at += n
        i += 1
        await asyncio.sleep(0)


def flip(path: Path, index: int) -> None:
    with path.open("r+b") as f:
        f.seek(index)
        byte = f.read(1)
        f.seek(index)
        f.write(bytes([byte[0] ^ 0x40]))


def test_public_names():
    assert set(lightningstor_storage.__all__) == {
        "Capabilities",
        "ChunkCheck",
        "ChunkCorrupt",
        "ChunkExists",
        "ChunkInfo",
        "ChunkNotFound",
        "ChunkStat",
        "ChunkState",
        "InvalidChunkId",
        "LocalBackend",
        "PolicyKind",
        "StorageBackend",
        "StorageError",
        "StorageUnavailable",
        "new_chunk_id",
        "open_backend",
        "validate_chunk_id",
    }


def test_new_chunk_ids_are_valid_and_distinct():
    ids = {new_chunk_id() for _ in range(1000)}
    assert len(ids) == 1000
    for chunk_id in ids:
        validate_chunk_id(chunk_id)


def test_capabilities(backend):
    assert backend.capabilities() == Capabilities(
        name="local", durable=True, verifies_checksums=True, replicated=False, range_reads=True
    )


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "stream"])
async def test_round_trip(backend, tmp_path, size, streamed):
    data = os.urandom(size)
    chunk_id = new_chunk_id()
    info = await backend.put_chunk(chunk_id, irregular(data) if streamed else data)
    assert info == ChunkInfo(chunk_id, size, google_crc32c.value(data))
    pieces = [p async for p in backend.get_chunk(chunk_id)]
    assert b"".join(pieces) == data
    assert all(0 < len(p) <= PIECE_SIZE for p in pieces)
    assert chunk_file(tmp_path, chunk_id).is_file()
    assert temp_files(tmp_path) == []


async def test_chunk_lands_in_its_fanout_directory(backend, tmp_path):
    chunk_id = "abcd" + "0123456789abcdef0123456789ab"
    await backend.put_chunk(chunk_id, b"hello")
    path = tmp_path / "chunks" / "ab" / "cd" / chunk_id
    assert path.is_file()
    assert path.read_bytes().startswith(b"hello")


async def test_range_reads(backend):
    data = os.urandom(40 * BS + 100)
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, data)
    size = len(data)
    ranges = [
        (0, BS),
        (BS, BS),
        (BS - 1, 2),
        (2 * BS + 5, 10),
        (3 * BS + 1, BS - 2),
        (BS + 17, 20 * BS),
        (40 * BS, None),
        (size - 1, 1),
        (0, None),
        (12345, None),
        (5, 0),
        (size, None),
        (size, 0),
    ]
    for offset, length in ranges:
        end = size if length is None else offset + length
        pieces = [p async for p in backend.get_chunk(chunk_id, offset, length)]
        assert b"".join(pieces) == data[offset:end], (offset, length)
        assert all(0 < len(p) <= PIECE_SIZE for p in pieces)


@pytest.mark.parametrize(("offset", "length"), [(-1, None), (11, None), (0, 11), (10, 1), (0, -1)])
async def test_range_outside_the_chunk_is_a_value_error(backend, offset, length):
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, b"0123456789")
    with pytest.raises(ValueError):
        await read(backend, chunk_id, offset, length)


async def test_range_reads_touch_only_their_blocks(backend, tmp_path):
    data = os.urandom(6 * BS)
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, data)
    flip(chunk_file(tmp_path, chunk_id), 10)
    assert await read(backend, chunk_id, 3 * BS + 5, 100) == data[3 * BS + 5 : 3 * BS + 105]
    assert await read(backend, chunk_id, BS, None) == data[BS:]
    with pytest.raises(ChunkCorrupt):
        await read(backend, chunk_id, 0, 10)
    with pytest.raises(ChunkCorrupt):
        await read(backend, chunk_id)


async def test_corrupt_block_raises_before_its_bytes(backend, tmp_path):
    data = os.urandom(3 * MIB)
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, data)
    flip(chunk_file(tmp_path, chunk_id), MIB + 5 * BS + 7)
    got: list[bytes] = []
    with pytest.raises(ChunkCorrupt):
        async for piece in backend.get_chunk(chunk_id):
            got.append(piece)
    assert b"".join(got) == data[:MIB]


def trailer_positions(size: int) -> list[int]:
    """Every byte of the crc table and footer of a chunk of ``size`` bytes."""
    return list(range(size, size + 4 * (-(-size // BS)) + FOOTER_SIZE))


@pytest.mark.parametrize("where", ["data", "table", "footer"])
async def test_flipped_byte_is_corrupt_never_wrong_bytes(backend, tmp_path, where):
    size = 3 * BS + 50
    data = os.urandom(size)
    positions = {
        "data": [0, BS - 1, BS, 2 * BS + 1000, size - 1],
        "table": trailer_positions(size)[:-FOOTER_SIZE],
        "footer": trailer_positions(size)[-FOOTER_SIZE:],
    }[where]
    for index in positions:
        chunk_id = new_chunk_id()
        await backend.put_chunk(chunk_id, data)
        flip(chunk_file(tmp_path, chunk_id), index)
        got: list[bytes] = []
        with pytest.raises(ChunkCorrupt):
            async for piece in backend.get_chunk(chunk_id):
                got.append(piece)
        assert data.startswith(b"".join(got)), index


@pytest.mark.parametrize("cut", [1, 4, FOOTER_SIZE, FOOTER_SIZE + 4, BS, "all"])
async def test_truncated_file_is_corrupt(backend, tmp_path, cut):
    data = os.urandom(2 * BS + 9)
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, data)
    path = chunk_file(tmp_path, chunk_id)
    os.truncate(path, 0 if cut == "all" else path.stat().st_size - cut)
    with pytest.raises(ChunkCorrupt):
        await read(backend, chunk_id)


async def test_appended_bytes_are_corrupt(backend, tmp_path):
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, b"abc")
    with chunk_file(tmp_path, chunk_id).open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ChunkCorrupt):
        await read(backend, chunk_id)


async def test_missing_chunk(backend):
    chunk_id = new_chunk_id()
    with pytest.raises(ChunkNotFound):
        await read(backend, chunk_id)
    assert not await backend.exists(chunk_id)
    assert not await backend.delete_chunk(chunk_id)


@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "stream"])
async def test_put_of_an_existing_id_keeps_the_original(backend, tmp_path, streamed):
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, b"original")
    other = os.urandom(2 * MIB)
    with pytest.raises(ChunkExists):
        await backend.put_chunk(chunk_id, irregular(other) if streamed else other)
    assert await read(backend, chunk_id) == b"original"
    assert temp_files(tmp_path) == []


async def test_racing_puts_of_one_id_store_one_of_them(backend, tmp_path):
    chunk_id = new_chunk_id()
    a, b = os.urandom(100), os.urandom(100)
    results = await asyncio.gather(
        backend.put_chunk(chunk_id, a), backend.put_chunk(chunk_id, b), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["ChunkExists", "ChunkInfo"]
    winner = a if isinstance(results[0], ChunkInfo) else b
    assert await read(backend, chunk_id) == winner
    assert temp_files(tmp_path) == []


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_invalid_ids_are_refused(backend, tmp_path, bad):
    with pytest.raises(InvalidChunkId):
        await backend.put_chunk(bad, b"x")
    with pytest.raises(InvalidChunkId):
        await read(backend, bad)
    with pytest.raises(InvalidChunkId):
        await backend.delete_chunk(bad)
    with pytest.raises(InvalidChunkId):
        await backend.exists(bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fail_after", [10, 3 * MIB])
async def test_failing_stream_leaves_nothing(backend, tmp_path, fail_after):
    async def body() -> AsyncIterator[bytes]:
        sent = 0
        while sent < fail_after:
            yield b"x" * 4096
            sent += 4096
        raise ConnectionResetError("client went away")

    chunk_id = new_chunk_id()
    with pytest.raises(ConnectionResetError):
        await backend.put_chunk(chunk_id, body())
    assert temp_files(tmp_path) == []
    assert not await backend.exists(chunk_id)


async def test_cancelled_stream_leaves_nothing(backend, tmp_path):
    started = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield os.urandom(3 * MIB)
        started.set()
        await asyncio.Event().wait()
        yield b"never"

    chunk_id = new_chunk_id()
    task = asyncio.create_task(backend.put_chunk(chunk_id, body()))
    await started.wait()
    await await_until(lambda: temp_files(tmp_path), message="the put's temp file")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert temp_files(tmp_path) == []
    assert not await backend.exists(chunk_id)


@pytest.mark.parametrize("delay", [0, 0.001, 0.005, 0.02])
@pytest.mark.parametrize("streamed", [False, True], ids=["bytes", "stream"])
async def test_cancelled_put_leaves_no_temp_file(backend, tmp_path, delay, streamed):
    data = os.urandom(6 * MIB)
    chunk_id = new_chunk_id()
    task = asyncio.create_task(backend.put_chunk(chunk_id, irregular(data) if streamed else data))
    await asyncio.sleep(delay)
    if task.cancel():
        with pytest.raises(asyncio.CancelledError):
            await task
    else:  # it finished before the cancel: then it is stored
        await task
    assert temp_files(tmp_path) == []
    assert await backend.exists(chunk_id) == (not task.cancelled())


async def test_delete_exists_and_list(backend, tmp_path):
    sizes = {new_chunk_id(): n for n in [0, 1, BS, BS + 1, 5 * BS + 3, 1000]}
    for chunk_id, n in sizes.items():
        await backend.put_chunk(chunk_id, os.urandom(n))
    (tmp_path / "chunks" / "tmp" / "stray.tmp").write_bytes(b"x")
    listed = {s.chunk_id: s async for s in backend.list_chunks()}
    assert {k: s.size for k, s in listed.items()} == sizes
    assert all(s.mtime == chunk_file(tmp_path, k).stat().st_mtime for k, s in listed.items())

    gone = next(iter(sizes))
    assert await backend.exists(gone)
    assert await backend.delete_chunk(gone)
    assert not await backend.exists(gone)
    assert not await backend.delete_chunk(gone)
    assert not chunk_file(tmp_path, gone).exists()
    assert {s.chunk_id async for s in backend.list_chunks()} == set(sizes) - {gone}


async def test_list_of_an_empty_store(backend):
    assert [s async for s in backend.list_chunks()] == []


async def test_sweep_temp_removes_only_old_files(backend, tmp_path):
    assert await backend.sweep_temp(60) == 0
    await backend.put_chunk(new_chunk_id(), b"creates the tmp directory")
    tmp = tmp_path / "chunks" / "tmp"
    old = time.time() - 3600
    for name in ["a.tmp", "b.tmp"]:
        (tmp / name).write_bytes(b"left by a crash")
        os.utime(tmp / name, (old, old))
    (tmp / "fresh.tmp").write_bytes(b"being written")
    assert await backend.sweep_temp(60) == 2
    assert [p.name for p in tmp.iterdir()] == ["fresh.tmp"]
    assert await backend.sweep_temp(0) == 1


async def test_sweep_temp_keeps_files_of_running_puts(backend, tmp_path):
    release = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield os.urandom(2 * MIB)
        await release.wait()
        yield b"end"

    chunk_id = new_chunk_id()
    task = asyncio.create_task(backend.put_chunk(chunk_id, body()))
    await await_until(lambda: temp_files(tmp_path), message="the put's temp file")
    assert await backend.sweep_temp(-60) == 0
    release.set()
    assert (await task).size == 2 * MIB + 3


async def test_concurrent_puts(backend):
    blobs = {new_chunk_id(): os.urandom(i * 7919) for i in range(50)}
    infos = await asyncio.gather(*(backend.put_chunk(k, v) for k, v in blobs.items()))
    assert [i.chunk_id for i in infos] == list(blobs)
    reads = await asyncio.gather(*(read(backend, k) for k in blobs))
    assert reads == list(blobs.values())
    assert {s.chunk_id async for s in backend.list_chunks()} == set(blobs)


async def test_closed_backend_refuses_work(tmp_path):
    b = LocalBackend(tmp_path)
    await b.put_chunk(new_chunk_id(), b"x")
    await b.close()
    await b.close()
    with pytest.raises(StorageError):
        await b.put_chunk(new_chunk_id(), b"y")


# -- check_chunk (the consistency check) ----------------------------------------------------


async def test_check_chunk_against_its_reference(backend: LocalBackend, tmp_path: Path) -> None:
    data = os.urandom(BS + 10)
    info = await backend.put_chunk(new_chunk_id(), data)
    good = await backend.check_chunk(info.chunk_id, info.size, info.crc32c)
    assert good.state == "good"
    assert await backend.verify_chunk(info.chunk_id) == (info.size, info.crc32c)
    # A well-formed chunk that is not the one the reference names (size or CRC differ).
    wrong = await backend.check_chunk(info.chunk_id, info.size, info.crc32c ^ 1)
    assert wrong.state == "corrupt" and "expected" in wrong.detail
    assert (await backend.check_chunk(info.chunk_id, info.size + 1, info.crc32c)).state == "corrupt"
    # Presence only: the CRC is not read.
    assert (
        await backend.check_chunk(info.chunk_id, info.size, info.crc32c ^ 1, verify=False)
    ).state == "good"
    flip(chunk_file(tmp_path, info.chunk_id), 5)
    assert (await backend.check_chunk(info.chunk_id, info.size, info.crc32c)).state == "corrupt"
    # One copy: a repairing check restores nothing and leaves the file as it was.
    before = chunk_file(tmp_path, info.chunk_id).read_bytes()
    repaired = await backend.check_chunk(info.chunk_id, info.size, info.crc32c, repair=True)
    assert repaired.state == "corrupt" and repaired.restored == 0
    assert chunk_file(tmp_path, info.chunk_id).read_bytes() == before
    missing = new_chunk_id()
    for verify in (True, False):
        assert (await backend.check_chunk(missing, 1, 0, verify=verify)).state == "missing"
