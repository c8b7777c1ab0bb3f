"""The data-record tree: content records built within etcd's request limit, and reads through it.

Every record a transaction writes stays bounded whatever the size of the object
(docs/metadata-capacity.md §4):

- a chunk list longer than ``segment_chunks`` becomes a root whose ``children`` are segment
  records of at most that many chunks (each segment holds one reference, from the root);
- a completed multipart upload is a root whose children are segments of at most
  ``segment_parts`` parts, each segment spanning its parts' data records (one reference on each)
  and holding their :class:`PartSummary` in the same order;
- an object or part record carries its flattened read manifest inline only up to
  ``inline_slices`` slices; above that readers walk the tree from its ``data_id``;
- a small PutObject body is the ``inline`` content of its data record itself (no chunk, and no
  manifest in the object record): readers reach it through the tree as well, and so does a
  ``slice`` record that UploadPartCopy made of it.

Data records never change except their reference count, so each server keeps the content of the
records it walked in a bounded LRU (:class:`DataCache`): a range GET of a large object reads the
root, the segments and the leaves it touches once, and only the chunks after that.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2
from lightningstor_api.core.convert import checksums_given, checksums_message
from lightningstor_api.core.datapath import Piece, WrittenData, manifest_of, slice_manifest
from lightningstor_api.core.ids import new_data_id
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.metadata import MetadataStore
from lightningstor_storage import ChunkNotFound
from lightningstor_types.checksums import ChecksumAlgorithm


@dataclass(frozen=True, slots=True)
class RecordBounds:
    """How much one record may hold (tests lower them to exercise the tree with little data)."""

    inline_slices: int = 256
    """Manifest slices kept inline in an object or part record (≈ 14 KB, 27 KB with replicas)."""
    segment_chunks: int = 500
    """Chunks per data record (≈ 50 KB with 3 replicas: 16 released by one GC transaction fit)."""
    segment_parts: int = 1000
    """Parts per segment of a completed upload (≈ 70 to 110 KB with the parts' checksums)."""


DATA_CACHE_BYTES = 16 * 1024 * 1024
"""Budget of a server's data-record cache, by encoded size: ~3,800 inline 4 KiB objects, or
~160 segment records of a large object's tree (an entry count bounded neither)."""


class DataCache:
    """data id → the content of its data record (immutable), least recently used out first."""

    def __init__(self, store: MetadataStore, keys: KeySchema, budget: int = DATA_CACHE_BYTES):
        self._store = store
        self._keys = keys
        self._entries: OrderedDict[str, tuple[records_pb2.DataRecord, int]] = OrderedDict()
        self._bytes = 0
        self._budget = budget

    async def load(self, data_id: str) -> records_pb2.DataRecord:
        """The record (its refcount may be stale); ChunkNotFound when it was released."""
        hit = self._entries.get(data_id)
        if hit is not None:
            self._entries.move_to_end(data_id)
            return hit[0]
        kv = await self._store.get(self._keys.data(data_id))
        if kv is None:
            raise ChunkNotFound(f"data record {data_id} is gone")
        rec = records_pb2.DataRecord.FromString(kv.value)
        size = len(kv.value)
        if data_id not in self._entries and size <= self._budget:
            self._entries[data_id] = (rec, size)
            self._bytes += size
            while self._bytes > self._budget:
                self._bytes -= self._entries.popitem(last=False)[1][1]
        return rec


# ---- building ----


def chunk_records(
    chunks: Sequence[records_pb2.ChunkRef], size: int, bounds: RecordBounds
) -> list[records_pb2.DataRecord]:
    """The data records of freshly written chunks, the one to reference first: a single
    ``chunks`` record, or a root over segments when the list is long."""
    if len(chunks) <= bounds.segment_chunks:
        return [
            records_pb2.DataRecord(
                data_id=new_data_id(), size=size, chunks=records_pb2.ChunkList(chunks=chunks)
            )
        ]
    segments = []
    for i in range(0, len(chunks), bounds.segment_chunks):
        part = chunks[i : i + bounds.segment_chunks]
        segments.append(
            records_pb2.DataRecord(
                data_id=new_data_id(),
                size=sum(c.size for c in part),
                chunks=records_pb2.ChunkList(chunks=part),
            )
        )
    return [_root(segments, size), *segments]


def content_records(data: WrittenData, bounds: RecordBounds) -> list[records_pb2.DataRecord]:
    """The data records of a freshly received body, the one to reference first: its inline
    record, its chunk records, or none for an empty body."""
    if data.inline is not None:
        return [records_pb2.DataRecord(data_id=new_data_id(), size=data.size, inline=data.inline)]
    return chunk_records(data.chunks, data.size, bounds) if data.chunks else []


def multipart_records(
    parts: Sequence[records_pb2.PartRecord],
    algorithm: ChecksumAlgorithm | None,
    bounds: RecordBounds,
) -> list[records_pb2.DataRecord]:
    """The root and segments of a completed upload over ``parts`` (in order); the summaries
    keep only the upload's own checksum (``algorithm``), the one a part read reports."""
    segments = []
    for i in range(0, len(parts), bounds.segment_parts):
        chosen = parts[i : i + bounds.segment_parts]
        seg = records_pb2.DataRecord(
            data_id=new_data_id(),
            size=sum(p.size for p in chosen),
            # A part with no bytes has no data record: an empty span keeps the alignment.
            children=records_pb2.SpanList(
                spans=[records_pb2.DataSpan(data_id=p.data_id, length=p.size) for p in chosen]
            ),
        )
        for p in chosen:
            summary = seg.parts.add(part_number=p.part_number, size=p.size)
            value = checksums_given(p.checksums).get(algorithm) if algorithm else None
            if algorithm is not None and value:
                summary.checksums.CopyFrom(checksums_message({algorithm: value}, p.checksums.type))
        segments.append(seg)
    root = _root(segments, sum(p.size for p in parts))
    root.parts_per_segment = bounds.segment_parts
    return [root, *segments]


def _root(segments: Sequence[records_pb2.DataRecord], size: int) -> records_pb2.DataRecord:
    spans = [records_pb2.DataSpan(data_id=s.data_id, length=s.size) for s in segments]
    return records_pb2.DataRecord(
        data_id=new_data_id(), size=size, children=records_pb2.SpanList(spans=spans)
    )


def inline_manifest(
    chunks: Sequence[records_pb2.ChunkRef], bounds: RecordBounds
) -> list[records_pb2.ChunkSlice]:
    """The manifest to store inline for these chunks: all of it, or nothing above the bound."""
    return manifest_of(chunks) if len(chunks) <= bounds.inline_slices else []


# ---- reading ----


async def object_slices(
    cache: DataCache,
    manifest: Sequence[records_pb2.ChunkSlice],
    data_id: str,
    first: int,
    last: int,
) -> AsyncGenerator[Piece]:
    """The pieces holding bytes ``[first, last]`` (inclusive) of a version or part: from its
    inline manifest when it has one, else through its data records."""
    if manifest or not data_id:
        for s in slice_manifest(manifest, first, last):
            yield s
        return
    async for piece in content_slices(cache, data_id, first, last):
        yield piece


async def content_slices(
    cache: DataCache, data_id: str, first: int, last: int
) -> AsyncGenerator[Piece]:
    """The pieces holding bytes ``[first, last]`` of a data record (chunk slices, or inline
    bytes), reading only the records of the tree that overlap them."""
    rec = await cache.load(data_id)
    kind = rec.WhichOneof("content")
    if kind == "inline":
        if first <= last:
            yield rec.inline[first : last + 1]
    elif kind == "chunks":
        for s in slice_manifest(manifest_of(rec.chunks.chunks), first, last):
            yield s
    elif kind == "slice":
        base = rec.slice.offset
        async for piece in content_slices(cache, rec.slice.data_id, base + first, base + last):
            yield piece
    elif kind == "children":
        pos = 0
        for span in rec.children.spans:
            start, end = pos, pos + span.length  # this child covers content [start, end)
            pos = end
            if end <= first or not span.data_id:
                continue
            if start > last:
                break
            lo = span.offset + max(first, start) - start
            hi = span.offset + min(last + 1, end) - start - 1
            async for piece in content_slices(cache, span.data_id, lo, hi):
                yield piece


async def collect_manifest(
    slices: AsyncGenerator[Piece], bounds: RecordBounds
) -> list[records_pb2.ChunkSlice]:
    """The slices as an inline manifest, or nothing once they exceed the bound or include
    inline content (which a manifest cannot name: readers walk the records instead)."""
    out: list[records_pb2.ChunkSlice] = []
    try:
        async for s in slices:
            if isinstance(s, bytes):
                return []
            out.append(s)
            if len(out) > bounds.inline_slices:
                return []
    finally:
        await slices.aclose()
    return out


@dataclass(frozen=True, slots=True)
class PartLocation:
    """Where part N of a multipart version lies, and its checksums."""

    first: int
    size: int
    checksums: common_pb2.Checksums


async def locate_part(cache: DataCache, rec: records_pb2.ObjectRecord, number: int) -> PartLocation:
    """Part ``number`` (1-based, within the version's part count) of a multipart version: reads
    the root and the one segment holding it (old records carry their part list inline)."""
    if rec.parts:
        first = sum(p.size for p in rec.parts[: number - 1])
        old = rec.parts[number - 1]
        return PartLocation(first, old.size, old.checksums)
    root = await cache.load(rec.data_id)
    per = root.parts_per_segment
    index, within = divmod(number - 1, per)
    spans = root.children.spans
    first = sum(s.length for s in spans[:index])
    seg = await cache.load(spans[index].data_id)
    first += sum(s.length for s in seg.children.spans[:within])
    summary = seg.parts[within]
    return PartLocation(first, summary.size, summary.checksums)
