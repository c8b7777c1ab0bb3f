"""A per-server cache of bucket records, invalidated by a watch on the buckets prefix.

Every request looks its bucket up; without a cache that is one metadata read (a thread hop, or
an etcd round trip) per request. Staleness is safe by construction: every write compares the
bucket record's revision in its transaction, so a write that used a stale record fails its
compare, evicts the entry and retries on a fresh read. A stale entry can only delay, by the
watch's latency, what a *read* sees of another server's bucket change; a short TTL bounds that
even while the watch is broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from lightningstor_api.metadata import KeyValue, MetadataStore

log = logging.getLogger(__name__)

TTL_SECONDS = 5.0
MAX_ENTRIES = 100_000
RETRY_SECONDS = 1.0


class BucketCache:
    """Bucket key → record (or its absence), fresh for at most TTL_SECONDS."""

    def __init__(self, store: MetadataStore, prefix: bytes) -> None:
        self._store = store
        self._prefix = prefix
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
            self._entries[key] = (now + TTL_SECONDS, kv)
        return kv

    def evict(self, key: bytes) -> None:
        """Forget ``key`` (this server changed it, or a transaction found it changed); reads
        already under way do not put the old value back."""
        self._generation += 1
        self._entries.pop(key, None)

    def start(self) -> None:
        """Begin watching; until then (and whenever the watch is down) nothing is cached."""
        if self._task is None:
            self._task = asyncio.create_task(self._watch(), name="bucket-cache-watch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._entries.clear()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self) -> None:
        while True:
            try:
                events = self._store.watch(self._prefix)
                try:
                    async for event in events:
                        self._generation += 1
                        self._entries.pop(event.key, None)
                finally:
                    aclose = getattr(events, "aclose", None)
                    if aclose is not None:
                        await aclose()
            except asyncio.CancelledError:
                raise
            except Exception:  # compaction, a lost connection: start over from an empty cache
                log.warning("bucket cache watch interrupted; restarting", exc_info=True)
            self._generation += 1
            self._entries.clear()
            await asyncio.sleep(RETRY_SECONDS)
