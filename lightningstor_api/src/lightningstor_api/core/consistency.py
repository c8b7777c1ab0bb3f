"""The consistency check: metadata against itself and against chunk storage, as a dry run or
with repair.

Three walks, each streaming:

0. **Current copies** (:mod:`.current_copies`): every object's current copy against its newest
   version. With ``repair``, the copy is rewritten from the newest version (or deleted).
1. **Referenced chunks.** Every chunk a data record names (``lightningstor/data/…``: the records
   hold every chunk reference, whatever the objects' manifests look like) is checked by the
   backend (:meth:`~lightningstor_storage.StorageBackend.check_chunk`): present and, with
   ``verify``, read in full and compared with the size and CRC32C of its reference. The local
   backend reads its one copy; the replicated one checks every node as a scrub pass does. A chunk
   found bad whose data record has gone meanwhile (released, its chunks in the GC journal) is no
   finding. With ``repair``, the replicated backend restores missing and corrupt copies from a
   good one; a chunk with no good copy left cannot be repaired (its object is damaged).
2. **Orphans** (:mod:`.orphans`): stored chunks that no data record and no journal entry names.
   Those older than the grace period are findings (deleted with ``repair``); younger ones may
   belong to an upload in flight and are only counted. Temporary chunk files a crash left
   (:mod:`.tempfiles`) older than the grace are counted too (deleted with ``repair``).

Findings are yielded as they are found, at most ``max_findings`` of them; the summary (last)
counts every one. Nothing else is held per chunk but the set of referenced ids of walk 2.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import admin_pb2 as pb
from lightningstor_api.core import current_copies, orphans, tempfiles
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.convert import timestamp_of
from lightningstor_api.encryption.chunks import stored_ref
from lightningstor_storage import ChunkCheck

log = logging.getLogger(__name__)

CONCURRENCY = 8
"""Referenced chunks checked at once."""
DEFAULT_MAX_FINDINGS = 1000

_KIND = {
    "missing": pb.FINDING_KIND_MISSING,
    "corrupt": pb.FINDING_KIND_CORRUPT,
    "under_replicated": pb.FINDING_KIND_UNDER_REPLICATED,
    "unknown": pb.FINDING_KIND_UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class _Ref:
    data_id: str
    chunk: records_pb2.ChunkRef


class ConsistencyCheck:
    """One run of the check; :meth:`run` yields the findings, then the summary."""

    def __init__(
        self,
        cc: CoreContext,
        *,
        repair: bool,
        grace_seconds: float,
        verify: bool = True,
        max_findings: int = DEFAULT_MAX_FINDINGS,
    ) -> None:
        self._cc = cc
        self._repair = repair
        self._verify = verify
        self._max_findings = max_findings
        self.summary = pb.ConsistencySummary(repair=repair, grace_seconds=grace_seconds)
        self._streamed = 0

    async def run(self) -> AsyncIterator[pb.CheckConsistencyResponse]:
        s = self.summary
        started = time.time()
        s.started_at.CopyFrom(timestamp_of(started))
        async for finding in self._current_copies():
            if self._emit():
                yield pb.CheckConsistencyResponse(finding=finding)
        async for finding in self._referenced():
            if self._emit():
                yield pb.CheckConsistencyResponse(finding=finding)
        async for finding in self._orphans():
            if self._emit():
                yield pb.CheckConsistencyResponse(finding=finding)
        await self._temp_files()
        s.finished_at.CopyFrom(timestamp_of(time.time()))
        s.consistent = not (
            s.current_copy_mismatches
            or s.missing
            or s.corrupt
            or s.under_replicated
            or s.unknown
            or s.orphans
            or s.temp_files
        )
        log.info(
            "consistency check%s: %d object keys, %d current copies wrong (%d repaired), "
            "%d chunks referenced, %d missing, %d corrupt, "
            "%d under-replicated, %d unknown, %d orphans (%d deleted), %d replicas restored",
            " with repair" if self._repair else "",
            s.object_keys,
            s.current_copy_mismatches,
            s.current_copies_repaired,
            s.referenced_chunks,
            s.missing,
            s.corrupt,
            s.under_replicated,
            s.unknown,
            s.orphans,
            s.orphans_deleted,
            s.replicas_restored,
        )
        yield pb.CheckConsistencyResponse(summary=s)

    def _emit(self) -> bool:
        if self._streamed < self._max_findings:
            self._streamed += 1
            return True
        self.summary.findings_omitted += 1
        return False

    # ---- walk 0: current copies against versions ----

    async def _current_copies(self) -> AsyncIterator[pb.ConsistencyFinding]:
        s = self.summary
        async for state in current_copies.walk(self._cc):
            s.object_keys += 1
            if not state.disagreement():
                continue
            state = await current_copies.read(self._cc, state.path)  # a write may have raced
            detail = state.disagreement()
            if not detail:
                continue
            s.current_copy_mismatches += 1
            action = ""
            if self._repair:
                action = await current_copies.repair(self._cc, state.path)
                if action:
                    s.current_copies_repaired += 1
                else:
                    action = "not repaired: the key kept changing"
                    s.remaining += 1
            else:
                s.remaining += 1
            yield pb.ConsistencyFinding(
                kind=pb.FINDING_KIND_CURRENT_COPY,
                object_path=state.path.decode(errors="replace"),
                action=action,
                detail=detail,
            )

    # ---- walk 1: every referenced chunk ----

    async def _referenced(self) -> AsyncIterator[pb.ConsistencyFinding]:
        batch: list[_Ref] = []
        async for kv in orphans.scan_prefix(self._cc, self._cc.keys.data_prefix()):
            rec = records_pb2.DataRecord.FromString(kv.value)
            self.summary.data_records += 1
            for chunk in rec.chunks.chunks:
                batch.append(_Ref(rec.data_id, chunk))
                if len(batch) >= CONCURRENCY:
                    for finding in await self._check_batch(batch):
                        yield finding
                    batch = []
        for finding in await self._check_batch(batch):
            yield finding

    async def _check_batch(self, batch: Sequence[_Ref]) -> list[pb.ConsistencyFinding]:
        results = await asyncio.gather(*(self._check_one(r) for r in batch))
        return [f for f in results if f is not None]

    async def _check_one(self, ref: _Ref) -> pb.ConsistencyFinding | None:
        s = self.summary
        chunk = stored_ref(ref.chunk)  # a sealed chunk is checked at its stored size
        s.referenced_chunks += 1
        s.referenced_bytes += chunk.size
        try:
            found = await self._cc.storage.check_chunk(
                chunk.chunk_id,
                chunk.size,
                chunk.crc32c,
                replicas=tuple(chunk.replicas),
                policy=chunk.policy,
                verify=self._verify,
                repair=self._repair,
            )
        except Exception as exc:  # a backend error leaves this chunk's state open
            log.warning("consistency: cannot check chunk %s: %s", chunk.chunk_id, exc)
            found = ChunkCheck("unknown", detail=str(exc))
        if found.state == "good":
            return None
        if await self._cc.store.get(self._cc.keys.data(ref.data_id)) is None:
            return None  # released while we looked: the journal owns its chunks now
        setattr(s, found.state, getattr(s, found.state) + 1)  # the summary's counter of a state
        s.replicas_restored += found.restored
        action = ""
        if self._repair:
            fixed = found.state == "under_replicated" and found.restored >= found.bad_copies
            action = f"restored {found.restored} copies" if found.restored else "not repaired"
            if not fixed:
                s.remaining += 1
        else:
            s.remaining += 1
        return pb.ConsistencyFinding(
            kind=_KIND[found.state],
            chunk_id=chunk.chunk_id,
            data_id=ref.data_id,
            size=chunk.size,
            action=action,
            detail=found.detail,
        )

    # ---- walk 2: stored chunks nothing names ----

    async def _orphans(self) -> AsyncIterator[pb.ConsistencyFinding]:
        s = self.summary
        cutoff = time.time() - s.grace_seconds  # before the walk: see core/orphans.py
        refs = await orphans.referenced(self._cc)
        s.journal_chunks = refs.journal_chunks
        async for stat in self._cc.storage.list_chunks():
            s.stored_chunks += 1
            if stat.chunk_id in refs:
                continue
            if stat.mtime >= cutoff:
                s.unreferenced_in_grace += 1
                continue
            s.orphans += 1
            s.orphan_bytes += stat.size
            action = ""
            if self._repair:
                action = await self._delete(stat.chunk_id)
            else:
                s.remaining += 1
            yield pb.ConsistencyFinding(
                kind=pb.FINDING_KIND_ORPHAN,
                chunk_id=stat.chunk_id,
                size=stat.size,
                mtime=timestamp_of(stat.mtime),
                action=action,
            )

    async def _temp_files(self) -> None:
        s = self.summary
        s.temp_files, s.temp_bytes = await tempfiles.count(self._cc.storage, s.grace_seconds)
        if s.temp_files and self._repair:
            s.temp_files_deleted = await tempfiles.sweep(self._cc.storage, s.grace_seconds)
        s.remaining += max(0, s.temp_files - s.temp_files_deleted)

    async def _delete(self, chunk_id: str) -> str:
        try:
            await self._cc.storage.delete_chunk(chunk_id)
        except Exception as exc:
            log.warning("consistency: cannot delete orphan chunk %s: %s", chunk_id, exc)
            self.summary.remaining += 1
            return f"not deleted: {exc}"
        self.summary.orphans_deleted += 1
        return "deleted"
