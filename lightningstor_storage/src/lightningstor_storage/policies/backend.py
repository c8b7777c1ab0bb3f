"""``PolicyBackend``: the distributed backend, routing each chunk by the policy recorded with it.

It is the replicated backend (chunks whose recorded policy is ``""``, every chunk written before
policies were recorded) and holds an :class:`.ErasureBackend` per erasure shape over the same
nodes: the configured ``k + m`` for new chunks, and any other shape a recorded ``"erasure:K+M"``
names (opened on first use, for reads, checks and repair), so that changing the configuration
never strands a chunk already written.

- **put**: ``kind`` (``"replicated"``, ``"erasure"``, ``""`` = the configured default) chooses;
  an erasure chunk given whole and smaller than ``erasure_min_chunk_bytes`` is replicated (the
  chunk's policy says so). The returned ``ChunkInfo.policy`` is what the core records.
- **get, check**: by the recorded policy.
- **background**: each backend probes its nodes and repairs the referenced chunks of its policy.
- **delete, exists, list**: the replicated backend's (every node, by chunk id: fragments and
  replicas alike), after ending an erasure put's late fragments of the chunk.
- **drain**: every backend learns it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import fields
from typing import cast

from lightningstor_storage.backend import ChunkCheck, ChunkInfo, PolicyKind
from lightningstor_storage.erasure.backend import ErasureBackend, ReadStats
from lightningstor_storage.erasure.codec import Codec
from lightningstor_storage.replicated.backend import ReplicatedBackend, replicated_cluster
from lightningstor_storage.replicated.cluster import Cluster
from lightningstor_storage.replicated.placement import Node
from lightningstor_storage.replicated.repair import ChunkRefLike, Referenced, RepairStats
from lightningstor_types.config import DistributedSettings

__all__ = ["PolicyBackend"]

log = logging.getLogger(__name__)


class PolicyBackend(ReplicatedBackend):
    """Replicated chunks itself, erasure-coded ones through an :class:`ErasureBackend` per shape."""

    def __init__(self, settings: DistributedSettings) -> None:
        super().__init__(
            replicated_cluster(settings),
            scrub_rate=settings.scrub_rate_bytes_per_second,
            probe_interval=min(settings.node_down_backoff_seconds, 5.0),
        )
        self.settings = settings
        self.default: PolicyKind = settings.policy
        """What a put that asks for no kind gets."""
        self.erasure: dict[str, ErasureBackend] = {}
        self._referenced: Referenced | None = None
        self._started: set[str] | None = None  # the policies whose background runs, once begun
        self._repair_interval = 60.0
        k, m = settings.erasure_data_fragments, settings.erasure_parity_fragments
        self.erasure_policy = Codec(k, m).policy
        """The policy new erasure-coded chunks are written with."""

    @classmethod
    def from_settings(cls, settings: DistributedSettings) -> PolicyBackend:
        """The backend of ``[storage.distributed]``."""
        return cls(settings)

    def backend_for(self, policy: str) -> ReplicatedBackend:
        """The backend of a recorded policy (ValueError for one that names nothing)."""
        if not policy or policy == "replicated":
            return self
        found = self.erasure.get(policy)
        if found is not None:
            return found
        shape = Codec.parse_policy(policy)
        if shape is None:
            raise ValueError(f"unknown storage policy {policy!r}")
        k, m = shape
        s = self.settings
        margin = min(s.erasure_write_margin, m)
        cluster = Cluster(
            [Node(n.address, n.zone or "", n.weight) for n in s.nodes],
            replication_factor=k + m,
            write_quorum=k + margin,
            strategy=s.placement_strategy,
            timeout=s.request_timeout_seconds,
            backoff=s.node_down_backoff_seconds,
            tls=s.tls,
            draining=self.cluster.draining,
        )
        backend = ErasureBackend(
            cluster,
            Codec(k, m),
            scrub_rate=s.scrub_rate_bytes_per_second,
            probe_interval=self.probe_interval,
            hedge_after=s.erasure_hedge_after_seconds,
        )
        self.erasure[policy] = backend
        if self._started is not None:
            self._start(policy, backend)
        return backend

    # ---- the data path, routed ----

    async def put_chunk(
        self, chunk_id: str, data: bytes | AsyncIterable[bytes], *, kind: PolicyKind = ""
    ) -> ChunkInfo:
        """Store the chunk as ``kind`` asks (the default for ``""``)."""
        kind = kind or self.default
        small = isinstance(data, bytes | bytearray | memoryview) and (
            len(data) < self.settings.erasure_min_chunk_bytes
        )
        if kind == "erasure" and not small:
            return await self.backend_for(self.erasure_policy).put_chunk(chunk_id, data)
        return await super().put_chunk(chunk_id, data)

    async def get_chunk(
        self,
        chunk_id: str,
        offset: int = 0,
        length: int | None = None,
        *,
        replicas: Sequence[str] = (),
        policy: str = "",
    ) -> AsyncIterator[bytes]:
        """The chunk's bytes, read as its recorded policy says."""
        backend = self.backend_for(policy)
        read = super().get_chunk if backend is self else backend.get_chunk
        # both are async generators: closed here, a node's stream ends at once
        pieces = cast(AsyncGenerator[bytes], read(chunk_id, offset, length, replicas=replicas))
        async with aclosing(pieces):
            async for piece in pieces:
                yield piece

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
        """The check of the chunk's recorded policy (copies, or fragments)."""
        backend = self.backend_for(policy)
        check = super().check_chunk if backend is self else backend.check_chunk
        return await check(chunk_id, size, crc32c, replicas=replicas, verify=verify, repair=repair)

    async def delete_chunk(self, chunk_id: str) -> bool:
        for backend in self.erasure.values():
            await backend.cancel_late(chunk_id)
        return await super().delete_chunk(chunk_id)

    # ---- background work and lifetime ----

    def start_background(
        self, referenced: Referenced | None = None, *, repair_interval: float = 60.0
    ) -> None:
        """Each backend's probes, and repair of the referenced chunks of its own policy."""
        super().start_background(self._replicated(referenced), repair_interval=repair_interval)
        self._referenced, self._repair_interval = referenced, repair_interval
        self._started = set()
        for policy, backend in self.erasure.items():
            self._start(policy, backend)
        if self.settings.erasure_in_use:
            self.backend_for(self.erasure_policy)  # started there if new

    async def repair_once(self, referenced: Referenced) -> None:
        """One repair pass of every policy over the referenced chunks (what the background
        passes do, at once)."""
        replicated = self._replicated(referenced)
        assert replicated is not None
        await self.repairer.run_once(replicated)
        for policy, backend in list(self.erasure.items()):
            only = _only(referenced, policy)
            assert only is not None
            await backend.repairer.run_once(only)

    def _replicated(self, referenced: Referenced | None) -> Referenced | None:
        """The referenced replicated chunks; a chunk of an erasure shape not open yet opens it,
        so that its repair runs too."""
        if referenced is None:
            return None
        source = referenced

        async def chunks() -> AsyncIterator[ChunkRefLike]:
            async for ref in source():
                if not ref.policy:
                    yield ref
                elif ref.policy not in self.erasure:
                    try:
                        self.backend_for(ref.policy)
                    except ValueError:
                        log.error("chunk %s has an unknown policy %r", ref.chunk_id, ref.policy)

        return chunks

    def _start(self, policy: str, backend: ErasureBackend) -> None:
        assert self._started is not None
        if policy in self._started:
            return
        self._started.add(policy)
        backend.start_background(
            _only(self._referenced, policy), repair_interval=self._repair_interval
        )

    def repair_stats(self) -> RepairStats:
        """Repair of every policy at once: counters added up, a pass counted once every policy
        finished one, running while any runs."""
        every = [self.repairer.stats, *(b.repairer.stats for b in self.erasure.values())]
        total = RepairStats()
        for f in fields(RepairStats):
            values = [getattr(st, f.name) for st in every]
            if f.name == "passes":
                setattr(total, f.name, min(values))
            elif f.name == "running":
                setattr(total, f.name, any(values))
            elif f.name == "last_pass_seconds":
                setattr(total, f.name, max(values))
            elif f.name == "lost":
                setattr(total, f.name, set().union(*values))
            else:
                setattr(total, f.name, sum(values))
        return total

    def erasure_read_stats(self) -> ReadStats:
        """What reads of erasure-coded chunks cost since start, every shape added up."""
        total = ReadStats()
        for backend in list(self.erasure.values()):
            total.add(backend.read_stats)
        return total

    async def drain(self, address: str, draining: bool = True) -> None:
        await super().drain(address, draining)
        for backend in self.erasure.values():
            (backend.cluster.draining.add if draining else backend.cluster.draining.discard)(
                address
            )

    async def idle(self) -> None:
        for backend in self.erasure.values():
            await backend.idle()
        await super().idle()

    async def close(self) -> None:
        for backend in list(self.erasure.values()):
            await backend.close()
        await super().close()


def _only(referenced: Referenced | None, policy: str) -> Referenced | None:
    """The referenced chunks whose recorded policy is ``policy``."""
    if referenced is None:
        return None
    source = referenced

    async def chunks() -> AsyncIterator[ChunkRefLike]:
        async for ref in source():
            if ref.policy == policy:
                yield ref

    return chunks
