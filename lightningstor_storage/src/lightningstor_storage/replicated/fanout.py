"""One chunk streamed to its replicas as it arrives, at the pace of the write quorum.

The source's pieces go into one queue per replica (the same ``bytes`` objects, so the copies
cost no memory). The source is read ahead of the ``quorum``-th fastest replica by at most
:data:`WINDOW` pieces, so a slow or hung replica never holds the write back, and memory stays a
few pieces unless one replica lags (then at most the rest of the chunk, until the guard ends it).
Each replica's put starts with a ``trailing`` header and ends with a trailer carrying the size
and CRC32C computed here, which the node checks before its fsync.

A put streamed this way has no deadline of its own (it lasts as long as the upload feeding it);
:meth:`Fanout.guard` ends the put of any replica that has work waiting and made no progress for
the request timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from lightningstor.storage.v1 import storage_pb2 as pb
from lightningstor_storage.chunkfile import crc32c

__all__ = ["WINDOW", "Fanout", "QuorumLostError", "ReplicaStream"]

WINDOW = 8
"""Pieces the source may run ahead of the write quorum."""


class QuorumLostError(Exception):
    """Fewer replicas than the write quorum are still writing."""


class ReplicaStream:
    """The messages one replica's put has still to send."""

    def __init__(self, fanout: Fanout, address: str) -> None:
        self.address = address
        self.consumed = 0
        self.finished = False
        self.stalled = False
        self.last_progress = time.monotonic()
        self._fanout = fanout
        self._queue: asyncio.Queue[pb.PutChunkRequest | None] = asyncio.Queue()
        self._awaiting_ack = False

    @property
    def waiting(self) -> bool:
        """Whether the node has something to do: messages to take, or an answer to give."""
        return not self._queue.empty() or self._awaiting_ack

    def push(self, message: pb.PutChunkRequest | None) -> None:
        """Queue a message; None ends the put without a trailer (the node stores nothing)."""
        if self._queue.empty():
            self.last_progress = time.monotonic()  # idle until now: the clock starts here
        self._queue.put_nowait(message)

    async def requests(self, chunk_id: str) -> AsyncIterator[pb.PutChunkRequest]:
        """The messages of this replica's put, as gRPC takes them."""
        yield pb.PutChunkRequest(header=pb.PutChunkHeader(chunk_id=chunk_id, trailing=True))
        while True:
            message = await self._queue.get()
            if message is None:
                return
            self.consumed += 1
            self.last_progress = time.monotonic()
            last = message.HasField("trailer")
            self._awaiting_ack = last
            self._fanout.progress.set()
            yield message
            if last:
                return

    def end(self) -> None:
        """The put finished (acknowledged, failed or cancelled)."""
        self.finished = True
        self._awaiting_ack = False
        self._fanout.progress.set()


class Fanout:
    """The replica streams of one chunk."""

    def __init__(self, addresses: Sequence[str], quorum: int, timeout: float) -> None:
        self.replicas = {a: ReplicaStream(self, a) for a in addresses}
        self.quorum = quorum
        self.timeout = timeout
        self.progress = asyncio.Event()

    def live(self) -> list[ReplicaStream]:
        return [r for r in self.replicas.values() if not r.finished]

    async def feed(self, source: AsyncIterable[bytes]) -> tuple[int, int]:
        """Send the source to every live replica, then the trailer; returns (size, CRC32C).

        Raises QuorumLostError when too few replicas are left to make the quorum.
        """
        size = 0
        crc = 0
        count = 0
        async for piece in source:
            if not piece:
                continue
            count += 1
            size += len(piece)
            crc = crc32c(piece, crc)
            message = pb.PutChunkRequest(content=piece)
            for replica in self.live():
                replica.push(message)
            await self.pace(count - WINDOW)
        trailer = pb.PutChunkRequest(trailer=pb.PutChunkTrailer(size=size, crc32c=crc))
        for replica in self.live():
            replica.push(trailer)
        return size, crc

    def send(self, messages: Mapping[str, pb.PutChunkRequest]) -> None:
        """Queue live replicas their own message (erasure coding: one fragment each)."""
        for replica in self.live():
            message = messages.get(replica.address)
            if message is not None:
                replica.push(message)

    def abort(self) -> None:
        """End every live replica's put without a trailer: each node refuses it, keeps nothing."""
        for replica in self.live():
            replica.push(None)

    async def pace(self, upto: int) -> None:
        """Wait until the quorum's replicas took the first ``upto`` pieces."""
        while True:
            live = self.live()
            if len(live) < self.quorum:
                raise QuorumLostError(
                    f"{len(live)} replicas left, the write quorum is {self.quorum}"
                )
            if sum(1 for r in live if r.consumed >= upto) >= self.quorum:
                return
            self.progress.clear()
            await self.progress.wait()

    async def guard(
        self, tasks: Mapping[str, asyncio.Task[Any]], on_stall: Callable[[str], None]
    ) -> None:
        """Until every replica's put ended, cancel those that stall (``on_stall`` first)."""
        tick = min(self.timeout / 4, 1.0)
        while not all(t.done() for t in tasks.values()):
            await asyncio.sleep(tick)
            for replica in self.stalled():
                on_stall(replica.address)
                tasks[replica.address].cancel()

    def stalled(self) -> list[ReplicaStream]:
        """Replicas with work waiting and no progress for the timeout (each reported once)."""
        now = time.monotonic()
        out = []
        for r in self.replicas.values():
            idle = now - r.last_progress
            if not r.finished and not r.stalled and r.waiting and idle > self.timeout:
                r.stalled = True
                out.append(r)
        return out
