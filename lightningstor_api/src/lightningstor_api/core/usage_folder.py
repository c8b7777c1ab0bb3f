"""Folding usage deltas into their base records, in the background on every server.

Every write adds a delta record in its own transaction (no shared counter, so no hot key); the
folder adds up to :data:`DELTAS_PER_TXN` deltas of one base record into it and deletes them,
in one transaction that compares the base record's and each delta's revision. Several servers
may fold at once: a loser's compare fails and it moves on; nothing is ever counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.core.usage import Counters
from lightningstor_api.metadata import Compare, Delete, KeyValue, MetadataStore, Op, Put
from lightningstor_api.tasks import cancel, log_failure
from lightningstor_types.spans import background

log = logging.getLogger(__name__)

DELTAS_PER_TXN = 100
"""Deltas folded per transaction: 101 compares and 101 operations, under etcd's 128 per txn."""
_PAGE = 1000


class UsageFolder:
    """Keeps the number of pending usage deltas small."""

    def __init__(self, store: MetadataStore, keys: KeySchema, interval: float) -> None:
        self._store = store
        self._keys = keys
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Fold every delta present now; the number folded (deltas lost to a racing folder
        are left to it, or to the next pass)."""
        folded = 0
        pending: defaultdict[bytes, list[KeyValue]] = defaultdict(list)
        start: bytes | None = None
        prefix = self._keys.usage_prefix()
        while True:
            page = await self._store.range(prefix, start=start, limit=_PAGE)
            for kv in page.kvs:
                parsed = self._keys.parse_usage(kv.key)
                if parsed is not None and parsed.is_delta:
                    group = pending[parsed.base]
                    group.append(kv)
                    if len(group) >= DELTAS_PER_TXN:
                        folded += await self._fold(parsed.base, group)
                        group.clear()
            if not page.more or not page.kvs:
                break
            start = page.kvs[-1].key + b"\x00"
        for base, group in pending.items():
            if group:
                folded += await self._fold(base, group)
        return folded

    async def _fold(self, base: bytes, deltas: list[KeyValue]) -> int:
        kv = await self._store.get(base)
        total = Counters()
        if kv is not None:
            total.add(records_pb2.UsageRecord.FromString(kv.value))
        compares = [Compare.mod_revision(base, kv.mod_revision if kv else 0)]
        ops: list[Op] = []
        for d in deltas:
            total.add(records_pb2.UsageRecord.FromString(d.value))
            compares.append(Compare.mod_revision(d.key, d.mod_revision))
            ops.append(Delete(d.key))
        ops.append(Put(base, total.record().SerializeToString()))
        result = await self._store.txn(compares, ops)
        return len(deltas) if result.succeeded else 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="usage-folder")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel(task)

    async def _loop(self) -> None:
        while True:
            # Jitter, so that servers started together do not fold in lockstep.
            await asyncio.sleep(self._interval * random.uniform(0.75, 1.25))
            try:
                with background("usage.fold"):
                    await self.run_once()
            except Exception:
                log_failure(log, "usage folding failed; retried next pass")
