"""``ErasureBackend``: chunks as k + m Reed-Solomon fragments, one per storage node.

- **put**: the chunk's first k + m writable nodes (placement order, zones spread) take fragment
  0, 1, … in that order, each stored under the chunk's id; the chunk streams in stripe by stripe,
  each coded in a worker thread and its fragments queued to their nodes (:class:`.Fanout`). The
  put returns once ``k + write_margin`` nodes fsynced their fragment (the cluster's write
  quorum), naming all its nodes in fragment order in ``ChunkInfo.replicas``; the rest finish in
  the background, and repair rebuilds any that fail. Fewer writable nodes than the quorum, or too
  many failures: StorageUnavailable, and what was written is deleted.
- **get**: the stripes a range covers, a window at a time, from k nodes: the recorded data
  fragments first (no arithmetic), another node as soon as one fails, and a hedged read of one
  more when one has not answered within ``hedge_after`` seconds. Every piece is checked against
  its CRC32C (disk and wire) by the node and the client. What reads cost is counted in
  :class:`ReadStats` (``read_stats``): stripes served, those decoded from parity, fragment bytes
  fetched, so that "a healthy read only copies the range's data fragments" can be seen.
- **delete, exists, list, drain, probes**: the replicated backend's (fragments carry the chunk id).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from lightningstor.storage.v1 import storage_pb2 as pb
from lightningstor_storage.backend import (
    Capabilities,
    ChunkCheck,
    ChunkCorrupt,
    ChunkInfo,
    ChunkNotFound,
    PolicyKind,
    StorageError,
    StorageUnavailable,
    validate_chunk_id,
)
from lightningstor_storage.chunkfile import PIECE_SIZE, crc32c
from lightningstor_storage.erasure.codec import FOOTER_SIZE, Codec, Footer
from lightningstor_storage.erasure.repair import ErasureRepairer, read_range
from lightningstor_storage.replicated.backend import ReplicatedBackend
from lightningstor_storage.replicated.client import NodeError
from lightningstor_storage.replicated.cluster import Cluster
from lightningstor_storage.replicated.fanout import WINDOW, Fanout
from lightningstor_storage.replicated.placement import Node
from lightningstor_types.config import DistributedSettings

__all__ = ["READ_WINDOW_BYTES", "ErasureBackend", "ReadStats"]

log = logging.getLogger(__name__)
T = TypeVar("T")

READ_WINDOW_BYTES = 4 * 1024 * 1024
"""Chunk bytes a read fetches and decodes at once (whole stripes, at least one)."""
_CAPABILITIES = Capabilities(
    name="erasure", durable=True, verifies_checksums=True, replicated=True, range_reads=True
)


@dataclass(slots=True)
class ReadStats:
    """What reads of erasure-coded chunks cost since start (the server's metrics)."""

    stripes: int = 0
    """Stripes served."""
    stripes_decoded: int = 0
    """Of those, rebuilt from parity because a data fragment was not read (a healthy read
    only copies the data fragments)."""
    fragment_bytes: int = 0
    """Fragment bytes fetched from the nodes for reads (footers included)."""

    def add(self, other: ReadStats) -> None:
        self.stripes += other.stripes
        self.stripes_decoded += other.stripes_decoded
        self.fragment_bytes += other.fragment_bytes


class ErasureBackend(ReplicatedBackend):
    """The StorageBackend of erasure-coded chunks over a :class:`Cluster` of k + m targets."""

    def __init__(
        self,
        cluster: Cluster,
        codec: Codec,
        *,
        scrub_rate: int = 32 * 1024 * 1024,
        probe_interval: float = 5.0,
        hedge_after: float = 0.5,
    ) -> None:
        if cluster.replication_factor != codec.n or cluster.write_quorum <= codec.k:
            raise ValueError("the cluster must place k + m fragments and wait for more than k")
        super().__init__(cluster, scrub_rate=scrub_rate, probe_interval=probe_interval)
        self.codec = codec
        self.hedge_after = hedge_after
        self._abandoned: set[asyncio.Task[Any]] = set()
        self.pool = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="erasure")
        self.repairer = ErasureRepairer(cluster, codec, self.pool, rate=scrub_rate)
        self.read_stats = ReadStats()

    @classmethod
    def from_settings(cls, settings: DistributedSettings) -> ErasureBackend:
        """The backend of ``[storage.distributed]`` with ``policy = "erasure"``."""
        k, m = settings.erasure_data_fragments, settings.erasure_parity_fragments
        nodes = [Node(n.address, n.zone or "", n.weight) for n in settings.nodes]
        cluster = Cluster(
            nodes,
            replication_factor=k + m,
            write_quorum=k + settings.erasure_write_margin,
            strategy=settings.placement_strategy,
            timeout=settings.request_timeout_seconds,
            backoff=settings.node_down_backoff_seconds,
            tls=settings.tls,
        )
        return cls(
            cluster,
            Codec(k, m),
            scrub_rate=settings.scrub_rate_bytes_per_second,
            probe_interval=min(settings.node_down_backoff_seconds, 5.0),
            hedge_after=settings.erasure_hedge_after_seconds,
        )

    def capabilities(self) -> Capabilities:
        return _CAPABILITIES

    def erasure_read_stats(self) -> ReadStats:
        """What reads cost since start (a copy)."""
        total = ReadStats()
        total.add(self.read_stats)
        return total

    async def run_blocking(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)

    # ---- put ----

    async def put_chunk(
        self, chunk_id: str, data: bytes | AsyncIterable[bytes], *, kind: PolicyKind = ""
    ) -> ChunkInfo:
        """Code the chunk onto k + m nodes; return once k + margin fsynced their fragment."""
        validate_chunk_id(chunk_id)
        if kind not in ("", "erasure"):
            raise ValueError(f"this backend stores erasure-coded chunks, not {kind}")
        self._check_open()
        c = self.cluster
        targets = [n.address for n in c.write_targets(chunk_id)]
        if len(targets) < c.write_quorum:
            raise StorageUnavailable(
                f"{len(targets)} storage nodes can take writes, erasure {self.codec.k}+"
                f"{self.codec.m} needs {c.write_quorum}"
            )
        fanout = Fanout(targets, c.write_quorum, c.timeout)
        tasks = self._start_streams(fanout, chunk_id)
        source = _one(bytes(data)) if isinstance(data, bytes | bytearray | memoryview) else data
        _, (size, crc) = await self._complete_put(
            chunk_id, targets, tasks, self._feed(fanout, self._encode(fanout, targets, source))
        )
        return ChunkInfo(chunk_id, size, crc, tuple(targets), self.codec.policy)

    async def _encode(
        self, fanout: Fanout, targets: Sequence[str], source: AsyncIterable[bytes]
    ) -> tuple[int, int]:
        """Cut the source into stripes, code each in a thread, send fragment i to targets[i]."""
        codec = self.codec
        crcs = [0] * codec.n
        chunk_crc = 0
        size = 0
        count = 0
        body = 0  # bytes of each fragment so far
        buffer = bytearray()

        async def send(stripe: bytes) -> None:
            nonlocal chunk_crc, crcs, count, body
            fragments, chunk_crc, crcs = await self.run_blocking(
                codec.encode, stripe, count, chunk_crc, crcs
            )
            body += len(fragments[0])
            fanout.send(
                {a: pb.PutChunkRequest(content=fragments[i]) for i, a in enumerate(targets)}
            )
            count += 1
            await fanout.pace(count - WINDOW)

        async for piece in source:
            size += len(piece)
            buffer += piece
            while len(buffer) >= codec.stripe_size:
                stripe = bytes(buffer[: codec.stripe_size])
                del buffer[: codec.stripe_size]
                await send(stripe)
        if buffer:
            await send(bytes(buffer))
        messages = {}
        for i, address in enumerate(targets):
            footer = Footer(i, codec.k, codec.m, size, chunk_crc).pack()
            trailer = pb.PutChunkTrailer(size=body + FOOTER_SIZE, crc32c=crc32c(footer, crcs[i]))
            fanout.send({address: pb.PutChunkRequest(content=footer)})
            messages[address] = pb.PutChunkRequest(trailer=trailer)
        fanout.send(messages)
        return size, chunk_crc

    # ---- get ----

    async def get_chunk(
        self,
        chunk_id: str,
        offset: int = 0,
        length: int | None = None,
        *,
        replicas: Sequence[str] = (),
        policy: str = "",
    ) -> AsyncIterator[bytes]:
        """Verified bytes of a chunk, decoded window by window from any k fragments."""
        validate_chunk_id(chunk_id)
        self._check_open()
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range (offset {offset}, length {length})")
        codec = self.codec
        reader = _Reader(self, chunk_id, self.cluster.read_order(chunk_id, replicas))
        if length is None:
            size = (await reader.footer()).size
            if offset > size:
                raise ValueError(f"range (offset {offset}) is outside {size} bytes")
            length = size - offset
        if length == 0:
            return
        end = offset + length
        per_window = max(1, READ_WINDOW_BYTES // codec.stripe_size)
        first, last = offset // codec.stripe_size, (end - 1) // codec.stripe_size
        try:
            for a in range(first, last + 1, per_window):
                b = min(a + per_window, last + 1)
                data = await reader.stripes(a, b)
                base = a * codec.stripe_size
                view = memoryview(data)[max(offset - base, 0) : min(end - base, len(data))]
                for at in range(0, len(view), PIECE_SIZE):
                    yield bytes(view[at : at + PIECE_SIZE])
        finally:
            if reader.bad:
                self._heal_soon(chunk_id, replicas)

    # ---- check ----

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
        """Every node's fragment of the chunk: OK, DEGRADED (n missing), LOST (fewer than k)
        or UNKNOWN (fewer than n good, and nodes that do not answer might hold the rest)."""
        validate_chunk_id(chunk_id)
        self._check_open()
        found = await self.repairer.check(chunk_id, (size, crc32c), replicas, verify, repair=repair)
        k = self.codec.k
        detail = (
            f"{found.good} of {self.codec.n} fragments good, {found.bad} bad, "
            f"{found.unknown} nodes not answering"
        )
        if found.good < k:
            if found.unknown:
                return ChunkCheck("unknown", found.short, detail=f"UNKNOWN: {detail}")
            state: Literal["missing", "corrupt"] = "corrupt" if found.bad else "missing"
            return ChunkCheck(state, found.short, detail=f"LOST: {detail}")
        if found.short:
            return ChunkCheck(
                "under_replicated",
                found.short,
                found.restored,
                f"DEGRADED({found.short} missing): {detail}",
            )
        if found.unknown and found.good < self.codec.n:  # a node down may hold the rest
            return ChunkCheck("unknown", detail=f"UNKNOWN: {detail}")
        return ChunkCheck("good", detail=f"OK: {detail}")

    def abandon(self, tasks: Iterable[asyncio.Task[Any]]) -> None:
        """Cancel reads no longer wanted without waiting for them: a call to a node that hangs
        may not end before its deadline, and the read must not wait for it."""
        for task in tasks:
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(_quiet(self._abandoned))

    async def close(self) -> None:
        for task in self._abandoned:
            task.cancel()
        await super().close()
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Reader:
    """Fetches stripes of one chunk from any k nodes, sticking to those that answered."""

    def __init__(self, backend: ErasureBackend, chunk_id: str, order: Sequence[str]) -> None:
        self.backend = backend
        self.chunk_id = chunk_id
        self.order = list(order)
        self.bad = False
        """A fragment was missing or corrupt on the way: the chunk wants repair."""
        self.unreachable: set[str] = set()
        self.corrupt: set[str] = set()
        self._file_size: int | None = None

    async def file_size(self) -> int:
        """The length of the chunk's fragment files (every one has the same)."""
        if self._file_size is None:
            c = self.backend.cluster
            self._file_size = await self._first(
                lambda address: c.call(address, lambda cl: cl.exists(self.chunk_id))
            )
        return self._file_size

    async def footer(self) -> Footer:
        """The footer of the first fragment that gives one (a read to the chunk's end)."""
        c = self.backend.cluster
        size = await self.file_size()

        async def one(address: str) -> Footer:
            raw = await read_range(c, address, self.chunk_id, size - FOOTER_SIZE, FOOTER_SIZE)
            self.backend.read_stats.fragment_bytes += len(raw)
            return Footer.unpack(raw)

        return await self._first(one)

    async def _first(self, ask: Callable[[str], Awaitable[T | None]]) -> T:
        """The first answer (not None) of ``ask`` to the nodes in order: one node at a time, one
        more each time a node fails, has nothing, or is silent for ``hedge_after`` seconds."""
        queue = list(self.order)
        pending: dict[asyncio.Task[T | None], str] = {}

        def launch() -> None:
            if queue:
                address = queue.pop(0)
                pending[asyncio.create_task(_awaited(ask(address)))] = address

        launch()
        try:
            while pending:
                done, _ = await asyncio.wait(
                    pending, timeout=self.backend.hedge_after, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    launch()
                    continue
                for task in done:
                    address = pending.pop(task)
                    try:
                        answer = task.result()
                    except NodeError:
                        self.unreachable.add(address)
                    except (StorageError, ValueError):
                        self.corrupt.add(address)
                    else:
                        if answer is not None:
                            return answer
                    launch()
        finally:
            self.backend.abandon(pending)
        raise self._failure()

    async def stripes(self, a: int, b: int) -> bytes:
        """The data of stripes [a, b), from the first k nodes that serve their fragments."""
        backend = self.backend
        codec = backend.codec
        c = backend.cluster
        offset, length = codec.span(a, b, codec.layout(await self.file_size()))
        got: dict[str, list[bytes]] = {}
        indices: set[int] = set()
        queue = [x for x in self.order if x not in self.unreachable and x not in self.corrupt]
        pending: dict[asyncio.Task[bytes], str] = {}

        def launch() -> bool:
            if not queue:
                return False
            address = queue.pop(0)
            task = asyncio.create_task(read_range(c, address, self.chunk_id, offset, length))
            pending[task] = address
            return True

        for _ in range(codec.k):
            launch()
        try:
            while len(got) < codec.k and pending:
                done, _ = await asyncio.wait(
                    pending, timeout=backend.hedge_after, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:  # slow: hedge with one more node, keep waiting for all
                    launch()
                    continue
                for task in done:
                    address = pending.pop(task)
                    try:
                        raw = task.result()
                        backend.read_stats.fragment_bytes += len(raw)
                        if len(raw) != length:
                            raise ChunkCorrupt(f"{len(raw)} bytes, not {length}")
                        parts = codec.split(raw)
                        index = codec.index(parts[0], a)
                        if index not in indices:
                            indices.add(index)
                            got[address] = parts
                        else:  # a second copy of a fragment (left by a stand-in): no use
                            launch()
                        continue
                    except NodeError:
                        self.unreachable.add(address)
                    except ChunkNotFound:
                        self.bad = True
                    except (ChunkCorrupt, ValueError) as exc:
                        log.warning(
                            "corrupt fragment of chunk %s on %s: %s", self.chunk_id, address, exc
                        )
                        self.corrupt.add(address)
                        self.bad = True
                    self.order.remove(address)
                    launch()
        finally:
            self.backend.abandon(pending)
        if len(got) < codec.k:
            raise self._failure()
        # the nodes that served go first next window (data fragments stay first)
        self.order.sort(key=lambda x: x not in got)
        per_node = list(got.values())
        stripes = [[frags[j] for frags in per_node] for j in range(b - a)]
        try:
            data = await backend.run_blocking(codec.decode, a, stripes)
        except ChunkCorrupt:
            self.bad = True
            raise
        stats = backend.read_stats
        stats.stripes += b - a
        if indices != set(range(codec.k)):  # a parity fragment stood in: zfec decoded
            stats.stripes_decoded += b - a
        return data

    def _failure(self) -> Exception:
        if self.unreachable:
            return StorageUnavailable(
                f"chunk {self.chunk_id}: fewer than {self.backend.codec.k} fragments could be "
                f"read ({len(self.unreachable)} nodes unreachable)"
            )
        if self.corrupt:
            return ChunkCorrupt(f"chunk {self.chunk_id}: too few good fragments")
        return ChunkNotFound(f"chunk {self.chunk_id} not found on enough storage nodes")


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _quiet(tasks: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    """A done-callback that forgets an abandoned task and takes its outcome (nobody awaits it)."""

    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()

    return done


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
