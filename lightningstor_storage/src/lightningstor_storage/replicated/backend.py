"""``ReplicatedBackend``: chunks on storage nodes, ``replication_factor`` copies each.

- **put**: the chunk goes to its first replication_factor writable nodes (placement order, up and
  not draining), in parallel, each verifying size and CRC32C before its fsync. The put returns
  once ``write_quorum`` nodes acknowledged, naming them in ``ChunkInfo.replicas``; slower
  replicas finish in the background (within the request timeout). Fewer writable nodes than the
  quorum, or too many failures, raise :class:`StorageUnavailable` after deleting what was written.
- **get**: the hinted replicas first, then placement order, down nodes last; an error, a timeout
  or a checksum mismatch moves the read to the next node, from the byte where it stopped (every
  piece is checked, so no wrong byte is ever returned). A replica found missing or corrupt on the
  way is repaired in the background.
- **delete**: on every node. A node that cannot be reached is remembered and cleaned when it
  answers again; the core's orphan sweep is the backstop (this memory does not survive a restart).
- **list**: the merged, de-duplicated listings of the nodes that answer.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Coroutine, Sequence
from functools import partial
from typing import Any

from lightningstor_storage.backend import (
    Capabilities,
    ChunkCorrupt,
    ChunkInfo,
    ChunkNotFound,
    ChunkStat,
    StorageError,
    StorageUnavailable,
    validate_chunk_id,
)
from lightningstor_storage.chunkfile import crc32c
from lightningstor_storage.replicated.client import NodeClient, NodeError
from lightningstor_storage.replicated.cluster import Cluster
from lightningstor_storage.replicated.fanout import Fanout, QuorumLostError
from lightningstor_storage.replicated.placement import Node
from lightningstor_storage.replicated.repair import Referenced, Repairer
from lightningstor_types.config import DistributedSettings

__all__ = ["MAX_PENDING_DELETES", "ReplicatedBackend"]

log = logging.getLogger(__name__)

MAX_PENDING_DELETES = 100_000
"""Deletes remembered per unreachable node; beyond that the orphan sweep cleans up."""
_CAPABILITIES = Capabilities(
    name="replicated", durable=True, verifies_checksums=True, replicated=True, range_reads=True
)


class ReplicatedBackend:
    """The StorageBackend over a :class:`Cluster` of storage nodes."""

    def __init__(self, cluster: Cluster, *, scrub_rate: int = 32 * 1024 * 1024) -> None:
        self.cluster = cluster
        self.repairer = Repairer(cluster, rate=scrub_rate)
        self._pending_deletes: dict[str, set[str]] = {a: set() for a in cluster.nodes}
        self._background: set[asyncio.Task[Any]] = set()
        self._healing: set[str] = set()
        self._closed = False
        cluster.on_recovered = self._recovered

    @classmethod
    def from_settings(cls, settings: DistributedSettings) -> ReplicatedBackend:
        """The backend of ``[storage.distributed]``."""
        nodes = [Node(n.address, n.zone or "", n.weight) for n in settings.nodes]
        cluster = Cluster(
            nodes,
            replication_factor=settings.replication_factor,
            write_quorum=settings.effective_write_quorum,
            strategy=settings.placement_strategy,
            timeout=settings.request_timeout_seconds,
            backoff=settings.node_down_backoff_seconds,
            tls=settings.tls,
        )
        return cls(cluster, scrub_rate=settings.scrub_rate_bytes_per_second)

    def capabilities(self) -> Capabilities:
        """Durable on a write quorum, checksummed end to end, replicated, with range reads."""
        return _CAPABILITIES

    # ---- put ----

    async def put_chunk(self, chunk_id: str, data: bytes | AsyncIterable[bytes]) -> ChunkInfo:
        """Store a chunk on its nodes; return at the write quorum (StorageUnavailable if not)."""
        validate_chunk_id(chunk_id)
        self._check_open()
        c = self.cluster
        targets = [n.address for n in c.write_targets(chunk_id)]
        if len(targets) < c.write_quorum:
            raise StorageUnavailable(
                f"{len(targets)} storage nodes can take writes, "
                f"the write quorum is {c.write_quorum}"
            )
        fanout: Fanout | None = None
        stream: AsyncIterable[bytes] | None = None
        if isinstance(data, bytes | bytearray | memoryview):
            body = bytes(data)
            size, crc = len(body), crc32c(body)
            tasks = {
                a: asyncio.create_task(c.call(a, lambda cl: cl.put(chunk_id, body, crc)))
                for a in targets
            }
        else:  # streamed as it arrives; the trailer carries size and CRC32C
            stream = data
            fanout = Fanout(targets, c.write_quorum, c.timeout)
            tasks = {
                a: asyncio.create_task(self._put_streamed(fanout, a, chunk_id)) for a in targets
            }
            self._spawn(fanout.guard(tasks, lambda a: c.failed(a, NodeError(f"{a}: put stalled"))))
        try:
            if fanout is not None and stream is not None:
                size, crc = await self._feed(fanout, stream)
            acked, errors = await self._quorum(tasks)
        except asyncio.CancelledError:
            await self._abandon(chunk_id, targets, tasks, cancel=True)
            raise
        except Exception:  # the source failed: the replicas were ended without a trailer
            await self._abandon(chunk_id, targets, tasks, cancel=False)
            raise
        if len(acked) < c.write_quorum:
            # Let the replicas still writing end (each within its deadline, or ended without a
            # trailer, or cut by the guard): a node ends a failed put by removing its temporary
            # file, so afterwards nothing partial is left.
            await self._abandon(chunk_id, targets, tasks, cancel=False)
            raise StorageUnavailable(
                f"chunk {chunk_id}: {len(acked)} of {len(targets)} storage nodes acknowledged, "
                f"the write quorum is {c.write_quorum}: {'; '.join(map(str, errors))}"
            )
        for task in tasks.values():  # stragglers finish in the background; repair covers a failure
            if not task.done():
                self._track(task)
        return ChunkInfo(chunk_id, size, crc, tuple(a for a in targets if a in acked))

    async def _put_streamed(self, fanout: Fanout, address: str, chunk_id: str) -> None:
        replica = fanout.replicas[address]
        try:
            await self.cluster.call(address, lambda cl: cl.put_stream(replica.requests(chunk_id)))
        finally:
            replica.end()

    @staticmethod
    async def _feed(fanout: Fanout, data: AsyncIterable[bytes]) -> tuple[int, int]:
        """Stream ``data`` to the replicas; (size, CRC32C), or (-1, 0) if the quorum was lost."""
        try:
            return await fanout.feed(data)
        except QuorumLostError:
            fanout.abort()
            return -1, 0
        except BaseException:
            fanout.abort()
            raise

    async def _quorum(
        self, tasks: dict[str, asyncio.Task[None]]
    ) -> tuple[list[str], list[BaseException]]:
        """Wait until the write quorum acknowledged or cannot any more."""
        quorum = self.cluster.write_quorum
        by_task = {t: a for a, t in tasks.items()}
        acked: list[str] = []
        errors: list[BaseException] = []
        pending = set(by_task)
        while pending and len(acked) < quorum <= len(acked) + len(pending):
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.cancelled():
                    errors.append(NodeError(f"{by_task[task]}: put stalled"))
                elif task.exception() is not None:
                    errors.append(task.exception() or RuntimeError())
                else:
                    acked.append(by_task[task])
        return acked, errors

    async def _abandon(
        self,
        chunk_id: str,
        targets: Sequence[str],
        tasks: dict[str, asyncio.Task[None]],
        *,
        cancel: bool,
    ) -> None:
        if cancel:
            for task in tasks.values():
                task.cancel()
        await asyncio.shield(asyncio.gather(*tasks.values(), return_exceptions=True))
        await asyncio.shield(self._delete_on(chunk_id, targets))

    # ---- get ----

    async def get_chunk(
        self,
        chunk_id: str,
        offset: int = 0,
        length: int | None = None,
        *,
        replicas: Sequence[str] = (),
    ) -> AsyncIterator[bytes]:
        """Verified bytes of a chunk from the first replica that serves them, falling back."""
        validate_chunk_id(chunk_id)
        self._check_open()
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range (offset {offset}, length {length})")
        c = self.cluster
        expected = set(replicas) | {n.address for n in c.write_targets(chunk_id)}
        pos = offset
        end = None if length is None else offset + length
        unreachable: list[str] = []
        corrupt: list[str] = []
        missing: list[str] = []
        for address in c.read_order(chunk_id, replicas):
            stream = c.clients[address].get(chunk_id, pos, None if end is None else end - pos)
            try:
                while True:
                    try:
                        piece = await anext(stream)
                    except StopAsyncIteration:
                        break
                    pos += len(piece)
                    yield piece
            except NodeError as exc:
                c.failed(address, exc)
                unreachable.append(address)
                continue
            except ChunkCorrupt as exc:
                log.warning("corrupt replica: %s", exc)
                c.answered(address)
                corrupt.append(address)
                continue
            except ChunkNotFound:
                c.answered(address)
                if address in expected:
                    missing.append(address)
                continue
            finally:
                await stream.aclose()
            c.answered(address)
            if corrupt or missing:
                self._heal_soon(chunk_id, replicas)
            return
        if corrupt:  # the repairer searches every node, and counts the chunk lost if need be
            self._heal_soon(chunk_id, replicas)
        if unreachable:
            raise StorageUnavailable(
                f"chunk {chunk_id}: no replica could be read ({len(unreachable)} nodes unreachable)"
            )
        if corrupt:
            raise ChunkCorrupt(f"chunk {chunk_id}: every replica found is corrupt")
        raise ChunkNotFound(f"chunk {chunk_id} not found on any storage node")

    def _heal_soon(self, chunk_id: str, hints: Sequence[str]) -> None:
        if chunk_id in self._healing or self._closed:
            return
        self._healing.add(chunk_id)

        async def heal() -> None:
            try:
                await self.repairer.heal(chunk_id, tuple(hints))
            finally:
                self._healing.discard(chunk_id)

        self._spawn(heal())

    # ---- delete, exists, list ----

    async def delete_chunk(self, chunk_id: str) -> bool:
        """Delete on every node; True if any held it. StorageUnavailable if none answered."""
        validate_chunk_id(chunk_id)
        self._check_open()
        results = await self._delete_on(chunk_id, list(self.cluster.nodes))
        if not any(r is not None for r in results.values()):
            raise StorageUnavailable(f"chunk {chunk_id}: no storage node answered the delete")
        return any(results.values())

    async def _delete_on(self, chunk_id: str, addresses: Sequence[str]) -> dict[str, bool | None]:
        """Delete on each node; None where it failed (then remembered for later)."""
        c = self.cluster

        async def one(address: str) -> bool | None:
            if c.health.is_up(address):
                try:
                    return await c.call(address, lambda cl: cl.delete(chunk_id))
                except NodeError:
                    pass
            self._remember_delete(address, chunk_id)
            return None

        replies = await asyncio.gather(*(one(a) for a in addresses))
        return dict(zip(addresses, replies, strict=True))

    def _remember_delete(self, address: str, chunk_id: str) -> None:
        pending = self._pending_deletes[address]
        if len(pending) < MAX_PENDING_DELETES:
            pending.add(chunk_id)
        elif len(pending) == MAX_PENDING_DELETES:
            log.warning(
                "storage node %s: too many missed deletes; the sweep takes the rest", address
            )

    def _recovered(self, address: str) -> None:
        if self._pending_deletes[address] and not self._closed:

            async def flush() -> None:
                await self.flush_deletes(address)

            self._spawn(flush())

    async def flush_deletes(self, address: str) -> int:
        """Retry the deletes a node missed while it was down; returns how many were done."""
        pending = self._pending_deletes[address]
        done = 0
        for chunk_id in list(pending):
            try:
                await self.cluster.call(address, partial(NodeClient.delete, chunk_id=chunk_id))
            except NodeError:
                return done
            except StorageError:
                pass
            pending.discard(chunk_id)
            done += 1
        if done:
            log.info("storage node %s: %d missed deletes done", address, done)
        return done

    def pending_deletes(self, address: str) -> frozenset[str]:
        """Chunks a node still has to delete (it was down when they were deleted)."""
        return frozenset(self._pending_deletes[address])

    async def exists(self, chunk_id: str) -> bool:
        """Whether any node holds the chunk (StorageUnavailable when it cannot be told)."""
        validate_chunk_id(chunk_id)
        c = self.cluster

        async def one(address: str) -> bool | None:
            try:
                return await c.call(address, lambda cl: cl.exists(chunk_id)) is not None
            except NodeError:
                return None

        replies = await asyncio.gather(*(one(a) for a in c.read_order(chunk_id)))
        if any(replies):
            return True
        if None in replies:
            raise StorageUnavailable(f"chunk {chunk_id}: some storage nodes do not answer")
        return False

    async def list_chunks(self) -> AsyncIterator[ChunkStat]:
        """Every chunk of every node that answers, once, in id order (newest mtime of its copies).

        StorageUnavailable if no node answers; chunks of a node that fails are left out.
        """
        self._check_open()
        c = self.cluster
        streams = {a: c.clients[a].list() for a in c.nodes}
        heads: list[tuple[str, int, ChunkStat]] = []
        order = list(streams)
        try:
            answered = 0
            for i, address in enumerate(order):
                if c.health.is_up(address):
                    answered += await self._push_next(heads, i, address, streams[address])
            if not answered:
                raise StorageUnavailable("no storage node answers the listing")
            while heads:
                chunk_id, i, stat = heapq.heappop(heads)
                newest = stat
                await self._push_next(heads, i, order[i], streams[order[i]])
                while heads and heads[0][0] == chunk_id:
                    _, j, other = heapq.heappop(heads)
                    if other.mtime > newest.mtime:
                        newest = other
                    await self._push_next(heads, j, order[j], streams[order[j]])
                yield newest
        finally:
            for stream in streams.values():
                await stream.aclose()

    async def _push_next(
        self,
        heads: list[tuple[str, int, ChunkStat]],
        i: int,
        address: str,
        stream: AsyncGenerator[ChunkStat, None],
    ) -> bool:
        """Push a node's next listed chunk; False when the node's listing ended or failed."""
        try:
            stat = await anext(stream)
        except StopAsyncIteration:
            self.cluster.answered(address)
            return True
        except NodeError as exc:
            self.cluster.failed(address, exc)
            log.warning("listing of storage node %s failed: %s", address, exc)
            return False
        heapq.heappush(heads, (stat.chunk_id, i, stat))
        return True

    # ---- background work and lifetime ----

    def start_repair(self, referenced: Referenced, *, interval: float = 60.0) -> asyncio.Task[None]:
        """Scrub and re-replicate every chunk ``referenced`` names, a pass every ``interval`` s."""
        self._check_open()

        async def loop() -> None:
            while True:
                try:
                    await self.cluster.refresh()
                    for address in self.cluster.nodes:
                        if self._pending_deletes[address] and self.cluster.health.is_up(address):
                            await self.flush_deletes(address)
                    await self.repairer.run_once(referenced)
                except Exception:  # one failed pass must not stop repair
                    log.exception("repair pass failed")
                await asyncio.sleep(interval)

        return self._spawn(loop(), name="lightningstor-repair")

    async def drain(self, address: str, draining: bool = True) -> None:
        """Mark a node draining: no new chunks go there, repair copies its chunks away."""
        await self.cluster.set_draining(address, draining)

    def _spawn(
        self, coro: Coroutine[Any, Any, None], *, name: str | None = None
    ) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._track(task)
        return task

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            level = logging.INFO if isinstance(exc, StorageError) else logging.ERROR
            log.log(level, "background storage work failed: %s", exc, exc_info=exc)

    async def idle(self) -> None:
        """Wait until background work (late replicas, repairs; not the repair loop) is done."""
        while True:
            tasks = [t for t in self._background if t.get_name() != "lightningstor-repair"]
            if not tasks:
                return
            await asyncio.wait(tasks)

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the replicated backend is closed")

    async def close(self) -> None:
        """Stop background work, then close the node channels."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.cluster.close()
