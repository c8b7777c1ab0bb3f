"""``LocalBackend``: chunks as files under ``{data_dir}/chunks/{ab}/{cd}/{chunk id}``.

A put writes a temporary file in ``chunks/tmp/``, fsyncs it, renames it into place and fsyncs the
chunk's directory before it returns. Every blocking call runs on the backend's own threads, and a
put of ``bytes`` (the small-object case) is one thread call from open to directory fsync.

A crash leaves its temporary files behind: :meth:`LocalBackend.sweep_temp` removes them (the
server at start and in its GC, the storage node at start) and :meth:`LocalBackend.temp_files`
counts them (the consistency check).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar, TypeVarTuple

from lightningstor_storage.backend import (
    Capabilities,
    ChunkCheck,
    ChunkCorrupt,
    ChunkExists,
    ChunkInfo,
    ChunkNotFound,
    ChunkStat,
    PolicyKind,
    StorageError,
    validate_chunk_id,
)
from lightningstor_storage.chunkfile import (
    ChunkFileReader,
    ChunkFileWriter,
    crc32c,
    data_size_of,
)
from lightningstor_types.files import fsync_dir
from lightningstor_types.randomness import token_hex

__all__ = ["LocalBackend"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

WRITE_BUFFER = 1024 * 1024  # bytes of a streamed put gathered before each threaded write
_FANOUT = re.compile(r"[0-9a-f]{2}")
MAX_SHARD_DEPTH = 4
_CHUNK_FILE = re.compile(r"[0-9a-f]{32}")
_CAPABILITIES = Capabilities(
    name="local", durable=True, verifies_checksums=True, replicated=False, range_reads=True
)


class LocalBackend:
    """The local filesystem StorageBackend."""

    def __init__(self, data_dir: Path, *, shard_depth: int = 2, max_workers: int = 32) -> None:
        if not 0 <= shard_depth <= MAX_SHARD_DEPTH:
            raise ValueError(f"shard_depth must be 0 to {MAX_SHARD_DEPTH}, got {shard_depth}")
        self._data_dir = Path(data_dir)
        self._chunks_dir = self._data_dir / "chunks"
        self._tmp_dir = self._chunks_dir / "tmp"
        self._depth = shard_depth
        # Once, at start (a few directory reads): chunks stored at another depth would all be
        # lost from sight.
        _check_layout(self._chunks_dir, shard_depth)
        # Its own threads, sized for I/O: enough fsyncs in flight for many concurrent puts.
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="lightningstor-local")
        self._closed = False
        self._writing: set[str] = set()  # ids being put, so that two puts of one id cannot race
        self._temp_names: set[str] = set()  # temporary files in use, which sweep_temp keeps
        self._durable_dirs: set[Path] = set()  # directories whose entry this process has fsynced

    def capabilities(self) -> Capabilities:
        """Durable, checksummed, not replicated, with range reads."""
        return _CAPABILITIES

    async def put_chunk(
        self, chunk_id: str, data: bytes | AsyncIterable[bytes], *, kind: PolicyKind = ""
    ) -> ChunkInfo:
        """Store a new chunk durably; ChunkExists if the id is taken. One kind of storage here:
        every ``kind`` is one file."""
        final = self._chunk_path(chunk_id)
        if chunk_id in self._writing:
            raise ChunkExists(f"chunk {chunk_id} is being written")
        writer = ChunkFileWriter(self._tmp_dir / f"{chunk_id}.{token_hex(8)}.tmp")
        self._writing.add(chunk_id)
        self._temp_names.add(writer.path.name)
        try:
            if isinstance(data, bytes | bytearray | memoryview):
                return await self._run(
                    self._finish, writer, final, bytes(data), undo=lambda _: _unlink(final)
                )
            return await self._put_stream(writer, final, data)
        finally:
            self._writing.discard(chunk_id)
            self._temp_names.discard(writer.path.name)

    async def get_chunk(
        self,
        chunk_id: str,
        offset: int = 0,
        length: int | None = None,
        *,
        replicas: Sequence[str] = (),
        policy: str = "",
    ) -> AsyncIterator[bytes]:
        """Verified bytes ``[offset, offset + length)`` of a chunk, in pieces of at most 1 MiB.

        ``replicas`` (a hint of the replicated backend) is ignored.
        """
        path = self._chunk_path(chunk_id)
        reader, piece = await self._run(
            _open_range, path, offset, length, undo=lambda opened: opened[0].close()
        )
        try:
            while piece:
                yield piece
                if reader.done:  # a small range came whole with the open: no second hop
                    break
                piece = await self._run(reader.next_piece)
        finally:
            # Normally already closed by its thread; closing a read-only descriptor never blocks.
            reader.close()

    async def delete_chunk(self, chunk_id: str) -> bool:
        """Remove a chunk and fsync its directory; True if it existed."""
        return await self._run(_unlink, self._chunk_path(chunk_id))

    async def exists(self, chunk_id: str) -> bool:
        """Whether a chunk file is present (its contents are not verified)."""
        return await self._run(self._chunk_path(chunk_id).is_file)

    async def verify_chunk(self, chunk_id: str) -> tuple[int, int]:
        """Read a whole chunk (every block checked); its size and CRC32C. ChunkNotFound,
        ChunkCorrupt as a read."""
        size = 0
        crc = 0
        async for piece in self.get_chunk(chunk_id):
            size += len(piece)
            crc = crc32c(piece, crc)
        return size, crc

    async def check_chunk(
        self,
        chunk_id: str,
        size: int,
        crc32c: int,
        *,
        replicas: Sequence[str] = (),
        policy: str = "",
        verify: bool = True,
        repair: bool = False,
    ) -> ChunkCheck:
        """Verify a chunk against its expected size and CRC32C (``verify``), or only look it
        up. There is one copy: nothing to restore, ``repair`` changes nothing."""
        try:
            if verify:
                found = await self.verify_chunk(chunk_id)
            else:
                stat = await self.stat_chunk(chunk_id)
                if stat is None:
                    return ChunkCheck("missing")
                found = (stat.size, crc32c)
        except ChunkNotFound:
            return ChunkCheck("missing")
        except ChunkCorrupt as exc:
            return ChunkCheck("corrupt", detail=str(exc))
        if found != (size, crc32c):
            return ChunkCheck(
                "corrupt",
                detail=f"{found[0]} bytes, CRC32C {found[1]:#010x}; "
                f"expected {size}, {crc32c:#010x}",
            )
        return ChunkCheck("good")

    async def stat_chunk(self, chunk_id: str) -> ChunkStat | None:
        """Size (from the file length, unverified) and mtime of a chunk; None if absent."""
        return await self._run(_stat, self._chunk_path(chunk_id))

    async def quarantine(self, chunk_id: str) -> bool:
        """Move a (corrupt) chunk to ``{data_dir}/quarantine/``: kept for inspection, no longer a
        chunk. True if it was there."""
        return await self._run(self._quarantine, self._chunk_path(chunk_id))

    async def list_chunks(self) -> AsyncIterator[ChunkStat]:
        """Every stored chunk, one thread call per top-level fan-out directory."""
        if self._depth == 0:
            for stat in await self._run(_scan_files, self._chunks_dir, ""):
                yield stat
            return
        for fanout in await self._run(_fanout_dirs, self._chunks_dir):
            for stat in await self._run(_scan_fanout, fanout, self._depth - 1):
                yield stat

    async def sweep_temp(self, older_than: float) -> int:
        """Remove temporary files older than ``older_than`` seconds; return how many."""
        return await self._run(_sweep, self._tmp_dir, older_than, frozenset(self._temp_names))

    async def temp_files(self, older_than: float) -> tuple[int, int]:
        """Temporary files older than ``older_than`` seconds, not in use: (count, bytes)."""
        return await self._run(_temp_stats, self._tmp_dir, older_than, frozenset(self._temp_names))

    async def close(self) -> None:
        """Wait for running file work, then stop the backend's threads."""
        if not self._closed:
            self._closed = True
            await asyncio.to_thread(self._executor.shutdown)

    def _chunk_path(self, chunk_id: str) -> Path:
        validate_chunk_id(chunk_id)
        shards = (chunk_id[2 * i : 2 * i + 2] for i in range(self._depth))
        return self._chunks_dir.joinpath(*shards, chunk_id)

    async def _put_stream(
        self, writer: ChunkFileWriter, final: Path, data: AsyncIterable[bytes]
    ) -> ChunkInfo:
        pieces: list[bytes] = []
        buffered = 0
        try:
            async for piece in data:
                pieces.append(piece)
                buffered += len(piece)
                if buffered >= WRITE_BUFFER:
                    block = b"".join(pieces)
                    pieces.clear()
                    buffered = 0
                    await self._run(self._write, writer, final, block)
            return await self._run(
                self._finish, writer, final, b"".join(pieces), undo=lambda _: _unlink(final)
            )
        except BaseException:
            await self._run(writer.discard)
            raise

    async def _run(
        self,
        fn: Callable[[*Ts], T],
        *args: *Ts,
        undo: Callable[[T], object] | None = None,
    ) -> T:
        """Run blocking ``fn`` on the backend's threads.

        A thread cannot be interrupted, so a cancelled caller first waits for it to end (cleanup
        then never races it) and, if it succeeded, runs ``undo`` on its result. OSErrors become
        StorageError.
        """
        if self._closed:
            raise StorageError("the local backend is closed")
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            await _settle(fut)
            if not fut.cancelled() and fut.exception() is None and undo is not None:
                undone = loop.run_in_executor(self._executor, undo, fut.result())
                await _settle(undone)
                if undone.exception() is not None:
                    log.warning("could not undo a cancelled call", exc_info=undone.exception())
            raise
        except OSError as exc:
            raise StorageError(f"local storage failed: {exc}") from exc

    # The methods below block: they run on the backend's threads.

    def _write(self, writer: ChunkFileWriter, final: Path, data: bytes) -> None:
        if not writer.opened:
            if final.exists():
                raise ChunkExists(f"chunk {final.name} already exists")
            self._make_dir(self._tmp_dir)
            writer.open()
        writer.write(data)

    def _finish(self, writer: ChunkFileWriter, final: Path, data: bytes) -> ChunkInfo:
        try:
            self._write(writer, final, data)
            size, crc = writer.finish()
            self._make_dir(final.parent)
            # Ids are random, so only a bug puts one twice; _writing closes the race in-process.
            if final.exists():
                raise ChunkExists(f"chunk {final.name} already exists")
            writer.path.rename(final)
            fsync_dir(final.parent)
        except BaseException:
            writer.discard()
            raise
        return ChunkInfo(final.name, size, crc)

    def _quarantine(self, path: Path) -> bool:
        target = self._data_dir / "quarantine"
        self._make_dir(target)
        try:
            path.rename(target / f"{path.name}.{int(time.time())}")
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        fsync_dir(target)
        return True

    def _make_dir(self, path: Path) -> None:
        """Create ``path`` (up to the data directory) and make its entry in its parent durable."""
        if path in self._durable_dirs:
            return
        if path != self._data_dir:
            self._make_dir(path.parent)
        path.mkdir(parents=True, exist_ok=True)
        # Also when it existed: the process that made it may have crashed before this fsync.
        fsync_dir(path.parent)
        self._durable_dirs.add(path)


