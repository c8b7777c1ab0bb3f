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
from lightningstor_api.metadata import KeyValue
from lightningstor_storage import ChunkStat

_PAGE = 256


def id_key(chunk_id: str) -> bytes:
    """A chunk id as a compact set key (16 bytes for a well-formed id)."""
    try:
        return bytes.fromhex(chunk_id)
    except ValueError:
        return chunk_id.encode()


async def scan_prefix(cc: CoreContext, prefix: bytes) -> AsyncIterator[KeyValue]:
    """Every key-value under ``prefix``, a page at a time."""
    start: bytes | None = None
    while True:
        page = await cc.store.range(prefix, start=start, limit=_PAGE)
        for kv in page.kvs:
            yield kv
        if not page.more or not page.kvs:
            return
        start = page.kvs[-1].key + b"\x00"


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
