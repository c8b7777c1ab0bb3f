"""Where a chunk lives: weighted rendezvous (HRW) hashing over the node list.

Every node scores every chunk with ``weight / -ln(u)``, ``u`` a uniform number in (0, 1) hashed
from (node address, chunk id); the chunk's preference order is the nodes by falling score. A node
then receives a share of first places proportional to its weight, and adding or removing a node
only moves the chunks that it wins or held: adding one node to four moves a fifth of placements.

Strategies:

- ``consistent_hash``: the preference order as it is.
- ``zone_aware``: the same order, regrouped in rounds that take each zone once (in the order
  its best node appears), so the first replicas land in distinct zones whenever there are enough.
- ``random``: a fresh weighted random order at each call; nothing can recompute it, so reads
  rely on the recorded replicas (and fall back to every node) and repair keeps where chunks are.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Node", "Placement", "Strategy", "hrw_order", "zone_rounds"]

Strategy = Literal["consistent_hash", "zone_aware", "random"]
_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class Node:
    """A storage node as placement sees it; its address is its identity."""

    address: str
    zone: str = ""
    weight: float = 1.0


def _score(node: Node, chunk_id: str) -> float:
    digest = hashlib.blake2b(f"{node.address}\0{chunk_id}".encode(), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") + 0.5) / _SCALE  # in (0, 1), never 0 or 1
    return node.weight / -math.log(u)


def hrw_order(chunk_id: str, nodes: Iterable[Node]) -> list[Node]:
    """The nodes by falling rendezvous score for ``chunk_id`` (ties: by address)."""
    return sorted(nodes, key=lambda n: (-_score(n, chunk_id), n.address))


def zone_rounds(order: Sequence[Node]) -> list[Node]:
    """``order`` regrouped so that each round takes every zone once, keeping the order within."""
    rest = list(order)
    out: list[Node] = []
    while rest:
        seen: set[str] = set()
        later: list[Node] = []
        for node in rest:
            if node.zone in seen:
                later.append(node)
            else:
                seen.add(node.zone)
                out.append(node)
        rest = later
    return out


def _weighted_shuffle(nodes: Sequence[Node]) -> list[Node]:
    # Efraimidis-Spirakis: sorting by u ** (1 / weight) draws without replacement by weight.
    return sorted(nodes, key=lambda n: -(random.random() ** (1.0 / n.weight)))


class Placement:
    """The preference order of each chunk over a fixed node list, and its replica targets."""

    def __init__(self, nodes: Sequence[Node], replication_factor: int, strategy: Strategy) -> None:
        if not nodes:
            raise ValueError("placement needs at least one node")
        if len({n.address for n in nodes}) != len(nodes):
            raise ValueError("node addresses must be distinct")
        self.nodes = tuple(nodes)
        self.replication_factor = replication_factor
        self.strategy = strategy

    @property
    def deterministic(self) -> bool:
        """Whether a chunk's order can be recomputed (every strategy but random)."""
        return self.strategy != "random"

    def order(self, chunk_id: str, nodes: Sequence[Node] | None = None) -> list[Node]:
        """Every node (or those of ``nodes``), most preferred first."""
        pool = self.nodes if nodes is None else nodes
        if self.strategy == "random":
            return _weighted_shuffle(pool)
        ranked = hrw_order(chunk_id, pool)
        return zone_rounds(ranked) if self.strategy == "zone_aware" else ranked

    def targets(
        self,
        chunk_id: str,
        usable: Callable[[Node], bool] = lambda _: True,
        *,
        keep: Collection[str] = (),
    ) -> list[Node]:
        """The (up to) replication_factor nodes that should hold ``chunk_id``, among ``usable``.

        Zones are spread over the usable nodes, so a lost zone's share moves to the best node of
        a zone not yet used. ``keep`` names nodes holding the chunk: under ``random`` they stay
        targets (nothing else says where the chunk belongs); the other strategies ignore it.
        """
        pool = [n for n in self.nodes if usable(n)]
        ordered = self.order(chunk_id, pool)
        if self.strategy == "random" and keep:
            ordered.sort(key=lambda n: n.address not in keep)  # stable: holders first
        return ordered[: self.replication_factor]