async def _settle(fut: asyncio.Future[T]) -> None:
    """Wait until ``fut`` is done, through any number of further cancellations."""
    while not fut.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([fut])


def _open_range(path: Path, offset: int, length: int | None) -> tuple[ChunkFileReader, bytes]:
    try:
        reader = ChunkFileReader(path, offset, length)
    except FileNotFoundError:
        raise ChunkNotFound(f"chunk {path.name} not found") from None
    try:
        return reader, reader.next_piece()
    except BaseException:
        reader.close()
        raise


def _stat(path: Path) -> ChunkStat | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return ChunkStat(path.name, data_size_of(st.st_size), st.st_mtime)


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def _fanout_dirs(chunks_dir: Path) -> list[Path]:
    try:
        with os.scandir(chunks_dir) as entries:
            return sorted(Path(e.path) for e in entries if _FANOUT.fullmatch(e.name) and e.is_dir())
    except FileNotFoundError:
        return []


def _scan_fanout(fanout: Path, below: int) -> list[ChunkStat]:
    """The chunks under one top-level fan-out directory, ``below`` levels further down."""
    level = [(fanout, fanout.name)]
    for _ in range(below):
        level = [(sub, prefix + sub.name) for d, prefix in level for sub in _fanout_dirs(d)]
    stats: list[ChunkStat] = []
    for directory, prefix in level:
        stats.extend(_scan_files(directory, prefix))
    return stats


