"""``ReplicatedBackend``: chunks on storage nodes, ``replication_factor`` copies each.

- **put**: the chunk goes to its first replication_factor writable nodes (placement order, up and
  not draining), in parallel: a chunk given whole with its size and CRC32C in the header, a
  chunk given as a stream piece by piece as it arrives (:mod:`.fanout`), size and CRC32C in a
  trailer. Each node checks them before its fsync. The put returns once ``write_quorum`` nodes
  acknowledged, naming them in ``ChunkInfo.replicas``; slower replicas finish in the background
  (or are cut after the request timeout without progress). Fewer writable nodes than the quorum,
  or too many failures, raise :class:`StorageUnavailable` after deleting what was written.
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
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Coroutine, Sequence
from functools import partial
from typing import Any, Literal

from lightningstor_storage.backend import (
    Capabilities,
    ChunkCheck,
    ChunkCorrupt,
    ChunkInfo,
    ChunkNotFound,
    ChunkStat,
    PolicyKind,
    StorageError,
    StorageUnavailable,
    validate_chunk_id,
)
from lightningstor_storage.chunkfile import crc32c
from lightningstor_storage.replicated.client import NodeError
from lightningstor_storage.replicated.cluster import Cluster
from lightningstor_storage.replicated.deletes import MissedDeletes
from lightningstor_storage.replicated.fanout import Fanout, QuorumLostError
from lightningstor_storage.replicated.listing import merged_listing
from lightningstor_storage.replicated.placement import Node
from lightningstor_storage.replicated.repair import Referenced, Repairer, RepairStats
from lightningstor_types.config import DistributedSettings
from lightningstor_types.spans import background

__all__ = ["MAX_HEALS", "ReplicatedBackend", "replicated_cluster"]

log = logging.getLogger(__name__)

MAX_HEALS = 64
"""Repairs started by reads at once (they share the scrub's rate); more wait for the scrub."""
_LOOP = "lightningstor-storage-loop"
PROBE_TIMEOUT = 1.5
"""Readiness: a node that cannot say NodeInfo within this long is down (the server's probe
waits 2 s for the whole answer)."""
_CAPABILITIES = Capabilities(
    name="replicated", durable=True, verifies_checksums=True, replicated=True, range_reads=True
)


class ReplicatedBackend:
    """The StorageBackend over a :class:`Cluster` of storage nodes."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        scrub_rate: int = 32 * 1024 * 1024,
        probe_interval: float = 5.0,
    ) -> None:
        self.cluster = cluster
        self.probe_interval = probe_interval
        self.repairer = Repairer(cluster, rate=scrub_rate)
        self.missed_deletes = MissedDeletes(cluster, cluster.nodes)
        self._background: set[asyncio.Task[Any]] = set()
        self._healing: set[str] = set()
        self._late: dict[str, set[asyncio.Task[None]]] = {}  # replicas still writing, by chunk
        self._closed = False
        cluster.on_recovered = self._recovered

    @classmethod
    def from_settings(cls, settings: DistributedSettings) -> ReplicatedBackend:
        """The backend of ``[storage.distributed]``."""
        return cls(
            replicated_cluster(settings),
            scrub_rate=settings.scrub_rate_bytes_per_second,
            probe_interval=min(settings.node_down_backoff_seconds, 5.0),
        )

    def capabilities(self) -> Capabilities:
        """Durable on a write quorum, checksummed end to end, replicated, with range reads."""
        return _CAPABILITIES

    # ---- put ----

    async def put_chunk(
        self, chunk_id: str, data: bytes | AsyncIterable[bytes], *, kind: PolicyKind = ""
    ) -> ChunkInfo:
        """Store a chunk on its nodes; return at the write quorum (StorageUnavailable if not)."""
        validate_chunk_id(chunk_id)
        if kind not in ("", "replicated"):
            raise ValueError(f"this backend stores replicated chunks, not {kind}")
        self._check_open()
        c = self.cluster
        targets = [n.address for n in c.write_targets(chunk_id)]
        if len(targets) < c.write_quorum:
            raise StorageUnavailable(
                f"{len(targets)} storage nodes can take writes, "
                f"the write quorum is {c.write_quorum}"
            )
        if isinstance(data, bytes | bytearray | memoryview):
            body = bytes(data)
            size, crc = len(body), crc32c(body)
            tasks = {
                a: asyncio.create_task(c.call(a, lambda cl: cl.put(chunk_id, body, crc)))
                for a in targets
            }
            acked, _ = await self._complete_put(chunk_id, targets, tasks, None)
        else:  # streamed as it arrives; the trailer carries size and CRC32C
            fanout = Fanout(targets, c.write_quorum, c.timeout)
            tasks = self._start_streams(fanout, chunk_id)
            acked, (size, crc) = await self._complete_put(
                chunk_id, targets, tasks, self._feed(fanout, fanout.feed(data))
            )
        return ChunkInfo(chunk_id, size, crc, tuple(a for a in targets if a in acked))

    def _start_streams(self, fanout: Fanout, chunk_id: str) -> dict[str, asyncio.Task[None]]:
        """One streamed put per replica of ``fanout``, with the guard that cuts stalled ones."""
        c = self.cluster
        tasks = {
            a: asyncio.create_task(self._put_streamed(fanout, a, chunk_id)) for a in fanout.replicas
        }
        self._spawn(fanout.guard(tasks, lambda a: c.failed(a, NodeError(f"{a}: put stalled"))))
        return tasks

    async def _complete_put(
        self,
        chunk_id: str,
        targets: Sequence[str],
        tasks: dict[str, asyncio.Task[None]],
        feed: Awaitable[tuple[int, int]] | None,
    ) -> tuple[list[str], tuple[int, int]]:
        """Feed the streams (if ``feed``), wait for the write quorum; the nodes that acknowledged
        and what ``feed`` returned. Below the quorum: StorageUnavailable, nothing left behind."""
        c = self.cluster
        fed = (0, 0)
        try:
            if feed is not None:
                fed = await feed
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
        late = {t for t in tasks.values() if not t.done()}
        if late:  # stragglers finish in the background; repair covers a failure
            self._late[chunk_id] = late
            for task in late:
                self._track(task)
                task.add_done_callback(partial(self._late_done, chunk_id))
        return acked, fed

    def _late_done(self, chunk_id: str, task: asyncio.Task[None]) -> None:
        late = self._late.get(chunk_id)
        if late is not None:
            late.discard(task)
            if not late:
                del self._late[chunk_id]

    async def _put_streamed(self, fanout: Fanout, address: str, chunk_id: str) -> None:
        replica = fanout.replicas[address]
        try:
            await self.cluster.call(address, lambda cl: cl.put_stream(replica.requests(chunk_id)))
        finally:
            replica.end()

    @staticmethod
    async def _feed(fanout: Fanout, feeding: Awaitable[tuple[int, int]]) -> tuple[int, int]:
        """Await the feeding of ``fanout``; (size, CRC32C), or (-1, 0) if the quorum was lost."""
        try:
            return await feeding
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
        policy: str = "",
    ) -> AsyncIterator[bytes]:
        """Verified bytes of a chunk from the first replica that serves them, falling back."""
        validate_chunk_id(chunk_id)
        self._check_open()
        if offset < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range (offset {offset}, length {length})")
        c = self.cluster
        expected = set(replicas)  # where a missing copy is a fault to repair
        if c.placement.deterministic:
            expected |= {n.address for n in c.write_targets(chunk_id)}
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
        if chunk_id in self._healing or self._closed or len(self._healing) >= MAX_HEALS:
            return  # already under way, or too many: the scrub's passes find the rest
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
        await self.cancel_late(chunk_id)
        results = await self._delete_on(chunk_id, list(self.cluster.nodes))
        if not any(r is not None for r in results.values()):
            raise StorageUnavailable(f"chunk {chunk_id}: no storage node answered the delete")
        return any(results.values())

    async def cancel_late(self, chunk_id: str) -> None:
        """End the writes of the chunk's replicas still under way (before it is deleted: a late
        replica must not land after the delete)."""
        late = self._late.pop(chunk_id, set())
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _delete_on(self, chunk_id: str, addresses: Sequence[str]) -> dict[str, bool | None]:
        """Delete on each node; None where it failed (then remembered for later)."""
        c = self.cluster

        async def one(address: str) -> bool | None:
            if c.health.is_up(address):
                try:
                    return await c.call(address, lambda cl: cl.delete(chunk_id))
                except NodeError:
                    pass
            self.missed_deletes.remember(address, chunk_id)
            return None

        replies = await asyncio.gather(*(one(a) for a in addresses))
        return dict(zip(addresses, replies, strict=True))

    def _recovered(self, address: str) -> None:
        if self.missed_deletes.pending(address) and not self._closed:

            async def flush() -> None:
                await self.missed_deletes.flush(address)

            self._spawn(flush())

    async def exists(self, chunk_id: str) -> bool:
        """Whether any node holds the chunk (StorageUnavailable when it cannot be told)."""
        validate_chunk_id(chunk_id)
        c = self.cluster

        async def one(address: str) -> bool | None:
            if not c.health.is_up(address):
                return None
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

    def list_chunks(self) -> AsyncIterator[ChunkStat]:
        """Every chunk of every node that answers, once, in id order (newest mtime of its copies).

        StorageUnavailable if no node answers; chunks of a node that fails are left out.
        """
        self._check_open()
        return merged_listing(self.cluster)

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
        """Look for the chunk on every node, verifying the copies where it belongs (the scrub's
        check, paced at the scrub rate); with ``repair``, restore its copies (and move extra ones)
        as a repair pass does."""
        validate_chunk_id(chunk_id)
        self._check_open()
        found = await self.repairer.check(chunk_id, (size, crc32c), replicas, verify, repair=repair)
        detail = (
            f"{found.good} good copies, {found.short} targets short, {found.bad} bad copies, "
            f"{found.unknown} nodes not answering"
        )
        if found.good == 0:
            if found.unknown:  # a node that did not answer may hold it
                return ChunkCheck("unknown", found.short, detail=detail)
            state: Literal["missing", "corrupt"] = "corrupt" if found.bad else "missing"
            return ChunkCheck(state, found.short, detail=detail)
        if found.short:
            return ChunkCheck("under_replicated", found.short, found.restored, detail)
        if found.unknown and found.good < self.cluster.replication_factor:
            # Fewer good copies than the factor, and a node that did not answer may or may not
            # hold the rest: not "good" while a node is down.
            return ChunkCheck("unknown", detail=detail)
        return ChunkCheck("good", detail=detail)

    # ---- readiness ----

    async def probe(self) -> None:
        """Readiness: every node asked, fine while a write quorum of them can take writes.

        One node down of three (write quorum 2) is no reason to leave the load balancer's
        rotation: reads and writes go on. The nodes down are :meth:`degraded_nodes`.
        """
        self._check_open()
        c = self.cluster
        await c.refresh(PROBE_TIMEOUT)
        writable = c.writable_count()
        if writable < c.write_quorum:
            down = ", ".join(c.down()) or "none"
            raise StorageUnavailable(
                f"{writable} of {len(c.nodes)} storage nodes can take writes, the write quorum "
                f"is {c.write_quorum} (down: {down})"
            )

    def degraded_nodes(self) -> list[str]:
        """The storage nodes that did not answer last (in their back-off), sorted."""
        return self.cluster.down()

    # ---- background work and lifetime ----

    def start_background(
        self, referenced: Referenced | None = None, *, repair_interval: float = 60.0
    ) -> None:
        """Start the background work in the running loop (stopped by :meth:`close`).

        Every ``probe_interval`` seconds the nodes are asked for their info (health, drain
        state) and the deletes they missed are done. Given ``referenced`` (and a scrub rate
        above 0), repair passes run over those chunks, each ``repair_interval`` s after the last.
        """
        self._check_open()

        async def probe() -> None:
            while True:
                try:
                    await self.cluster.refresh()
                    for address in self.cluster.nodes:
                        if self.cluster.health.is_up(address):
                            await self.missed_deletes.flush(address)
                except Exception:
                    log.exception("probing the storage nodes failed")
                await asyncio.sleep(self.probe_interval)

        async def repair(referenced: Referenced) -> None:
            while True:
                try:
                    with background("storage.repair"):
                        await self.repairer.run_once(referenced)
                except Exception:  # one failed pass must not stop repair
                    log.exception("repair pass failed")
                await asyncio.sleep(repair_interval)

        self._spawn(probe(), name=_LOOP)
        if referenced is not None and self.repairer.throttle.rate > 0:
            self._spawn(repair(referenced), name=_LOOP)

    def repair_stats(self) -> RepairStats:
        """Progress of repair (of every policy this backend serves)."""
        return self.repairer.stats

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
        """Wait until background work (late replicas, repairs; not the loops) is done."""
        while True:
            tasks = [t for t in self._background if t.get_name() != _LOOP]
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


def replicated_cluster(settings: DistributedSettings) -> Cluster:
    """The nodes of ``[storage.distributed]``, placing ``replication_factor`` copies."""
    return Cluster(
        [Node(n.address, n.zone or "", n.weight) for n in settings.nodes],
        replication_factor=settings.replication_factor,
        write_quorum=settings.effective_write_quorum,
        strategy=settings.placement_strategy,
        timeout=settings.request_timeout_seconds,
        backoff=settings.node_down_backoff_seconds,
        tls=settings.tls,
    )
