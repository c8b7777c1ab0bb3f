"""The ``StorageNode`` gRPC service over a :class:`LocalBackend` (``lightningstor.storage.v1``).

Errors become statuses in one place (:func:`status_of`)::

    ChunkNotFound        NOT_FOUND
    ChunkCorrupt         DATA_LOSS          (also a put whose bytes differ from the header's CRC32C)
    ChunkExists          ALREADY_EXISTS
    InvalidChunkId       INVALID_ARGUMENT   (also a put whose size differs from its header)
    ValueError (range)   OUT_OF_RANGE
    StorageError         RESOURCE_EXHAUSTED when the disk is full, else INTERNAL

A put is checked while it streams: the bytes received must match the size and CRC32C of the
header (or of the trailer, for a sender that streams a chunk it has not seen whole) before the
local backend fsyncs and renames the chunk file, so a mismatch stores nothing.
"""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

import errno
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import grpc
import grpc.aio

from lightningstor.storage.v1 import storage_pb2 as pb
from lightningstor.storage.v1 import storage_pb2_grpc
from lightningstor_storage.backend import (
    ChunkCorrupt,
    ChunkExists,
    ChunkNotFound,
    ChunkStat,
    InvalidChunkId,
    StorageError,
)
from lightningstor_storage.chunkfile import crc32c
from lightningstor_storage.local import LocalBackend
from lightningstor_storage.node.state import NodeState
from lightningstor_types.grpc_streams import drain_client_stream

__all__ = ["LIST_BATCH", "StorageNodeServicer", "checked_body", "sorted_stats", "status_of"]

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
LIST_BATCH = 1000
"""Chunk stats per ListChunks message."""


class BadBodyError(StorageError):
    """A put's bytes differ from its header; ``code`` says how."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status a call ends with when it raised ``exc``."""
    match exc:
        case BadBodyError():
            return exc.code, str(exc)
        case ChunkNotFound():
            return grpc.StatusCode.NOT_FOUND, str(exc)
        case ChunkCorrupt():
            return grpc.StatusCode.DATA_LOSS, str(exc)
        case ChunkExists():
            return grpc.StatusCode.ALREADY_EXISTS, str(exc)
        case InvalidChunkId():
            return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        case ValueError():
            return grpc.StatusCode.OUT_OF_RANGE, str(exc)
        case StorageError() if isinstance(exc.__cause__, OSError) and exc.__cause__.errno in (
            errno.ENOSPC,
            errno.EDQUOT,
        ):
            return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
        case _:
            return grpc.StatusCode.INTERNAL, str(exc) or type(exc).__name__


async def _abort(context: Context, exc: Exception, method: str) -> None:
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    code, message = status_of(exc)
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.RESOURCE_EXHAUSTED):
        log.error("%s failed: %s", method, message, exc_info=exc)
    elif code == grpc.StatusCode.DATA_LOSS:
        log.warning("%s: %s", method, message)
    await context.abort(code, message)


async def checked_body(
    requests: AsyncIterator[pb.PutChunkRequest], header: pb.PutChunkHeader
) -> AsyncIterator[bytes]:
    """The content of a put, raising BadBodyError on a mismatch before the stream ends (and so
    before the backend fsyncs and renames): against the header's size and CRC32C, or against
    the trailer when the header says ``trailing``."""
    received = 0
    crc = 0
    ended = False
    async for message in requests:
        part = message.WhichOneof("part")
        if part == "header" or ended:
            raise BadBodyError(grpc.StatusCode.INVALID_ARGUMENT, "a put has one header, first")
        if part == "trailer":
            if not header.trailing:
                raise BadBodyError(
                    grpc.StatusCode.INVALID_ARGUMENT, "a trailer the header did not announce"
                )
            _check(received, crc, message.trailer.size, message.trailer.crc32c)
            ended = True
            continue
        piece = message.content
        received += len(piece)
        crc = crc32c(piece, crc)
        if header.trailing:
            yield piece
            continue
        if received > header.size:
            raise BadBodyError(
                grpc.StatusCode.INVALID_ARGUMENT, f"more than the {header.size} bytes announced"
            )
        if received == header.size:  # the last piece: check the whole before handing it on
            _check(received, crc, header.size, header.crc32c)
        yield piece
    if header.trailing:
        if not ended:
            raise BadBodyError(
                grpc.StatusCode.INVALID_ARGUMENT, "the put ended without its trailer"
            )
    else:
        _check(received, crc, header.size, header.crc32c)


def _check(received: int, crc: int, size: int, expected_crc: int) -> None:
    if received != size:
        raise BadBodyError(grpc.StatusCode.INVALID_ARGUMENT, f"{received} bytes received of {size}")
    if crc != expected_crc:
        raise BadBodyError(
            grpc.StatusCode.DATA_LOSS,
            f"CRC32C of the received bytes is {crc:#010x}, the sender's is {expected_crc:#010x}",
        )


async def sorted_stats(backend: LocalBackend) -> AsyncIterator[ChunkStat]:
    """The backend's chunks in id order.

    The local backend lists one fan-out directory (``{id[0:2]}``) at a time, in order, so
    sorting each directory's group gives the global order without holding the whole listing.
    """
    yield_from: list[ChunkStat] = []
    prefix = ""
    async for stat in backend.list_chunks():
        if stat.chunk_id[:2] != prefix:
            yield_from.sort(key=lambda s: s.chunk_id)
            for s in yield_from:
                yield s
            yield_from.clear()
            prefix = stat.chunk_id[:2]
        yield_from.append(stat)
    yield_from.sort(key=lambda s: s.chunk_id)
    for s in yield_from:
        yield s