def _scan_files(directory: Path, prefix: str) -> list[ChunkStat]:
    stats: list[ChunkStat] = []
    try:
        with os.scandir(directory) as entries:
            for e in entries:
                if not (_CHUNK_FILE.fullmatch(e.name) and e.name.startswith(prefix)):
                    continue
                if not e.is_file(follow_symlinks=False):
                    continue
                try:
                    st = e.stat()
                except FileNotFoundError:  # deleted since the directory was read
                    continue
                stats.append(ChunkStat(e.name, data_size_of(st.st_size), st.st_mtime))
    except FileNotFoundError:
        pass
    return stats


def _check_layout(chunks_dir: Path, depth: int) -> None:
    """Refuse a shard depth other than the one the stored chunks were written at."""
    stored = _stored_depth(chunks_dir, 0)
    if stored is not None and stored != depth:
        raise ValueError(
            f"{chunks_dir} holds chunks stored with shard_depth={stored}, not "
            f"shard_depth={depth}: set storage.shard_depth back (it is fixed once chunks are "
            "stored)"
        )


def _stored_depth(directory: Path, level: int) -> int | None:
    """The depth of the first chunk file found below ``directory`` (None: there is none)."""
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return None
    if any(_CHUNK_FILE.fullmatch(e.name) and e.is_file() for e in entries):
        return level
    if level < MAX_SHARD_DEPTH:
        for e in entries:
            if _FANOUT.fullmatch(e.name) and e.is_dir(follow_symlinks=False):
                found = _stored_depth(Path(e.path), level + 1)
                if found is not None:
                    return found
    return None


