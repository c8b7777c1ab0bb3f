"""The chunks of every node, merged: each chunk once, in id order.

Each node lists its chunks in id order, so a k-way merge (a heap of each node's next chunk)
streams the union without holding it. A chunk on several nodes is reported once, with the newest
modification time of its copies (the orphan sweep's grace period counts from the latest write).
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from lightningstor_storage.backend import ChunkStat, StorageUnavailable
from lightningstor_storage.replicated.client import NodeError
from lightningstor_storage.replicated.cluster import Cluster

__all__ = ["merged_listing"]

log = logging.getLogger(__name__)

_Head = tuple[str, int, ChunkStat]


async def merged_listing(cluster: Cluster) -> AsyncIterator[ChunkStat]:
    """Every chunk of the nodes that are up; a node that fails midway is left out from there.

    StorageUnavailable if no node answers.
    """
    order = [a for a in cluster.nodes if cluster.health.is_up(a)]
    streams = [cluster.clients[a].list() for a in order]
    heads: list[_Head] = []
    try:
        answered = 0
        for i in range(len(order)):
            answered += await _push_next(cluster, heads, i, order[i], streams[i])
        if not answered:
            raise StorageUnavailable("no storage node answers the listing")
        while heads:
            chunk_id, i, newest = heapq.heappop(heads)
            await _push_next(cluster, heads, i, order[i], streams[i])
            while heads and heads[0][0] == chunk_id:
                _, j, other = heapq.heappop(heads)
                if other.mtime > newest.mtime:
                    newest = other
                await _push_next(cluster, heads, j, order[j], streams[j])
            yield newest
    finally:
        for stream in streams:
            await stream.aclose()


async def _push_next(
    cluster: Cluster,
    heads: list[_Head],
    i: int,
    address: str,
    stream: AsyncGenerator[ChunkStat, None],
) -> bool:
    """Push a node's next chunk; False when its listing failed (True when it ended)."""
    try:
        stat = await anext(stream)
    except StopAsyncIteration:
        cluster.answered(address)
        return True
    except NodeError as exc:
        cluster.failed(address, exc)
        log.warning("listing of storage node %s failed: %s", address, exc)
        return False
    heapq.heappush(heads, (stat.chunk_id, i, stat))
    return True
