"""Requests and bytes in/out per org and project, counted in memory and written out as deltas.

Counting every request in the metadata store would cost a write per request; instead each
server adds them up per scope and writes one delta record per scope every
``usage.flush_interval_seconds`` and at graceful shutdown. A crash loses at most one interval.
"""

from __future__ import annotations

import asyncio
import logging

from lightningstor_api.core.ids import new_usage_delta_id
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.core.usage import Counters
from lightningstor_api.metadata import MetadataStore, Op, Put
from lightningstor_api.tasks import cancel, log_failure
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestRecord
from lightningstor_types.spans import background

log = logging.getLogger(__name__)

PUTS_PER_TXN = 100


class RequestMeter:
    """Per-scope request counters of one server."""

    def __init__(self, store: MetadataStore, keys: KeySchema, interval: float) -> None:
        self._store = store
        self._keys = keys
        self._interval = interval
        self._counts: dict[Scope, Counters] = {}
        self._task: asyncio.Task[None] | None = None

    def record(self, record: RequestRecord) -> None:
        """Count a finished request of an authenticated caller (others bill nobody)."""
        if record.scope is None:
            return
        c = self._counts.get(record.scope)
        if c is None:
            c = self._counts[record.scope] = Counters()
        c.requests += 1
        c.bytes_in += record.bytes_in
        c.bytes_out += record.bytes_out

    def throttled(self, scope: Scope) -> None:
        """Count a request of ``scope`` that a rate limit refused (the frontend records the
        request itself)."""
        c = self._counts.get(scope)
        if c is None:
            c = self._counts[scope] = Counters()
        c.throttled += 1

    async def flush(self) -> None:
        """Write the counts so far as delta records; on failure they are kept for next time."""
        counts, self._counts = self._counts, {}
        items = list(counts.items())
        for i in range(0, len(items), PUTS_PER_TXN):
            batch = items[i : i + PUTS_PER_TXN]
            ops: list[Op] = [
                Put(
                    self._keys.usage_delta(self._keys.usage(scope), new_usage_delta_id()),
                    c.record().SerializeToString(),
                )
                for scope, c in batch
            ]
            try:
                await self._store.txn([], ops)
            except Exception:
                for scope, c in items[i:]:
                    self._counts.setdefault(scope, Counters()).add(c)
                raise

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="request-meter")

    async def stop(self) -> None:
        """Stop the loop and write what is left (graceful shutdown)."""
        task, self._task = self._task, None
        await cancel(task)
        try:
            await self.flush()
        except Exception:
            log_failure(log, "request counts lost at shutdown")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                with background("usage.meter.flush"):
                    await self.flush()
            except Exception:
                log_failure(log, "writing request counts failed; retried next interval")
