"""Scrub and re-replication: every chunk that metadata references back on its target nodes.

A pass takes the chunks the core names (``referenced()``: chunk id, size, CRC32C, replicas) and
checks it on every node:

1. the copies on its *targets* (the first replication_factor writable nodes of its placement),
   on the nodes that recorded a replica and on draining nodes are verified where they lie
   (``VerifyChunk``: every block read and checked, size and CRC32C compared with the reference)
   at ``rate`` bytes per second, or only looked up when the pass does not verify; every other
   node is only asked whether it holds a copy (one RPC each, no data read);
2. a target without a good copy gets one, read from a good copy (checked against the reference
   CRC32C) and written like any put (a corrupt copy is deleted first); a chunk with no good copy
   on any node that answers counts as lost;
3. once every target holds a verified good copy (and there are replication_factor targets), copies
   elsewhere are deleted: this is how chunks move to a node added to the list (only those
   whose placement changed), off a draining node, and back from the node that stood in for one
   that was down.

Copies are read at ``rate`` too, so repair and scrub never take more than that from the nodes.
:meth:`Repairer.heal` runs the same check for one chunk, when a read found a bad replica.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from lightningstor_storage.backend import ChunkCorrupt, ChunkExists, ChunkNotFound, StorageError
from lightningstor_storage.chunkfile import crc32c
from lightningstor_storage.replicated.client import NodeError
from lightningstor_storage.replicated.cluster import Cluster

__all__ = ["CheckResult", "ChunkRefLike", "Referenced", "RepairStats", "Repairer", "Throttle"]

log = logging.getLogger(__name__)

CONCURRENCY = 8
"""Chunks checked at once in a pass."""

Copy = Literal["good", "missing", "bad", "unknown"]


class ChunkRefLike(Protocol):
    """What repair needs of a chunk reference (``records_pb2.ChunkRef`` is one)."""

    @property
    def chunk_id(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def crc32c(self) -> int: ...
    @property
    def replicas(self) -> Sequence[str]: ...
    @property
    def policy(self) -> str: ...


Referenced = Callable[[], AsyncIterator[ChunkRefLike]]
"""Every chunk that metadata references (the core walks its data records)."""


@dataclass(slots=True)
class RepairStats:
    """Progress of repair since the backend started (counters) and of the current pass."""

    passes: int = 0
    """Passes finished."""
    running: bool = False
    pass_checked: int = 0
    """Chunks checked by the current (or last) pass."""
    last_pass_chunks: int = 0
    """Chunks the last finished pass checked: the size of a pass, to read progress against."""
    last_pass_seconds: float = 0.0
    backlog: int = 0
    """Chunks of the current pass found short of good copies and not yet restored."""
    chunks_checked: int = 0
    bytes_verified: int = 0
    replicas_missing: int = 0
    replicas_corrupt: int = 0
    replicas_restored: int = 0
    replicas_trimmed: int = 0
    """Copies deleted from nodes that are no target (moved by a node change or a drain)."""
    chunks_lost: int = 0
    """Chunks found with no good copy on any node that answered, each counted once."""
    lost: set[str] = field(default_factory=set)
    """Their ids: a pass that meets a lost chunk again does not count it again."""
    heals: int = 0
    """Checks started by a read that met a bad replica."""
    errors: int = 0

    def lost_chunk(self, chunk_id: str) -> None:
        """Count ``chunk_id`` as lost, unless an earlier pass already did."""
        if chunk_id not in self.lost:
            self.lost.add(chunk_id)
            self.chunks_lost += 1


class Throttle:
    """Paces work to ``rate`` bytes per second (at most one second of burst); 0 = unpaced."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._next = time.monotonic()

    async def take(self, amount: int) -> None:
        if self.rate <= 0 or amount <= 0:
            return
        now = time.monotonic()
        self._next = max(self._next, now - 1.0) + amount / self.rate
        if self._next > now + 1.0:
            await asyncio.sleep(self._next - now - 1.0)


@dataclass(slots=True)
class CheckResult:
    """One chunk as :meth:`Repairer.check` found it (before its repair), and what it restored."""

    good: int
    """Nodes holding a good copy."""
    short: int
    """Targets without a good copy."""
    bad: int
    """Copies failing verification, anywhere."""
    unknown: int
    """Nodes that did not answer."""
    restored: int = 0


