"""Streaming object bytes into chunks and back out (docs/architecture.md §4).

A body streams into its chunks through small queues, so a large upload holds a few pieces in
memory, not whole chunks; at most two chunks are open at once (the next one fills while the
previous one is fsynced). Small bodies are collected and written as one buffer. Hashing of
large pieces runs in worker threads, so it overlaps with the writes and with receiving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.encryption import BlockSealer, KeyManager
from lightningstor_api.encryption.chunks import (
    new_sealing,
    read_sealed,
    seal_async,
    sealed_stream,
)
from lightningstor_storage import (
    ChunkInfo,
    PolicyKind,
    StorageBackend,
    StorageUnavailable,
    new_chunk_id,
)
from lightningstor_types.checksums import ChecksumAlgorithm, MultiHasher
from lightningstor_types.errors import (
    EntityTooLarge,
    IncompleteBody,
    InvalidRequest,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WrittenData:
    """What a finished upload stream produced: its chunks (or its inline bytes) and digests."""

    chunks: list[records_pb2.ChunkRef]
    size: int
    md5_hex: str
    checksums: dict[ChecksumAlgorithm, str]
    inline: bytes | None = None
    """The whole body when it was at most ``inline_max`` bytes: then no chunk was written."""


async def write_stream(
    storage: StorageBackend,
    body: AsyncIterable[bytes],
    *,
    chunk_size: int,
    max_size: int,
    expected_length: int | None,
    algorithms: Iterable[ChecksumAlgorithm] = (),
    inline_max: int = 0,
    kind: PolicyKind = "",
    keys: KeyManager | None = None,
) -> WrittenData:
    """Store ``body`` as chunks (of the storage ``kind``), or return it whole when it ends within
    ``inline_max`` bytes; on any failure delete what was written and re-raise. With ``keys`` every
    chunk is sealed under its own data key, and nothing is kept inline (metadata records hold no
    plaintext)."""
    if keys is not None:
        inline_max = 0
    if expected_length is not None and expected_length > max_size:
        raise EntityTooLarge(MaxSizeAllowed=str(max_size), ProposedSize=str(expected_length))
    hasher = MultiHasher(algorithms)
    writers: list[_ChunkWriter] = []
    head: list[bytes] = []  # the start of the body, while it may still be a small object
    head_size = 0
    size = 0

    async def feed(data: bytes) -> None:
        """Hash ``data`` and stream it into the current chunk, starting chunks as needed."""
        view, whole = memoryview(data), True
        while view:
            if not writers or writers[-1].filled == chunk_size:
                if len(writers) >= 2:
                    await writers[-2].done()  # at most two chunks in flight
                sealing = await new_sealing(keys) if keys is not None else None
                writers.append(_ChunkWriter(storage, kind, sealing=sealing))
            take = min(len(view), chunk_size - writers[-1].filled)
            part = data if whole and take == len(view) else bytes(view[:take])
            view, whole = view[take:], False
            await hasher.update_async(part)
            await writers[-1].feed(part)

    try:
        async for piece in body:
            if not piece:
                continue
            size += len(piece)
            if size > max_size:
                raise EntityTooLarge(MaxSizeAllowed=str(max_size))
            if expected_length is not None and size > expected_length:
                raise InvalidRequest("the body is longer than its declared length")
            if writers or head_size + len(piece) > SMALL_BODY:
                for early in head:
                    await feed(early)
                head.clear()
                await feed(piece)
            else:
                head.append(piece)
                head_size += len(piece)
        if expected_length is not None and size < expected_length:
            raise IncompleteBody(
                "You did not provide the number of bytes specified by the Content-Length"
            )
        inline: bytes | None = None
        if head:  # a small body: inline, or one chunk written in one piece (one thread hop)
            data = head[0] if len(head) == 1 else b"".join(head)
            await hasher.update_async(data)
            if size <= inline_max:
                inline = data
            else:
                sealing = await new_sealing(keys) if keys is not None else None
                writers.append(_ChunkWriter(storage, kind, whole=data, sealing=sealing))
        infos = [await w.done() for w in writers]
    except BaseException:
        for w in writers:
            await w.abort()
        await delete_chunks(storage, [w.chunk_id for w in writers if w.stored])
        raise
    chunks = [
        records_pb2.ChunkRef(
            chunk_id=i.chunk_id,
            size=i.size if w.cipher is None else w.filled,  # a sealed chunk: its plaintext
            crc32c=i.crc32c,
            replicas=i.replicas,
            policy=i.policy,
            cipher=w.cipher,
        )
        for w, i in zip(writers, infos, strict=True)
    ]
    return WrittenData(chunks, size, hasher.md5_hex(), hasher.checksums(), inline)


# Bodies up to this size are collected and written as one buffer: a small PUT costs one
# thread hop in the backend. Larger bodies stream into their chunks with bounded buffering.
SMALL_BODY = 1024 * 1024
_QUEUE_PIECES = 2


class _ChunkWriter:
    """One chunk being written: pieces flow through a small queue into ``put_chunk``."""

    def __init__(
        self,
        storage: StorageBackend,
        kind: PolicyKind,
        *,
        whole: bytes | None = None,
        sealing: tuple[BlockSealer, records_pb2.ChunkCipher] | None = None,
    ) -> None:
        self.chunk_id = new_chunk_id()
        self._sealer = sealing[0] if sealing is not None else None
        self.cipher = sealing[1] if sealing is not None else None
        self.filled = len(whole) if whole is not None else 0
        self.stored = False
        self._ended = whole is not None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUE_PIECES)
        source: bytes | AsyncIterator[bytes] = whole if whole is not None else self._pieces()
        self._task = asyncio.create_task(self._put(storage, source, kind))

    async def _put(
        self, storage: StorageBackend, source: bytes | AsyncIterator[bytes], kind: PolicyKind
    ) -> ChunkInfo:
        if self._sealer is not None:
            if isinstance(source, bytes):
                source = await seal_async(self._sealer, source, last=True)
            else:
                source = sealed_stream(self._sealer, source)
        try:
            info = await storage.put_chunk(self.chunk_id, source, kind=kind)
        except StorageUnavailable as exc:
            log.warning("chunk write refused: %s", exc)
            raise ServiceUnavailable("storage is unavailable; retry later") from exc
        self.stored = True
        return info

    async def _pieces(self) -> AsyncIterator[bytes]:
        while (piece := await self._queue.get()) is not None:
            yield piece

    async def _send(self, item: bytes | None) -> None:
        if not self._queue.full():
            self._queue.put_nowait(item)
            return
        put = asyncio.ensure_future(self._queue.put(item))
        await asyncio.wait({put, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():  # the write failed while we waited for room
            put.cancel()
            self._task.result()
        if self._task.done():
            self._task.result()

    async def feed(self, data: bytes) -> None:
        if self._task.done():
            self._task.result()  # the write already failed: raise its error
        self.filled += len(data)
        await self._send(data)

    async def done(self) -> ChunkInfo:
        """Close the stream (once) and wait for the chunk to be durable."""
        if not self._ended and not self._task.done():
            self._ended = True
            await self._send(None)
        return await self._task

    async def abort(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


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


Piece = records_pb2.ChunkSlice | bytes
"""One stretch of content: a slice of a chunk to read, or inline bytes already at hand."""


async def read_manifest(
    storage: StorageBackend,
    manifest: Sequence[Piece] | AsyncIterable[Piece],
    keys: KeyManager | None = None,
) -> AsyncIterator[bytes]:
    """Stream the bytes a manifest names, reading only those slices (checksums verified).

    The manifest may be a stream itself (slices resolved through data records as it goes,
    inline content passed through as it is). The replicas a chunk was written to are passed
    as a hint, its recorded policy as the rule; no node answering is ServiceUnavailable. A
    sealed chunk is opened with ``keys`` (only the blocks the slice touches).
    """
    async for s in _as_async(manifest):
        if isinstance(s, bytes):
            if s:
                yield s
            continue
        if s.length <= 0:
            continue
        chunk = s.chunk
        if chunk.HasField("cipher"):
            pieces = read_sealed(storage, s, keys)
        else:
            pieces = storage.get_chunk(
                chunk.chunk_id, s.offset, s.length, replicas=chunk.replicas, policy=chunk.policy
            )
        try:
            async for piece in pieces:
                yield piece
        except StorageUnavailable as exc:
            log.warning("chunk read failed: %s", exc)
            raise ServiceUnavailable("storage is unavailable; retry later") from exc
        finally:
            aclose = getattr(pieces, "aclose", None)  # ends a replica's stream at once
            if aclose is not None:
                await aclose()


async def _as_async(
    items: Sequence[Piece] | AsyncIterable[Piece],
) -> AsyncIterator[Piece]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
