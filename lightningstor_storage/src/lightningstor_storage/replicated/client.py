"""``NodeClient``: one storage node's gRPC service as storage calls, with deadlines.

Statuses become the storage errors (the inverse of the node's table): NOT_FOUND → ChunkNotFound,
DATA_LOSS → ChunkCorrupt, ALREADY_EXISTS → ChunkExists, INVALID_ARGUMENT → InvalidChunkId,
OUT_OF_RANGE → ValueError. Everything else (unreachable, deadline exceeded, internal, disk full)
is :class:`NodeError`: the node failed, not the chunk. Every unary call and every put has the
request timeout as its deadline; a streamed read or listing waits at most that long for each
message, so a node that hangs (stopped, partitioned) ends the call instead of blocking it.
Every call carries the current W3C trace context (``traceparent``, ``tracestate``) in its
metadata when a span is current (tracing on), so the node's spans join the caller's trace.
"""

# The error name is the node's condition (no "Error" suffix), as the storage errors.

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, TypeVar

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
from lightningstor_storage.chunkfile import PIECE_SIZE, crc32c
from lightningstor_storage.tracing import outgoing_metadata
from lightningstor_types.config import ClientTlsSettings
from lightningstor_types.grpc_client import reconnect_options

__all__ = ["MAX_MESSAGE_BYTES", "NodeClient", "NodeError", "translate"]

MAX_MESSAGE_BYTES = 8 * 1024 * 1024
RECONNECT_MS = 500
T = TypeVar("T")


class NodeError(StorageError):
    """The node did not answer, timed out or failed: counts against its health."""


def translate(exc: grpc.aio.AioRpcError, address: str) -> Exception:
    """The storage error for a failed call to the node at ``address``."""
    code = exc.code()
    detail = f"{address}: {exc.details() or code.name}"
    match code:
        case grpc.StatusCode.NOT_FOUND:
            return ChunkNotFound(detail)
        case grpc.StatusCode.DATA_LOSS:
            return ChunkCorrupt(detail)
        case grpc.StatusCode.ALREADY_EXISTS:
            return ChunkExists(detail)
        case grpc.StatusCode.INVALID_ARGUMENT:
            return InvalidChunkId(detail)
        case grpc.StatusCode.OUT_OF_RANGE:
            return ValueError(detail)
        case _:
            return NodeError(f"storage node {detail} ({code.name})")


def channel_credentials(tls: ClientTlsSettings) -> grpc.ChannelCredentials:
    """TLS toward the nodes: their CA (or the system's), our certificate for mutual TLS."""
    ca = tls.ca_file.read_bytes() if tls.ca_file is not None else None
    key = tls.key_file.read_bytes() if tls.key_file is not None else None
    cert = tls.cert_file.read_bytes() if tls.cert_file is not None else None
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


