"""Deletes a storage node missed while it was down, done when it answers again.

The memory is per server process and bounded (:data:`MAX_PENDING`); what it loses, to a restart
or to the bound, the core's orphan sweep removes: an unreferenced chunk, listed on the node once
it is back, older than the grace period.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from lightningstor_storage.backend import StorageError
from lightningstor_storage.replicated.client import NodeClient, NodeError
from lightningstor_storage.replicated.cluster import Cluster

__all__ = ["MAX_PENDING", "MissedDeletes"]

log = logging.getLogger(__name__)

MAX_PENDING = 100_000
"""Deletes remembered per node."""


class MissedDeletes:
    """Chunk ids to delete per node, once the node answers."""

    def __init__(self, cluster: Cluster, addresses: Iterable[str]) -> None:
        self._cluster = cluster
        self._pending: dict[str, set[str]] = {a: set() for a in addresses}
        self._overflowed: set[str] = set()

    def remember(self, address: str, chunk_id: str) -> None:
        pending = self._pending[address]
        if len(pending) < MAX_PENDING:
            pending.add(chunk_id)
        elif len(pending) == MAX_PENDING:
            log.warning(
                "storage node %s: too many missed deletes; the sweep does the rest", address
            )

    def pending(self, address: str) -> frozenset[str]:
        return frozenset(self._pending[address])

    async def flush(self, address: str) -> int:
        """Do a node's missed deletes; stops at the first failure. Returns how many were done."""
        pending = self._pending[address]
        done = 0
        for chunk_id in list(pending):
            try:
                await self._cluster.call(address, partial(NodeClient.delete, chunk_id=chunk_id))
            except NodeError:
                break
            except StorageError:
                pass  # an answer about the chunk: nothing left to delete
            pending.discard(chunk_id)
            done += 1
        if done:
            self._overflowed.discard(address)
            log.info("storage node %s: %d missed deletes done", address, done)
        return done
