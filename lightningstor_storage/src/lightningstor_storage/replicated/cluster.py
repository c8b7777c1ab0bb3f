"""``Cluster``: the storage nodes one server talks to, their clients, health and drain state.

Shared by the replicated backend (the data path) and the repairer (scrub and re-replication).
A node is *writable* when it is up and not draining: writes and repair targets use only those;
reads and repair sources use every node, down ones last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TypeVar

from lightningstor.storage.v1 import storage_pb2 as pb
from lightningstor_storage.backend import StorageError
from lightningstor_storage.replicated.client import NodeClient, NodeError
from lightningstor_storage.replicated.health import NodeHealth
from lightningstor_storage.replicated.placement import Node, Placement, Strategy
from lightningstor_types.config import ClientTlsSettings

__all__ = ["Cluster"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Cluster:
    """A fixed list of storage nodes with their placement, clients and health."""

    def __init__(
        self,
        nodes: Sequence[Node],
        *,
        replication_factor: int,
        write_quorum: int,
        strategy: Strategy = "consistent_hash",
        timeout: float = 30.0,
        backoff: float = 10.0,
        tls: ClientTlsSettings | None = None,
        draining: Collection[str] = (),
    ) -> None:
        if not 1 <= write_quorum <= replication_factor:
            raise ValueError("the write quorum must be between 1 and the replication factor")
        self.placement = Placement(nodes, replication_factor, strategy)
        self.nodes = {n.address: n for n in nodes}
        self.replication_factor = replication_factor
        self.write_quorum = write_quorum
        self.timeout = timeout
        self.health = NodeHealth(self.nodes, backoff)
        self.clients = {a: NodeClient(a, timeout=timeout, tls=tls) for a in self.nodes}
        self.configured_draining = frozenset(draining)
        self.draining: set[str] = set(draining)
        self.on_recovered: Callable[[str], None] | None = None
        """Called with a node's address when it answers again after failures."""

    # ---- choosing nodes ----

    def writable(self, node: Node) -> bool:
        """Up and not draining: may receive chunks."""
        return node.address not in self.draining and self.health.is_up(node.address)

    def write_targets(self, chunk_id: str) -> list[Node]:
        """The nodes a new chunk goes to: its first replication_factor writable nodes."""
        return self.placement.targets(chunk_id, self.writable)

    def read_order(self, chunk_id: str, hints: Sequence[str] = ()) -> list[str]:
        """Every node to try for a chunk: the hinted ones, then by preference; down ones last."""
        order = [a for a in dict.fromkeys(hints) if a in self.nodes]
        order += [n.address for n in self.placement.order(chunk_id) if n.address not in order]
        return self.health.up_first(order)

    # ---- calling nodes ----

    async def call(self, address: str, fn: Callable[[NodeClient], Awaitable[T]]) -> T:
        """``fn`` on the node's client, recording its health (an answer about a chunk is fine)."""
        try:
            result = await fn(self.clients[address])
        except NodeError as exc:
            self.failed(address, exc)
            raise
        except (StorageError, ValueError):
            self.answered(address)
            raise
        self.answered(address)
        return result

    def answered(self, address: str) -> None:
        if self.health.succeeded(address) and self.on_recovered is not None:
            self.on_recovered(address)

    def failed(self, address: str, error: BaseException) -> None:
        self.health.failed(address, error)

    async def refresh(self, deadline: float | None = None) -> dict[str, pb.NodeInfoResponse]:
        """Ask every node for its info (each within ``deadline`` seconds, default the request
        timeout): health, and drain state (the node's or configured)."""

        async def one(address: str) -> pb.NodeInfoResponse | None:
            try:
                return await self.call(address, lambda c: c.info(deadline))
            except StorageError:
                return None

        replies = await asyncio.gather(*(one(a) for a in self.nodes))
        infos = {a: r for a, r in zip(self.nodes, replies, strict=True) if r is not None}
        for address, info in infos.items():
            was = address in self.draining
            now = info.draining or address in self.configured_draining
            if now != was:
                log.warning("storage node %s %s", address, "drains" if now else "stopped draining")
                (self.draining.add if now else self.draining.discard)(address)
        return infos

    def writable_count(self) -> int:
        """Nodes that may receive chunks now: a write needs ``write_quorum`` of them."""
        return sum(1 for n in self.nodes.values() if self.writable(n))

    def down(self) -> list[str]:
        """The nodes in their back-off after a failure, sorted."""
        return sorted(a for a in self.nodes if not self.health.is_up(a))

    async def set_draining(self, address: str, draining: bool) -> None:
        """Tell a node to drain (or not); it remembers across restarts, every server learns it."""
        await self.call(address, lambda c: c.set_draining(draining))
        (self.draining.add if draining else self.draining.discard)(address)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients.values()))