class NodeClient:
    """Calls to one storage node over one channel."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float,
        tls: ClientTlsSettings | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 0),
            # gRPC fails calls at once while it waits to reconnect (up to 2 minutes by default):
            # retry the connection often, so a node that comes back is reached within a second.
            *reconnect_options(RECONNECT_MS),
            # Subchannels are otherwise shared process-wide by target and arguments: a new
            # backend would inherit another one's reconnect back-off to a node that just came
            # back, and fail its first calls with the old "connection refused".
            ("grpc.use_local_subchannel_pool", 1),
        ]
        if tls is None:
            self._channel = grpc.aio.insecure_channel(address, options=options)
        else:
            self._channel = grpc.aio.secure_channel(address, channel_credentials(tls), options)
        self._stub = storage_pb2_grpc.StorageNodeStub(self._channel)

    async def put(self, chunk_id: str, data: bytes, crc: int) -> None:
        """Store ``data`` (whose CRC32C is ``crc``); returns once the node fsynced it."""

        async def requests() -> AsyncIterator[pb.PutChunkRequest]:
            header = pb.PutChunkHeader(chunk_id=chunk_id, size=len(data), crc32c=crc)
            yield pb.PutChunkRequest(header=header)
            view = memoryview(data)
            for at in range(0, len(data), PIECE_SIZE):
                yield pb.PutChunkRequest(content=bytes(view[at : at + PIECE_SIZE]))

        reply = await self._call(
            self._stub.PutChunk(requests(), timeout=self.timeout, metadata=outgoing_metadata())
        )
        if reply.size != len(data) or reply.crc32c != crc:
            raise NodeError(f"storage node {self.address} stored {reply.size} bytes, not ours")

    async def put_stream(self, requests: AsyncIterator[pb.PutChunkRequest]) -> pb.PutChunkResponse:
        """A put of messages the caller makes (a ``trailing`` header, content, the trailer).

        No deadline: it lasts as long as its source; the caller watches its progress.
        """
        return await self._call(self._stub.PutChunk(requests, metadata=outgoing_metadata()))

    async def get(
        self, chunk_id: str, offset: int = 0, length: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Bytes of a chunk, each piece checked against the CRC32C the node sent with it."""
        request = pb.GetChunkRequest(chunk_id=chunk_id, offset=offset, length=length)
        call = self._stub.GetChunk(request, metadata=outgoing_metadata())
        try:
            while True:
                message = await self._next(call)
                if message is None:
                    return
                if crc32c(message.content) != message.crc32c:
                    raise ChunkCorrupt(f"{self.address}: chunk {chunk_id} damaged in transit")
                yield message.content
        finally:
            call.cancel()

    async def read_all(self, chunk_id: str) -> bytes:
        """A whole chunk (at most the 64 MiB of a chunk), checked piece by piece."""
        return b"".join([piece async for piece in self.get(chunk_id)])

    async def delete(self, chunk_id: str) -> bool:
        request = pb.DeleteChunkRequest(chunk_id=chunk_id)
        reply = await self._call(
            self._stub.DeleteChunk(request, timeout=self.timeout, metadata=outgoing_metadata())
        )
        return reply.existed

    async def exists(self, chunk_id: str) -> int | None:
        """The chunk's size if the node holds it, else None."""
        request = pb.ChunkExistsRequest(chunk_id=chunk_id)
        reply = await self._call(
            self._stub.ChunkExists(request, timeout=self.timeout, metadata=outgoing_metadata())
        )
        return reply.size if reply.exists else None

    async def verify(self, chunk_id: str) -> tuple[int, int]:
        """(size, CRC32C) of the chunk as the node reads it back, every block checked."""
        request = pb.VerifyChunkRequest(chunk_id=chunk_id)
        reply = await self._call(
            self._stub.VerifyChunk(request, timeout=self.timeout, metadata=outgoing_metadata())
        )
        return reply.size, reply.crc32c

    async def list(self, start_after: str = "") -> AsyncGenerator[ChunkStat, None]:
        """Every chunk on the node, in id order."""
        call = self._stub.ListChunks(
            pb.ListChunksRequest(start_after=start_after), metadata=outgoing_metadata()
        )
        try:
            while True:
                message = await self._next(call)
                if message is None:
                    return
                for s in message.chunks:
                    yield ChunkStat(s.chunk_id, s.size, s.mtime)
        finally:
            call.cancel()

    async def info(self, deadline: float | None = None) -> pb.NodeInfoResponse:
        """The node's info, within ``deadline`` seconds (default: the request timeout)."""
        seconds = self.timeout if deadline is None else deadline
        return await self._call(
            self._stub.NodeInfo(pb.NodeInfoRequest(), timeout=seconds, metadata=outgoing_metadata())
        )

    async def set_draining(self, draining: bool) -> pb.NodeInfoResponse:
        request = pb.SetDrainingRequest(draining=draining)
        return await self._call(
            self._stub.SetDraining(request, timeout=self.timeout, metadata=outgoing_metadata())
        )

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise translate(exc, self.address) from None

    async def _next(self, call: Any) -> Any:
        """The next message of a streaming call, None at its end; NodeError after the timeout."""
        try:
            message = await asyncio.wait_for(call.read(), self.timeout)
        except TimeoutError:
            raise NodeError(
                f"storage node {self.address} sent nothing for {self.timeout:g} s"
            ) from None
        except grpc.aio.AioRpcError as exc:
            raise translate(exc, self.address) from None
        return None if message is grpc.aio.EOF else message
