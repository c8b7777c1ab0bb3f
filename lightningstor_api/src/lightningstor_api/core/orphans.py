"""Which stored chunks nothing names: one rule for the GC orphan sweep and the consistency check.

A chunk is *referenced* when a data record (``chunks`` content) or a GC journal entry (being
deleted) names it. The walk reads the data records first, then the journal: a record released
meanwhile moves from the first to the second, so it is seen in one of them. The backend is listed
after the walk, so a chunk written and committed since is young and falls inside the grace
period; a stored chunk older than the grace period that the walk did not see is an *orphan*
(what a PUT wrote before a crash or a lost commit). The grace period must therefore exceed the
longest single upload (``storage.gc_grace_seconds``).

Memory: the referenced ids are held as 16-byte keys in one set, about 100 bytes per referenced
chunk (a million chunks of 8 MiB, 8 TiB of data, is about 100 MB); the listing streams.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.context import CoreContext
from lightningstor_api.metadata import KeyValue, MetadataStore, prefix_end
from lightningstor_storage import ChunkStat

_PAGE = 256
_SPLIT_AFTER = 16
"""Full pages a window gives before it is walked as its sub-windows (see :func:`scan_prefix`)."""


def id_key(chunk_id: str) -> bytes:
    """A chunk id as a compact set key (16 bytes for a well-formed id)."""
    try:
        return bytes.fromhex(chunk_id)
    except ValueError:
        return chunk_id.encode()


async def scan_prefix(
    cc: CoreContext, prefix: bytes, *, page: int = _PAGE, split_after: int = _SPLIT_AFTER
) -> AsyncIterator[KeyValue]:
    """Every key-value under ``prefix``, in key order, a page at a time.

    A window (at first ``prefix`` itself) that has given ``split_after`` full pages is walked
    on as its sub-windows (one more byte of key each), from where it stood: etcd counts a
    range to its end on every page it answers (etcd-io/etcd#11057), so paging straight through
    N keys cost it N²/page index steps (850 s of etcd's CPU for one orphan sweep of 1,000,000
    data records), and a sub-window's page costs only that sub-window's keys. Every key is
    still read once, in order: a key of the window past the last one read has one more byte
    there, which names its sub-window, and after each sub-window a one-key probe from the end
    of it finds the next key of the window, if any.
    """
    async for kv in walk(cc.store, prefix, page=page, split_after=split_after):
        yield kv


def walk(
    store: MetadataStore, prefix: bytes, *, page: int = _PAGE, split_after: int = _SPLIT_AFTER
) -> AsyncIterator[KeyValue]:
    """:func:`scan_prefix` over a store."""
    return _walk(store, prefix, None, page, split_after)


async def _walk(
    store: MetadataStore, window: bytes, start: bytes | None, page: int, split_after: int
) -> AsyncIterator[KeyValue]:
    """The keys starting with ``window`` from ``start`` on (see :func:`scan_prefix`)."""
    for _ in range(split_after):
        got = await store.range(window, start=start, limit=page)
        for kv in got.kvs:
            yield kv
        if not got.more or not got.kvs:
            return
        start = got.kvs[-1].key + b"\x00"
    # The rest of the window, one sub-window at a time; a probe of one key after each finds
    # the next that holds any (so empty ones cost nothing).
    depth = len(window)
    following: bytes | None = start  # past a key that starts with window: it has one more byte
    while following is not None:
        sub = window + following[depth : depth + 1]
        async for kv in _walk(store, sub, following, page, split_after):
            yield kv
        probe = await store.range(window, start=prefix_end(sub), limit=1)
        following = probe.kvs[0].key if probe.kvs else None


@dataclass(slots=True)
class References:
    """The chunk ids metadata names, and how many came from where."""

    ids: set[bytes] = field(default_factory=set)
    data_records: int = 0
    journal_chunks: int = 0

    def __contains__(self, chunk_id: str) -> bool:
        return id_key(chunk_id) in self.ids


async def referenced(cc: CoreContext) -> References:
    """Every chunk a data record or a journal entry names (data records first, see above)."""
    refs = References()
    async for kv in scan_prefix(cc, cc.keys.data_prefix()):
        refs.data_records += 1
        for chunk in records_pb2.DataRecord.FromString(kv.value).chunks.chunks:
            refs.ids.add(id_key(chunk.chunk_id))
    async for kv in scan_prefix(cc, cc.keys.gc_prefix()):
        for chunk in records_pb2.GcRecord.FromString(kv.value).data.chunks.chunks:
            refs.journal_chunks += 1
            refs.ids.add(id_key(chunk.chunk_id))
    return refs


async def unreferenced(cc: CoreContext, refs: References) -> AsyncIterator[ChunkStat]:
    """The stored chunks that ``refs`` does not name, streamed from the backend's listing.

    The grace cutoff must be taken *before* :func:`referenced` walked the metadata: a chunk
    older than that, committed after the walk passed its record, took longer than the grace.
    """
    async for stat in cc.storage.list_chunks():
        if stat.chunk_id not in refs:
            yield stat
