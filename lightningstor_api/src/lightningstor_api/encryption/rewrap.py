"""Key rotation: every sealed chunk's data key wrapped again under another master key, in the
metadata records that name it; the sealed chunks themselves are never read nor written.

A chunk reference (``ChunkRef.cipher``) is held by its data record and copied into the read
manifests of the versions, current copies and parts that read it, so each of those is
rewritten. The walk goes bucket by bucket: every version (and the data records under it: chunk
lists, multipart segments and parts, copied ranges), every current copy (in the transaction
of its newest version, with the very same bytes, as the consistency check expects), every part
of an upload in progress. Each record is read, changed in memory and written back only if it is
still as read (a compare on its revision; a record that changed meanwhile is read again), so
the rewrap runs beside live traffic. A reference already under the target key is left alone,
which makes a second run change nothing and an interrupted run resumable by running it again.
SSE-C references (``customer.CUSTOMER_KEY_ID``) are never touched: their key is the customer's.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.message import Message

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import admin_pb2 as pb
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.keys import split_versioned
from lightningstor_api.core.orphans import scan_prefix
from lightningstor_api.encryption.customer import CUSTOMER_KEY_ID
from lightningstor_api.encryption.keymaster import KeyManager, UnknownKeyError
from lightningstor_api.encryption.sealing import context_bytes
from lightningstor_api.metadata import Compare, KeyValue, Put
from lightningstor_types.scope import Scope

log = logging.getLogger(__name__)

RETRIES = 16
"""Times one record is read again after a concurrent write changed it."""

R = TypeVar("R", bound=Message)


@dataclass(slots=True)
class _Tally:
    """What one record's rewrite did (added to the totals once it is written)."""

    rewrapped: int = 0
    unchanged: int = 0
    customer: int = 0
    failed: int = 0
    changed: bool = False


