"""``Compactor``: keeps etcd's history to the newest ``retained`` revisions.

etcd keeps every revision of every key until it is compacted: in its database (mmapped, so in
its RSS), in its in-memory key index, and a write's old value too. Nothing else of ours needs
more history than a watch that reopens after a failover, so the store compacts as its own
writes move the revision on: no timer, one comparison per write, at most one compaction in
flight. Once the history reaches ``2 * retained`` revisions, compact to ``revision - retained``:
so etcd holds between ``retained`` and ``2 * retained`` revisions, and compacts once every
``retained`` writes (each compaction walks etcd's whole key index, so not on every few writes).
"""

from __future__ import annotations

import asyncio
import logging

from aetcd import rpc  # type: ignore[import-untyped]

from lightningstor_api.metadata.etcd_conn import Connection
from lightningstor_api.metadata.store import MetadataError
from lightningstor_api.tasks import cancel

log = logging.getLogger(__name__)

# etcd's mvcc.ErrCompacted: another server (or etcd's own auto-compaction) got there first.
_ALREADY = "required revision has been compacted"


class Compactor:
    """Compacts etcd behind the revisions this store's writes see (``retained`` 0: never)."""

    def __init__(self, conn: Connection, retained: int) -> None:
        if retained < 0:
            raise ValueError("retained revisions must be >= 0")
        self._conn = conn
        self._retained = retained
        self._step = 2 * retained
        self.compacted = 0  # the revision this store last compacted to (or tried to)
        self._task: asyncio.Task[None] | None = None

    def observe(self, revision: int) -> None:
        """A write committed at ``revision``: compact in the background when it is time."""
        if not self._retained or revision - self.compacted < self._step:
            return
        if self._task is not None and not self._task.done():
            return
        # Moved on before the call: a failing etcd is asked again only after another step.
        self.compacted = revision - self._retained
        self._task = asyncio.get_running_loop().create_task(self._compact(self.compacted))

    async def wait(self) -> None:
        """Until the compaction in flight (if any) has ended."""
        if self._task is not None:
            await asyncio.wait([self._task])

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel(task)

    async def _compact(self, revision: int) -> None:
        request = rpc.CompactionRequest(revision=revision, physical=False)
        try:
            await self._conn.unary(lambda e: e.kv.Compact, request, idempotent=True)
        except MetadataError as exc:
            if _ALREADY not in str(exc):
                log.warning("etcd compaction to revision %d failed: %s", revision, exc)