def _stale_temp(tmp_dir: Path, older_than: float, in_use: frozenset[str]) -> list[os.DirEntry[str]]:
    """Files of ``tmp_dir`` not in use and last written more than ``older_than`` s ago."""
    cutoff = time.time() - older_than
    stale = []
    try:
        with os.scandir(tmp_dir) as entries:
            for e in entries:
                if e.name in in_use or not e.is_file(follow_symlinks=False):
                    continue
                try:
                    if e.stat(follow_symlinks=False).st_mtime < cutoff:
                        stale.append(e)
                except FileNotFoundError:
                    continue
    except FileNotFoundError:
        return []
    return stale


def _sweep(tmp_dir: Path, older_than: float, in_use: frozenset[str]) -> int:
    removed = 0
    for e in _stale_temp(tmp_dir, older_than, in_use):
        with contextlib.suppress(FileNotFoundError):
            Path(e.path).unlink()
            removed += 1
    return removed


def _temp_stats(tmp_dir: Path, older_than: float, in_use: frozenset[str]) -> tuple[int, int]:
    count = size = 0
    for e in _stale_temp(tmp_dir, older_than, in_use):
        with contextlib.suppress(FileNotFoundError):
            size += e.stat(follow_symlinks=False).st_size  # cached by scandir's stat above
            count += 1
    return count, size