class Rewrap:
    """One run: :meth:`run` yields the counts after each bucket, then the totals."""

    def __init__(self, cc: CoreContext, keys: KeyManager, *, to_key: str, from_key: str) -> None:
        self._cc = cc
        self._keys = keys
        self._to = to_key
        self._from = from_key
        self.totals = pb.RewrapKeysResponse(to_key=to_key)

    async def run(self, bucket: str = "") -> AsyncIterator[pb.RewrapKeysResponse]:
        async for kv in scan_prefix(self._cc, self._cc.keys.all_buckets_prefix()):
            rec = records_pb2.BucketRecord.FromString(kv.value)
            if bucket and rec.name != bucket:
                continue
            await self._bucket(Scope(rec.org_id, rec.project_id or None), rec.name)
            self.totals.buckets += 1
            progress = pb.RewrapKeysResponse()
            progress.CopyFrom(self.totals)
            progress.bucket = f"{rec.org_id}/{rec.project_id or '_'}/{rec.name}"
            yield progress
        self.totals.done = True
        yield self.totals

    async def _bucket(self, scope: Scope, name: str) -> None:
        keys = self._cc.keys
        prefix = keys.versions_prefix(scope, name)
        last = None
        async for kv in scan_prefix(self._cc, prefix):
            key, _ = split_versioned(kv.key, prefix)
            # Versions sort newest first: the first of a key is the one its current copy
            # must equal byte for byte (the consistency check compares them), so both are
            # written together with the same new wrapping.
            twin = keys.object(scope, name, key) if key != last else None
            last = key
            version = await self._rewrite(kv, records_pb2.ObjectRecord, self._object, twin)
            if version is not None:
                await self._data_tree(version.data_id, context_bytes(version.kms_context))
        async for kv in scan_prefix(self._cc, keys.objects_prefix(scope, name)):
            await self._rewrite(kv, records_pb2.ObjectRecord, self._object)  # any left over
        async for kv in scan_prefix(self._cc, keys.uploads_prefix(scope, name)):
            upload = records_pb2.UploadRecord.FromString(kv.value)
            context = context_bytes(upload.kms_context)

            async def part_change(rec: records_pb2.PartRecord, tally: _Tally) -> None:
                for s in rec.manifest:
                    await self._chunk(s.chunk, tally, context)  # noqa: B023 - awaited here

            async for part_kv in scan_prefix(self._cc, keys.parts_prefix(upload.upload_id)):
                part = await self._rewrite(part_kv, records_pb2.PartRecord, part_change)
                if part is not None:
                    await self._data_tree(part.data_id, context)
        log.info("rewrap: bucket %s/%s done, %s", scope, name, self.summary())

    async def _data_tree(self, data_id: str, context: bytes) -> None:
        """The data record and every record under it (segments, parts, copied ranges), whose
        data keys are bound to ``context`` (the SSE-KMS encryption context of the version or
        upload that owns them: a copy under a context never shares chunks)."""

        async def change(rec: records_pb2.DataRecord, tally: _Tally) -> None:
            for chunk in rec.chunks.chunks:
                await self._chunk(chunk, tally, context)

        pending = [data_id] if data_id else []
        while pending:
            kv = await self._cc.store.get(self._cc.keys.data(pending.pop()))
            if kv is None:
                continue  # released meanwhile: the GC journal owns its chunks now
            rec = await self._rewrite(kv, records_pb2.DataRecord, change)
            if rec is None:
                continue
            content = rec.WhichOneof("content")
            if content == "children":
                pending.extend(span.data_id for span in rec.children.spans)
            elif content == "slice":
                pending.append(rec.slice.data_id)

    async def _rewrite(
        self,
        kv: KeyValue,
        kind: type[R],
        change: Callable[[R, _Tally], Awaitable[None]],
        twin: bytes | None = None,
    ) -> R | None:
        """``change`` applied to the record at ``kv`` and written back if it is still as read;
        the record as it stands after, or None when it is gone. ``twin``: a key that, when it
        holds the same record (a current copy of this version), gets the same new value in
        the same transaction."""
        self.totals.records += 1
        for _ in range(RETRIES):
            rec = kind.FromString(kv.value)
            tally = _Tally()
            await change(rec, tally)
            if not tally.changed:
                self._add(tally)
                return rec
            value = rec.SerializeToString()
            compares = [Compare.mod_revision(kv.key, kv.mod_revision)]
            puts = [Put(kv.key, value)]
            copy = await self._cc.store.get(twin) if twin is not None else None
            if copy is not None and kind.FromString(copy.value) == kind.FromString(kv.value):
                compares.append(Compare.mod_revision(copy.key, copy.mod_revision))
                puts.append(Put(copy.key, value))
            done = await self._cc.store.txn(compares, puts)
            if done.succeeded:
                self.totals.records_updated += len(puts)
                for _ in puts:
                    self._add(tally)
                return rec
            again = await self._cc.store.get(kv.key)  # changed meanwhile: read it again
            if again is None:
                return None
            kv = again
        raise RuntimeError(f"rewrap: {kv.key!r} kept changing; run the rewrap again")

    async def _object(self, rec: records_pb2.ObjectRecord, tally: _Tally) -> None:
        context = context_bytes(rec.kms_context)
        for s in rec.manifest:
            await self._chunk(s.chunk, tally, context)
        if rec.kms_key_id and self._selected(rec.kms_key_id) and not tally.failed:
            rec.kms_key_id = self._to  # SSE-KMS reports the key its data keys are under
            tally.changed = True

    def _selected(self, key_id: str) -> bool:
        return key_id != self._to and (not self._from or key_id == self._from)

    async def _chunk(self, chunk: records_pb2.ChunkRef, tally: _Tally, context: bytes) -> None:
        if not chunk.HasField("cipher"):
            return
        c = chunk.cipher
        if c.key_id == CUSTOMER_KEY_ID:
            tally.customer += 1
            return
        if not self._selected(c.key_id):
            tally.unchanged += 1
            return
        try:
            data_key = await self._keys.unwrap(c.key_id, c.wrapped_key, context)
        except UnknownKeyError as exc:
            log.warning("rewrap: chunk %s left as it is: %s", chunk.chunk_id, exc)
            tally.failed += 1
            return
        c.wrapped_key = await self._keys.wrap(self._to, data_key, context)
        c.key_id = self._to
        tally.rewrapped += 1
        tally.changed = True

    def _add(self, tally: _Tally) -> None:
        t = self.totals
        t.chunks_rewrapped += tally.rewrapped
        t.chunks_unchanged += tally.unchanged
        t.chunks_customer += tally.customer
        t.chunks_failed += tally.failed

    def summary(self) -> str:
        t = self.totals
        return (
            f"{t.records} records read, {t.records_updated} written, {t.chunks_rewrapped} data "
            f"keys rewrapped to {t.to_key!r}, {t.chunks_unchanged} unchanged, "
            f"{t.chunks_customer} SSE-C, {t.chunks_failed} failed"
        )