@dataclass(slots=True)
class _Copies:
    state: dict[str, Copy] = field(default_factory=dict)
    expected: tuple[int, int] | None = None  # (size, crc32c) of a good copy

    def good(self) -> list[str]:
        return [a for a, s in self.state.items() if s == "good"]


class Repairer:
    """Checks chunks against their placement and restores them; see the module docstring."""

    def __init__(self, cluster: Cluster, *, rate: int, verify: bool = True) -> None:
        self.cluster = cluster
        self.verify = verify
        self.throttle = Throttle(rate)
        self.stats = RepairStats()

    async def run_once(self, referenced: Referenced) -> RepairStats:
        """One pass over every referenced chunk; returns the stats."""
        st = self.stats
        st.running, st.pass_checked, st.backlog = True, 0, 0
        started = time.monotonic()
        running: set[asyncio.Task[None]] = set()
        try:
            async for ref in referenced():
                if len(running) >= CONCURRENCY:
                    _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                running.add(asyncio.create_task(self._check_counted(ref)))
            await asyncio.gather(*running)
        finally:
            for task in running:
                task.cancel()
            st.running = False
        st.passes += 1
        st.last_pass_chunks = st.pass_checked
        st.last_pass_seconds = time.monotonic() - started
        log.info(
            "repair pass: %d chunks, %d replicas restored, %d trimmed, %d lost, backlog %d",
            st.pass_checked,
            st.replicas_restored,
            st.replicas_trimmed,
            st.chunks_lost,
            st.backlog,
        )
        return st

    async def heal(self, chunk_id: str, hints: Sequence[str] = ()) -> None:
        """Check and restore one chunk (after a read met a missing or corrupt replica)."""
        self.stats.heals += 1
        try:
            await self.check(chunk_id, None, hints, verify=True)
        except StorageError as exc:
            self.stats.errors += 1
            log.warning("repair of chunk %s failed: %s", chunk_id, exc)

    async def _check_counted(self, ref: ChunkRefLike) -> None:
        self.stats.pass_checked += 1
        self.stats.chunks_checked += 1
        try:
            await self.check(ref.chunk_id, (ref.size, ref.crc32c), ref.replicas, self.verify)
        except StorageError as exc:
            self.stats.errors += 1
            log.warning("repair of chunk %s failed: %s", ref.chunk_id, exc)
        except Exception:  # a bug must not end the pass
            self.stats.errors += 1
            log.exception("repair of chunk %s failed", ref.chunk_id)

    async def check(
        self,
        chunk_id: str,
        expected: tuple[int, int] | None,
        hints: Sequence[str],
        verify: bool,
        *,
        repair: bool = True,
    ) -> CheckResult:
        """Bring one chunk to its targets; ``expected`` is its (size, CRC32C) when known.

        Without ``repair`` only look (a dry run of the consistency check): nothing is written
        or deleted.
        """
        c = self.cluster
        targets = [n.address for n in c.placement.targets(chunk_id, c.writable, keep=tuple(hints))]
        watch = list(dict.fromkeys([*targets, *(a for a in hints if a in c.nodes), *c.draining]))
        copies = _Copies(expected=expected)
        await self._probe(chunk_id, watch, copies, verify)
        # Every other node is only asked whether it holds a copy: one left where a node that was
        # down stood in, or from before the node list changed. Those are moved, never verified.
        await self._probe(chunk_id, [a for a in c.nodes if a not in copies.state], copies, False)
        short = [t for t in targets if copies.state[t] in ("missing", "bad")]
        result = CheckResult(
            good=len(copies.good()),
            short=len(short),
            bad=sum(1 for s in copies.state.values() if s == "bad"),
            unknown=sum(1 for s in copies.state.values() if s == "unknown"),
        )
        if not repair:
            return result
        if short:
            before = self.stats.replicas_restored
            await self._restore(chunk_id, short, copies)
            result.restored = self.stats.replicas_restored - before
        # Extra copies go only once the chunk is whole, and verified, where it belongs: never
        # while fewer nodes can take it than the replication factor (nor with no target at all).
        full = verify and len(targets) >= c.replication_factor
        if full and all(copies.state[t] == "good" for t in targets):
            await self._trim(chunk_id, targets, copies)
        return result

    async def _probe(
        self, chunk_id: str, nodes: Sequence[str], copies: _Copies, verify: bool
    ) -> None:
        states = await asyncio.gather(*(self._look(chunk_id, a, copies, verify) for a in nodes))
        copies.state.update(zip(nodes, states, strict=True))
        bad = sum(1 for s in states if s == "bad")
        self.stats.replicas_corrupt += bad

    async def _look(self, chunk_id: str, address: str, copies: _Copies, verify: bool) -> Copy:
        c = self.cluster
        try:
            if verify:
                size, crc = await c.call(address, lambda cl: cl.verify(chunk_id))
                self.stats.bytes_verified += size
                await self.throttle.take(size)  # the node read that much
            else:
                found = await c.call(address, lambda cl: cl.exists(chunk_id))
                if found is None:
                    return "missing"
                size, crc = found, copies.expected[1] if copies.expected else -1
        except ChunkNotFound:
            return "missing"
        except ChunkCorrupt as exc:
            log.warning("repair: corrupt replica: %s", exc)
            return "bad"
        except (NodeError, StorageError):
            return "unknown"
        if copies.expected is None and crc >= 0:
            copies.expected = (size, crc)
        if copies.expected is not None and (size, crc) != copies.expected:
            log.warning(
                "repair: chunk %s on %s is %d bytes with CRC32C %#010x, expected %d and %#010x",
                chunk_id,
                address,
                size,
                crc,
                *copies.expected,
            )
            return "bad"
        return "good"

    async def _restore(self, chunk_id: str, short: Sequence[str], copies: _Copies) -> None:
        st = self.stats
        c = self.cluster
        st.backlog += 1
        st.replicas_missing += sum(1 for a in short if copies.state[a] == "missing")
        data = await self._fetch(chunk_id, copies)
        if data is None:
            st.lost_chunk(chunk_id)
            log.error("repair: chunk %s has no good copy on any node that answers", chunk_id)
            return
        crc = crc32c(data)
        for address in short:
            try:
                if copies.state[address] == "bad":
                    await c.call(address, lambda cl: cl.delete(chunk_id))
                await c.call(address, lambda cl: cl.put(chunk_id, data, crc))
            except ChunkExists:  # written since it was looked at: look again next pass
                continue
            except StorageError as exc:
                st.errors += 1
                log.warning("repair: cannot copy chunk %s to %s: %s", chunk_id, address, exc)
                continue
            copies.state[address] = "good"
            st.replicas_restored += 1
            log.info("repair: chunk %s copied to %s", chunk_id, address)
        if all(copies.state[a] == "good" for a in short):
            st.backlog -= 1

    async def _fetch(self, chunk_id: str, copies: _Copies) -> bytes | None:
        """The chunk from a good copy, checked against the expected size and CRC32C."""
        for address in copies.good():
            try:
                data = await self.cluster.call(address, lambda cl: cl.read_all(chunk_id))
                await self.throttle.take(len(data))
            except StorageError as exc:
                log.warning("repair: cannot read chunk %s from %s: %s", chunk_id, address, exc)
                copies.state[address] = "unknown"
                continue
            if copies.expected is None or (len(data), crc32c(data)) == copies.expected:
                return data
            log.warning("repair: chunk %s read from %s does not match", chunk_id, address)
            copies.state[address] = "bad"
        return None

    async def _trim(self, chunk_id: str, targets: Sequence[str], copies: _Copies) -> None:
        """Delete good copies outside the targets and bad ones anywhere but the targets."""
        for address, state in list(copies.state.items()):
            if address in targets or state not in ("good", "bad"):
                continue
            try:
                await self.cluster.call(address, lambda cl: cl.delete(chunk_id))
            except StorageError as exc:
                log.warning("repair: cannot delete chunk %s from %s: %s", chunk_id, address, exc)
                continue
            copies.state[address] = "missing"
            if state == "good":
                self.stats.replicas_trimmed += 1
                log.info("repair: chunk %s moved off %s", chunk_id, address)
