"""A per-server cache of the records under one key prefix, invalidated by a watch on it.

Entries are evicted on every watch event under the prefix and expire after a TTL regardless,
which bounds staleness while the watch is broken; a broken watch empties the cache and is
re-established after a pause. Nothing is cached until :meth:`WatchedCache.start` runs the watch,
so a cache that is not started is a plain read-through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from lightningstor_api.metadata import KeyValue, MetadataStore
from lightningstor_api.tasks import cancel, log_failure

log = logging.getLogger(__name__)

MAX_ENTRIES = 100_000
RETRY_SECONDS = 1.0


class WatchedCache:
    """Key → record (or its absence) under ``prefix``, fresh for at most ``ttl`` seconds."""

    def __init__(self, store: MetadataStore, prefix: bytes, *, ttl: float, name: str) -> None:
        self._store = store
        self._prefix = prefix
        self._ttl = ttl
        self._name = name
        self._entries: dict[bytes, tuple[float, KeyValue | None]] = {}
        # Bumped by every watch event: a read that overlapped an event does not fill the cache
        # (it may have read the value from before the event).
        self._generation = 0
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: bytes) -> KeyValue | None:
        """The record at ``key``, from the cache when fresh."""
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now and self._task is not None:
            return hit[1]
        generation = self._generation
        kv = await self._store.get(key)
        if generation == self._generation and self._task is not None:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + self._ttl, kv)
        return kv

    def evict(self, key: bytes) -> None:
        """Forget ``key`` (this server changed it, or a transaction found it changed); reads
        already under way do not put the old value back."""
        self._generation += 1
        self._entries.pop(key, None)

    def start(self) -> None:
        """Begin watching; until then (and whenever the watch is down) nothing is cached.
        A TTL of 0 turns the cache off: it never starts."""
        if self._task is None and self._ttl > 0:
            self._task = asyncio.create_task(self._watch(), name=f"{self._name}-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._entries.clear()
        await cancel(task)

    def _on_event(self, key: bytes) -> None:
        self._generation += 1
        self._entries.pop(key, None)

    def _on_reset(self) -> None:
        self._generation += 1
        self._entries.clear()

    async def _watch(self) -> None:
        await watch_forever(self._store, self._prefix, self._on_event, self._on_reset, self._name)


async def watch_forever(
    store: MetadataStore,
    prefix: bytes,
    on_event: Callable[[bytes], None],
    on_reset: Callable[[], None],
    name: str,
) -> None:
    """Call ``on_event(key)`` for each change under ``prefix`` until cancelled; when the watch
    breaks (compaction, a lost connection), ``on_reset()`` (what changed meanwhile is unknown),
    then watch again after a pause."""
    while True:
        try:
            events = store.watch(prefix)
            try:
                async for event in events:
                    on_event(event.key)
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            raise
        except Exception:
            log_failure(log, "%s watch interrupted; restarting", name)
        on_reset()
        await asyncio.sleep(RETRY_SECONDS)