class StorageNodeServicer(storage_pb2_grpc.StorageNodeServicer):
    """One node's chunks, served over gRPC."""

    def __init__(self, backend: LocalBackend, state: NodeState) -> None:
        self._backend = backend
        self._state = state

    async def PutChunk(
        self, request_iterator: AsyncIterator[pb.PutChunkRequest], context: Context
    ) -> pb.PutChunkResponse:
        try:
            first = await anext(request_iterator, None)
            if first is None or not first.HasField("header"):
                raise BadBodyError(grpc.StatusCode.INVALID_ARGUMENT, "a put starts with its header")
            h = first.header
            if h.size < 0:
                raise BadBodyError(grpc.StatusCode.INVALID_ARGUMENT, f"negative size {h.size}")
            info = await self._backend.put_chunk(h.chunk_id, checked_body(request_iterator, h))
        except Exception as exc:
            await drain_client_stream(request_iterator)
            await _abort(context, exc, "PutChunk")
            raise  # unreachable: abort raises
        self._state.counted(+1, info.size)
        return pb.PutChunkResponse(chunk_id=info.chunk_id, size=info.size, crc32c=info.crc32c)

    async def GetChunk(
        self, request: pb.GetChunkRequest, context: Context
    ) -> AsyncIterator[pb.GetChunkResponse]:
        length = request.length if request.HasField("length") else None
        try:
            async for piece in self._backend.get_chunk(request.chunk_id, request.offset, length):
                yield pb.GetChunkResponse(content=piece, crc32c=crc32c(piece))
        except Exception as exc:
            await _abort(context, exc, "GetChunk")

    async def DeleteChunk(
        self, request: pb.DeleteChunkRequest, context: Context
    ) -> pb.DeleteChunkResponse:
        try:
            stat = await self._backend.stat_chunk(request.chunk_id)  # its size, for the metrics
            existed = await self._backend.delete_chunk(request.chunk_id)
        except Exception as exc:
            await _abort(context, exc, "DeleteChunk")
            raise
        if existed:
            self._state.counted(-1, stat.size if stat is not None else 0)
        return pb.DeleteChunkResponse(existed=existed)

    async def ChunkExists(
        self, request: pb.ChunkExistsRequest, context: Context
    ) -> pb.ChunkExistsResponse:
        try:
            stat = await self._backend.stat_chunk(request.chunk_id)
        except Exception as exc:
            await _abort(context, exc, "ChunkExists")
            raise
        if stat is None:
            return pb.ChunkExistsResponse(exists=False)
        return pb.ChunkExistsResponse(exists=True, size=stat.size)

    async def ListChunks(
        self, request: pb.ListChunksRequest, context: Context
    ) -> AsyncIterator[pb.ListChunksResponse]:
        limit = request.limit if request.limit > 0 else None
        sent = 0
        batch: list[pb.ChunkStat] = []
        try:
            async for stat in sorted_stats(self._backend):
                if stat.chunk_id <= request.start_after:
                    continue
                if limit is not None and sent >= limit:
                    break
                batch.append(pb.ChunkStat(chunk_id=stat.chunk_id, size=stat.size, mtime=stat.mtime))
                sent += 1
                if len(batch) >= LIST_BATCH:
                    yield pb.ListChunksResponse(chunks=batch)
                    batch = []
            if batch:
                yield pb.ListChunksResponse(chunks=batch)
        except Exception as exc:
            await _abort(context, exc, "ListChunks")

    async def NodeInfo(self, request: pb.NodeInfoRequest, context: Context) -> pb.NodeInfoResponse:
        try:
            return await self._info()
        except Exception as exc:
            await _abort(context, exc, "NodeInfo")
            raise

    async def VerifyChunk(
        self, request: pb.VerifyChunkRequest, context: Context
    ) -> pb.VerifyChunkResponse:
        try:
            size, crc = await self._backend.verify_chunk(request.chunk_id)
        except Exception as exc:
            await _abort(context, exc, "VerifyChunk")
            raise
        return pb.VerifyChunkResponse(size=size, crc32c=crc)

    async def SetDraining(
        self, request: pb.SetDrainingRequest, context: Context
    ) -> pb.NodeInfoResponse:
        try:
            if request.draining != self._state.draining:
                await self._state.set_draining(request.draining)
                log.warning("draining" if request.draining else "no longer draining")
            return await self._info()
        except Exception as exc:
            await _abort(context, exc, "SetDraining")
            raise

    async def _info(self) -> pb.NodeInfoResponse:
        capacity = await self._state.capacity()
        return pb.NodeInfoResponse(
            node_id=self._state.node_id,
            zone=self._state.zone,
            capacity_bytes=capacity.total,
            free_bytes=capacity.free,
            chunk_count=await self._state.chunk_count(self._backend),
            version=_version(),
            draining=self._state.draining,
        )


def _version() -> str:
    try:
        return version("lightningstor-storage")
    except PackageNotFoundError:
        return "unknown"
