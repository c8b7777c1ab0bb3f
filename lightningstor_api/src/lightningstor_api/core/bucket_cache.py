"""A per-server cache of bucket records, invalidated by a watch on the buckets prefix.

Every request looks its bucket up; without a cache that is one metadata read (a thread hop, or
an etcd round trip) per request. Staleness is safe by construction: every write compares the
bucket record's revision in its transaction, so a write that used a stale record fails its
compare, evicts the entry and retries on a fresh read. A stale entry can only delay, by the
watch's latency, what a *read* sees of another server's bucket change; a short TTL bounds that
even while the watch is broken.
"""

from __future__ import annotations

from lightningstor_api.core.watched_cache import WatchedCache
from lightningstor_api.metadata import MetadataStore

TTL_SECONDS = 5.0


class BucketCache(WatchedCache):
    """Bucket key → record (or its absence), fresh for at most TTL_SECONDS."""

    def __init__(self, store: MetadataStore, prefix: bytes) -> None:
        super().__init__(store, prefix, ttl=TTL_SECONDS, name="bucket-cache")
