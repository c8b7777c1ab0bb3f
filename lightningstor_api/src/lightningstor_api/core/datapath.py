"""Streaming object bytes into chunks and back out (DESIGN.md §4).

The writer never holds more than two chunks of a body: one being filled while the previous
one is hashed and written. Hashing of large buffers runs in worker threads, so it overlaps
with the chunk writes and with receiving the next bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor_storage import StorageBackend, new_chunk_id
from lightningstor_types.checksums import ChecksumAlgorithm, MultiHasher
from lightningstor_types.errors import EntityTooLarge, IncompleteBody, InvalidRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WrittenData:
    """What a finished upload stream produced: its chunks and digests."""

    chunks: list[records_pb2.ChunkRef]
    size: int
    md5_hex: str
    checksums: dict[ChecksumAlgorithm, str]


async def write_stream(
    storage: StorageBackend,
    body: AsyncIterable[bytes],
    *,
    chunk_size: int,
    max_size: int,
    expected_length: int | None,
    algorithms: Iterable[ChecksumAlgorithm] = (),
) -> WrittenData:
    """Store ``body`` as chunks; on any failure delete what was written and re-raise."""
    if expected_length is not None and expected_length > max_size:
        raise EntityTooLarge(MaxSizeAllowed=str(max_size), ProposedSize=str(expected_length))
    hasher = MultiHasher(algorithms)
    chunks: list[records_pb2.ChunkRef] = []
    pending: asyncio.Task[None] | None = None
    # Pieces of the chunk being filled; joined once (one copy) when the chunk is full.
    pieces: list[bytes] = []
    filled = 0
    size = 0

    async def store(data: bytes) -> None:
        chunk_id = new_chunk_id()
        info = await storage.put_chunk(chunk_id, data)
        chunks.append(
            records_pb2.ChunkRef(chunk_id=info.chunk_id, size=info.size, crc32c=info.crc32c)
        )

    async def flush() -> None:
        nonlocal pending, filled
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        filled = 0
        await hasher.update_async(data)
        if pending is not None:
            await pending  # keeps chunk order and at most one write in flight
        pending = asyncio.create_task(store(data))

    try:
        async for piece in body:
            if not piece:
                continue
            size += len(piece)
            if size > max_size:
                raise EntityTooLarge(MaxSizeAllowed=str(max_size))
            if expected_length is not None and size > expected_length:
                raise InvalidRequest("the body is longer than its declared length")
            view, whole = memoryview(piece), True
            while filled + len(view) >= chunk_size:
                take = chunk_size - filled
                pieces.append(piece if whole and take == len(view) else bytes(view[:take]))
                filled += take
                view, whole = view[take:], False
                await flush()
            if view:
                pieces.append(piece if whole else bytes(view))
                filled += len(view)
        if expected_length is not None and size < expected_length:
            raise IncompleteBody(
                "You did not provide the number of bytes specified by the Content-Length"
            )
        if filled:
            await flush()
        if pending is not None:
            await pending
            pending = None
    except BaseException:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await delete_chunks(storage, [c.chunk_id for c in chunks])
        raise
    return WrittenData(chunks, size, hasher.md5_hex(), hasher.checksums())


async def delete_chunks(storage: StorageBackend, chunk_ids: Sequence[str]) -> None:
    """Best-effort removal of chunks that no record references (the sweep is the backstop)."""
    for chunk_id in chunk_ids:
        try:
            await asyncio.shield(storage.delete_chunk(chunk_id))
        except Exception:  # the orphan sweep reclaims what this misses
            log.warning("could not delete unreferenced chunk %s", chunk_id, exc_info=True)


def manifest_of(chunks: Sequence[records_pb2.ChunkRef]) -> list[records_pb2.ChunkSlice]:
    """A read manifest covering whole chunks."""
    return [records_pb2.ChunkSlice(chunk=c, offset=0, length=c.size) for c in chunks]


def slice_manifest(
    manifest: Sequence[records_pb2.ChunkSlice], first: int, last: int
) -> list[records_pb2.ChunkSlice]:
    """The part of a manifest covering bytes ``[first, last]`` (inclusive) of the content."""
    out: list[records_pb2.ChunkSlice] = []
    pos = 0
    for s in manifest:
        start, end = pos, pos + s.length  # this slice covers content [start, end)
        pos = end
        if end <= first:
            continue
        if start > last:
            break
        lo = max(first, start) - start
        hi = min(last + 1, end) - start
        out.append(records_pb2.ChunkSlice(chunk=s.chunk, offset=s.offset + lo, length=hi - lo))
    return out


async def read_manifest(
    storage: StorageBackend, manifest: Sequence[records_pb2.ChunkSlice]
) -> AsyncIterator[bytes]:
    """Stream the bytes a manifest names, reading only those slices (checksums verified)."""
    for s in manifest:
        if s.length <= 0:
            continue
        async for piece in storage.get_chunk(s.chunk.chunk_id, s.offset, s.length):
            yield piece
