"""Garbage collection: released content, stale multipart uploads and orphan chunks.

- The journal (``gc/{time}-{id}``) holds each data record whose last reference was dropped,
  written by the very transaction that dropped it. :meth:`GarbageCollector.run_once` takes the
  entries oldest first: a ``chunks`` record's chunks are deleted from the backend (idempotent,
  so a crash in between only repeats deletes), then the entry; a ``children`` or ``slice``
  record releases one reference on each record it spans, a few per transaction that also
  rewrites the entry without them, so a crash or a second collector never releases twice.
  Records released in turn are journaled again and taken later in the same run.
- :meth:`~GarbageCollector.expire_uploads` aborts uploads older than the configured timeout,
  through the same transaction as AbortMultipartUpload.
- Each run also removes the temporary chunk files a crash left, older than the grace period
  (:mod:`.tempfiles`; local backend).
- :meth:`~GarbageCollector.sweep_orphans` deletes chunks older than a grace period that no data
  record and no journal entry names (:mod:`.orphans`): what a PUT or part upload wrote before a
  crash or a lost commit. The grace must exceed the longest single upload
  (``storage.gc_grace_seconds``).

Every step is a compare-guarded transaction, so several servers may collect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core import orphans, tempfiles
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.multipart import abort_upload
from lightningstor_api.core.txn import ConflictError, Txn
from lightningstor_api.core.versions import MAX_ATTEMPTS, backoff
from lightningstor_api.encryption.chunks import stored_ref
from lightningstor_api.metadata import Compare, Delete, KeyValue
from lightningstor_api.tasks import cancel, log_failure
from lightningstor_types.errors import NoSuchUpload
from lightningstor_types.spans import background

log = logging.getLogger(__name__)

SPANS_PER_TXN = 16
"""References released per transaction of a ``children`` entry (about 3 operations each)."""
SWEEP_EVERY = 10
"""The background loop sweeps orphan chunks once every this many passes (and on its first)."""
MAX_ENTRIES_PER_RUN = 100_000
"""Journal entries one :meth:`GarbageCollector.run_once` looks at, at most."""
_PAGE = 256


@dataclass(slots=True)
class GcStats:
    """What one pass over the journal did."""

    entries: int = 0
    """Journal entries finished (and deleted)."""
    references_released: int = 0
    chunks_deleted: int = 0
    bytes_freed: int = 0


@dataclass(frozen=True, slots=True)
class GcRun:
    """One :meth:`GarbageCollector.collect` of this server (what the admin GC status shows)."""

    finished_at: float
    stats: GcStats
    uploads_aborted: int
    error: str = ""
    """Empty when every step succeeded."""
    temp_files_removed: int = 0


class GarbageCollector:
    """Collects what the core released; ``start`` runs it in the background."""

    def __init__(self, cc: CoreContext) -> None:
        self._cc = cc
        self._task: asyncio.Task[None] | None = None
        self.last_run: GcRun | None = None

    # ---- the journal ----

    async def run_once(self) -> GcStats:
        """Process the journal, oldest entry first, until it is empty (or the run's cap)."""
        stats = GcStats()
        start: bytes | None = None
        seen = 0
        while seen < MAX_ENTRIES_PER_RUN:
            page = await self._cc.store.range(self._cc.keys.gc_prefix(), start=start, limit=_PAGE)
            if not page.kvs:
                break
            for kv in page.kvs:
                await self._process(kv, stats)
            seen += len(page.kvs)
            start = page.kvs[-1].key + b"\x00"
        if stats.entries:
            log.info(
                "gc: %d entries, %d references released, %d chunks (%d bytes) deleted",
                stats.entries,
                stats.references_released,
                stats.chunks_deleted,
                stats.bytes_freed,
            )
        return stats

    async def _process(self, kv: KeyValue, stats: GcStats) -> None:
        data = records_pb2.GcRecord.FromString(kv.value).data
        if data.WhichOneof("content") == "chunks":
            if not await self._delete_chunks(data.chunks.chunks, stats):
                return  # retried next run
            await self._cc.store.txn(
                [Compare.mod_revision(kv.key, kv.mod_revision)], [Delete(kv.key)]
            )
            stats.entries += 1
        elif await self._release_spans(kv, stats):
            stats.entries += 1

    async def _delete_chunks(self, chunks: Sequence[records_pb2.ChunkRef], stats: GcStats) -> bool:
        done = True
        for chunk in chunks:
            try:
                existed = await self._cc.storage.delete_chunk(chunk.chunk_id)
            except Exception:  # the backend may be down: keep the entry, retry next run
                log.warning("gc: cannot delete chunk %s", chunk.chunk_id, exc_info=True)
                done = False
                continue
            if existed:
                stats.chunks_deleted += 1
                stats.bytes_freed += chunk.size
        return done

    async def _release_spans(self, kv: KeyValue, stats: GcStats) -> bool:
        """Release the records an entry spans, a batch per transaction; True when finished."""
        conflicts = 0
        while True:
            entry = records_pb2.GcRecord.FromString(kv.value)
            spans = _spans(entry.data)
            batch, rest = spans[:SPANS_PER_TXN], spans[SPANS_PER_TXN:]
            txn = Txn(self._cc.store, self._cc.keys)
            txn.expect(kv.key, kv)
            for span in batch:
                txn.release(span.data_id, "parent released")
            value = b""
            if rest:
                del entry.data.children.spans[:]
                entry.data.children.spans.extend(rest)
                value = entry.SerializeToString()
                txn.put(kv.key, value)
            else:
                txn.delete(kv.key)
            try:
                result = await txn.commit()
            except ConflictError:
                conflicts += 1
                if conflicts >= MAX_ATTEMPTS:
                    log.error("gc: entry %r keeps conflicting; left for the next run", kv.key)
                    return False
                await backoff(conflicts)
                fresh = await self._cc.store.get(kv.key)
                if fresh is None:
                    return False  # another collector finished it
                kv = fresh
                continue
            stats.references_released += sum(1 for s in batch if s.data_id)
            if not rest:
                return True
            kv = KeyValue(kv.key, value, kv.create_revision, result.revision, kv.version + 1)

    # ---- stale uploads ----

    async def expire_uploads(self, older_than_seconds: float) -> int:
        """Abort every upload initiated more than ``older_than_seconds`` ago; returns how many."""
        cutoff = time.time() - older_than_seconds
        aborted = 0
        async for kv in self._scan(self._cc.keys.all_uploads_prefix()):
            rec = records_pb2.UploadRecord.FromString(kv.value)
            if rec.initiated.ToNanoseconds() / 1e9 >= cutoff:
                continue
            with contextlib.suppress(NoSuchUpload):  # completed or aborted meanwhile
                await abort_upload(self._cc, kv.key, rec.upload_id)
                aborted += 1
        if aborted:
            log.info("gc: %d expired multipart uploads aborted", aborted)
        return aborted

    # ---- orphan chunks ----

    async def sweep_orphans(self, grace_seconds: float) -> int:
        """Delete chunks older than ``grace_seconds`` that nothing names; returns how many."""
        cutoff = time.time() - grace_seconds  # before the walk: see core/orphans.py
        refs = await orphans.referenced(self._cc)
        deleted = 0
        async for stat in orphans.unreferenced(self._cc, refs):
            if stat.mtime >= cutoff:
                continue
            try:
                deleted += await self._cc.storage.delete_chunk(stat.chunk_id)
            except Exception:
                log.warning("gc: cannot delete orphan chunk %s", stat.chunk_id, exc_info=True)
        if deleted:
            log.info("gc: %d orphan chunks deleted", deleted)
        return deleted

    def _scan(self, prefix: bytes) -> AsyncIterator[KeyValue]:
        return orphans.scan_prefix(self._cc, prefix)

    async def referenced_chunks(self) -> AsyncIterator[records_pb2.ChunkRef]:
        """Every chunk a data record names (what replica repair keeps at its factor)."""
        async for kv in self._scan(self._cc.keys.data_prefix()):
            rec = records_pb2.DataRecord.FromString(kv.value)
            for chunk in rec.chunks.chunks:
                yield stored_ref(chunk)

    # ---- the background loop ----

    def start(self) -> None:
        """Collect every ``storage.gc_interval_seconds`` in a task of the running loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="lightningstor-gc")

    async def stop(self) -> None:
        """Cancel the background task and wait for it."""
        task, self._task = self._task, None
        await cancel(task)

    async def collect(self) -> GcRun:
        """The journal, expired uploads, leftover temporary files (each failing on its own);
        kept as ``last_run``."""
        stats, aborted, errors = GcStats(), 0, []
        try:
            stats = await self.run_once()
        except Exception as exc:  # the store may be down: report it, the next run retries
            log_failure(log, "gc: journal failed")
            errors.append(f"journal: {exc}")
        try:
            timeout = self._cc.settings.limits.multipart_upload_timeout_seconds
            aborted = await self.expire_uploads(timeout)
        except Exception as exc:
            log_failure(log, "gc: upload expiry failed")
            errors.append(f"upload expiry: {exc}")
        temp = 0
        try:
            grace = self._cc.settings.storage.gc_grace_seconds
            temp = await tempfiles.sweep(self._cc.storage, grace)
            if temp:
                log.info("gc: %d leftover temporary chunk files removed", temp)
        except Exception as exc:
            log_failure(log, "gc: temporary file sweep failed")
            errors.append(f"temporary files: {exc}")
        self.last_run = GcRun(time.time(), stats, aborted, "; ".join(errors), temp)
        return self.last_run

    async def _loop(self) -> None:
        settings = self._cc.settings
        passes = 0
        while True:
            with background("gc"):
                await self.collect()
                if passes % SWEEP_EVERY == 0:
                    try:
                        await self.sweep_orphans(settings.storage.gc_grace_seconds)
                    except Exception:  # one failing job must not stop collection
                        log_failure(log, "gc: orphan sweep failed")
            passes += 1
            await asyncio.sleep(settings.storage.gc_interval_seconds)


def _spans(data: records_pb2.DataRecord) -> list[records_pb2.DataSpan]:
    kind = data.WhichOneof("content")
    if kind == "children":
        return list(data.children.spans)
    if kind == "slice":
        return [data.slice]
    return []
