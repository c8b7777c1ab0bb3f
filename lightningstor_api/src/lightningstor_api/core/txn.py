"""One metadata transaction with reference counting of data records.

Every change that adds or drops a reference to content (put, copy, complete, delete, abort)
goes through :class:`Txn`, so a data record's count and its garbage-collection journal entry
change in the same transaction as the records that reference it (docs/architecture.md §4, §5).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.ids import new_data_id, new_gc_entry_id, new_usage_delta_id
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.metadata import (
    Compare,
    Delete,
    DeletePrefix,
    KeyValue,
    MetadataStore,
    Op,
    Put,
    TxnResult,
)


class ConflictError(Exception):
    """A compare failed: somebody else changed what this transaction read. Retry."""


class Txn:
    """Collects compares and operations, resolving reference-count changes at commit."""

    def __init__(self, store: MetadataStore, keys: KeySchema) -> None:
        self._store = store
        self._keys = keys
        self.compares: list[Compare] = []
        self.ops: list[Op] = []
        self._deltas: defaultdict[str, int] = defaultdict(int)
        self._new_data: dict[str, records_pb2.DataRecord] = {}
        self._gc_reason = ""
        self.usage: defaultdict[bytes, list[int]] = defaultdict(lambda: [0, 0])
        """Usage key → [Δbytes, Δobjects]: written as one delta record each at commit."""

    # ---- plain operations ----
    def put(self, key: bytes, value: bytes) -> None:
        self.ops.append(Put(key, value))

    def delete(self, key: bytes) -> None:
        self.ops.append(Delete(key))

    def delete_prefix(self, prefix: bytes) -> None:
        self.ops.append(DeletePrefix(prefix))

    def expect(self, key: bytes, kv: KeyValue | None) -> None:
        """The transaction applies only if ``key`` is still as read (``None``: still absent)."""
        self.compares.append(Compare.mod_revision(key, kv.mod_revision if kv else 0))

    def expect_none_in(self, start: bytes, end: bytes) -> None:
        """The transaction applies only if no key lies in ``[start, end)``."""
        self.compares.append(Compare.none_in(start, end))

    def expect_exists(self, key: bytes) -> None:
        """The transaction applies only if ``key`` still exists."""
        self.compares.append(Compare.exists(key))

    # ---- references ----
    def create_data(self, record: records_pb2.DataRecord) -> None:
        """Create a data record holding one reference (the caller's new version or part)."""
        self._new_data[record.data_id] = record
        self._deltas[record.data_id] += 1

    def acquire(self, data_id: str) -> None:
        """Add one reference to an existing data record."""
        if data_id:
            self._deltas[data_id] += 1

    def release(self, data_id: str, reason: str) -> None:
        """Drop one reference; the last one moves the record into the GC journal (an inline
        record is simply deleted)."""
        if data_id:
            self._deltas[data_id] -= 1
            self._gc_reason = self._gc_reason or reason

    def release_later(self, data_ids: Sequence[str], reason: str) -> None:
        """Drop one reference on each record through one GC journal entry listing them as
        children, which the collector releases a few per transaction: this transaction stays
        a handful of operations however many records (abort, unused parts of a complete)."""
        spans = [records_pb2.DataSpan(data_id=d) for d in data_ids if d]
        if spans:
            rec = records_pb2.DataRecord(
                data_id=new_data_id(), children=records_pb2.SpanList(spans=spans)
            )
            self.ops.extend(self._journal(rec, reason))

    def count(self, usage_key: bytes, size: int, objects: int) -> None:
        """Change a bucket's stored bytes and object count, in this very transaction (so the
        counters stay exact with the data; a delta record, never a shared counter)."""
        acc = self.usage[usage_key]
        acc[0] += size
        acc[1] += objects

    async def commit(self) -> TxnResult:
        """Apply everything atomically, or raise :class:`ConflictError`."""
        compares = list(self.compares)
        ops = list(self.ops)
        for usage_key, (size, objects) in self.usage.items():
            if size or objects:
                change = records_pb2.UsageRecord(bytes_stored=size, object_count=objects)
                key = self._keys.usage_delta(usage_key, new_usage_delta_id())
                ops.append(Put(key, change.SerializeToString()))
        for data_id, delta in self._deltas.items():
            new = self._new_data.get(data_id)
            if new is not None:
                rec = records_pb2.DataRecord()
                rec.CopyFrom(new)
                rec.refcount = delta
                key = self._keys.data(data_id)
                compares.append(Compare.absent(key))
                if delta > 0:
                    ops.append(Put(key, rec.SerializeToString()))
                else:
                    ops.extend(self._journal(rec))
                continue
            if delta == 0:
                continue
            key = self._keys.data(data_id)
            kv = await self._store.get(key)
            if kv is None:
                raise ConflictError(f"data record {data_id} vanished")
            rec = records_pb2.DataRecord.FromString(kv.value)
            compares.append(Compare.mod_revision(key, kv.mod_revision))
            rec.refcount += delta
            if rec.refcount > 0:
                ops.append(Put(key, rec.SerializeToString()))
            else:
                ops.append(Delete(key))
                ops.extend(self._journal(rec))
        result = await self._store.txn(compares, ops)
        if not result.succeeded:
            raise ConflictError("metadata changed concurrently")
        return result

    def _journal(self, rec: records_pb2.DataRecord, reason: str = "") -> Sequence[Op]:
        if rec.WhichOneof("content") == "inline":
            return []  # its bytes go with the record: nothing is left to collect
        rec.refcount = 0
        rec.ClearField("parts")  # the collector needs the spans, not a segment's summaries
        entry = records_pb2.GcRecord(data=rec, reason=reason or self._gc_reason)
        now = Timestamp()
        now.GetCurrentTime()
        entry.created_at.CopyFrom(now)
        return [Put(self._keys.gc_entry(new_gc_entry_id()), entry.SerializeToString())]
