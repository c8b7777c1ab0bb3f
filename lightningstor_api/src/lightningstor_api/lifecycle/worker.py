"""The lifecycle worker: one server of a cluster applies every bucket's rules.

Each server runs a :class:`LifecycleWorker` in its primary process; only the one holding the
``lifecycle`` lease (:mod:`lightningstor_api.metadata.lease`) works. A pass walks the bucket
records in key order and, in each bucket with enabled rules, its incomplete uploads and then its
versions, a page (``lifecycle.page_size``) at a time: memory stays bounded whatever the bucket
holds. After each page the position (bucket, last key handled) is saved in the progress record
with a compare on the lease, so a new holder (after a crash or a takeover) resumes there.

The worker acts through the core's own delete paths (:func:`delete_key_or_version`,
:func:`abort_upload`), so versioning, delete markers, usage, quotas and whatever else guards a
user's delete apply; each action writes an audit line whose reason names the rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, lifecycle_pb2
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.keys import split_versioned
from lightningstor_api.core.multipart import abort_upload
from lightningstor_api.core.objects import delete_key_or_version
from lightningstor_api.iam.audit import record as audit
from lightningstor_api.lifecycle import evaluate
from lightningstor_api.lifecycle.evaluate import Act
from lightningstor_api.metadata import KeyValue, Put, range_pages
from lightningstor_api.metadata.lease import Lease
from lightningstor_api.metrics import METRICS
from lightningstor_api.tasks import cancel, log_failure
from lightningstor_types.actions import Action
from lightningstor_types.errors import LightningStorError, NoSuchBucket, NoSuchUpload
from lightningstor_types.resources import object_resource
from lightningstor_types.scope import Principal, Scope
from lightningstor_types.service import RequestContext
from lightningstor_types.spans import background

log = logging.getLogger(__name__)

LEASE_NAME = "lifecycle"
WORKER_PRINCIPAL = "lightningstor-lifecycle"
"""The principal id the worker's deletes carry (owner of the delete markers it writes)."""


ACTION_CONCURRENCY = 16
"""Deletes of one page in flight at once."""

_Action = tuple[str, str, Act, str, str]
"""(key, version id, act, rule id, ETag the current version must still have: "" for none)."""
"""(key, version id or "" for the current version, what, rule id)."""


class LeaseLostError(Exception):
    """The lease went to another server (or could not be renewed): stop acting now."""


@dataclass(slots=True)
class _KeyState:
    """What the walk knows of the key whose versions it is reading (newest first)."""

    key: str
    position: int = 0
    successor_modified: float = 0.0
    """Last-modified of the previous (newer) version: when this one became noncurrent."""
    pending_marker: KeyValue | None = None
    """The newest version when it is a delete marker: removable only if no other follows."""


class LifecycleWorker:
    """Applies lifecycle rules while this server holds the lease; ``start`` runs it."""

    def __init__(self, cc: CoreContext) -> None:
        self._cc = cc
        self._settings = cc.settings.lifecycle
        self.lease = Lease(cc.store, cc.keys.lease(LEASE_NAME), self._settings.lease_seconds)
        self._task: asyncio.Task[None] | None = None
        self._pass: asyncio.Task[None] | None = None
        self._day = self._settings.day_seconds

    # ---- the lease loop ----

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="lightningstor-lifecycle")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel(task)
        work, self._pass = self._pass, None
        await cancel(work)
        with contextlib.suppress(Exception):  # best effort: the lease expires anyway
            await self.lease.release()

    async def _loop(self) -> None:
        while True:
            try:
                with background("lifecycle.lease"):
                    held = await self.lease.refresh()
            except Exception:
                log_failure(log, "lifecycle: lease refresh failed")
                held = self.lease.held
            METRICS.gauges.lifecycle_leader = int(held)
            if held and (self._pass is None or self._pass.done()):
                self._pass = asyncio.create_task(self._passes(), name="lightningstor-lc-pass")
            elif not held and self._pass is not None:
                await cancel(self._pass)
                self._pass = None
            await asyncio.sleep(self.lease.renew_every)

    def _check_lease(self) -> None:
        if not self.lease.held:
            raise LeaseLostError()

    # ---- passes ----

    async def _passes(self) -> None:
        while True:
            try:
                with background("lifecycle"):  # the pass's reads and deletes in a trace of its own
                    progress = await self.progress()
                    wait = self._until_next_pass(progress)
                    if wait <= 0:
                        await self.run_pass(progress)
                if wait > 0:
                    await asyncio.sleep(min(wait, self.lease.renew_every))
            except LeaseLostError:
                log.info("lifecycle: lease lost; stopping")
                return
            except Exception:
                log_failure(log, "lifecycle: pass failed")
                await asyncio.sleep(self.lease.renew_every)

    def _until_next_pass(self, progress: records_pb2.LifecycleProgress) -> float:
        if progress.bucket_key:  # a pass in progress: resume it now
            return 0.0
        _report_lag(progress)
        finished = _seconds(progress.last_pass_finished)
        return finished + self._settings.interval_seconds - time.time() if finished else 0.0

    async def progress(self) -> records_pb2.LifecycleProgress:
        """Where the cluster's worker is (an empty record before the first pass)."""
        kv = await self._cc.store.get(self._cc.keys.lifecycle_progress())
        return (
            records_pb2.LifecycleProgress.FromString(kv.value)
            if kv
            else records_pb2.LifecycleProgress()
        )

    async def _save(self, progress: records_pb2.LifecycleProgress) -> None:
        """Write the position, only if we still hold the lease."""
        self._check_lease()
        key = self._cc.keys.lifecycle_progress()
        result = await self._cc.store.txn(
            [self.lease.guard()], [Put(key, progress.SerializeToString())]
        )
        if not result.succeeded:
            raise LeaseLostError()
        _report_lag(progress)

    async def run_pass(self, progress: records_pb2.LifecycleProgress) -> None:
        """One pass over every bucket, from ``progress`` (a pass in progress) or the start."""
        if not progress.bucket_key:
            progress.pass_started.GetCurrentTime()
            progress.after_key = ""
        start = progress.bucket_key or self._cc.keys.all_buckets_prefix()
        async for kv in self._bucket_records(start):
            rec = records_pb2.BucketRecord.FromString(kv.value)
            if kv.key != progress.bucket_key:
                progress.bucket_key = kv.key
                progress.after_key = ""
            if evaluate.has_work(rec.lifecycle_rules):
                await self._save(progress)
                await self._bucket(rec, progress)
        progress.bucket_key = b""
        progress.after_key = ""
        progress.passes_done += 1
        progress.last_pass_finished.GetCurrentTime()
        progress.last_pass_started.CopyFrom(progress.pass_started)
        await self._save(progress)
        log.info("lifecycle: pass %d done", progress.passes_done)

    def _bucket_records(self, start: bytes) -> AsyncIterator[KeyValue]:
        return self._keys(self._cc.keys.all_buckets_prefix(), start)

    async def _keys(self, prefix: bytes, start: bytes | None = None) -> AsyncIterator[KeyValue]:
        """Every key under ``prefix`` from ``start``, a page at a time."""
        pages = range_pages(self._cc.store, prefix, limit=self._settings.page_size, start=start)
        async for page in pages:
            for kv in page.kvs:
                yield kv

    # ---- one bucket ----

    async def _bucket(
        self, rec: records_pb2.BucketRecord, progress: records_pb2.LifecycleProgress
    ) -> None:
        scope = Scope(rec.org_id, rec.project_id or None)
        try:
            ref = await self._cc.bucket(scope, rec.name, fresh=True)
        except NoSuchBucket:
            return
        if ref.record.bucket_id != rec.bucket_id:
            return
        rules = list(ref.record.lifecycle_rules)
        ctx = RequestContext(
            principal=Principal(WORKER_PRINCIPAL, rec.org_id, rec.project_id or None),
            request_id=f"lifecycle-{uuid.uuid4().hex[:16]}",
            api="lifecycle",
        )
        if not progress.after_key and any(
            r.HasField("abort_incomplete_multipart_days") for r in rules
        ):
            await self._uploads(ref, rules, ctx)
        await self._versions(ref, rules, ctx, progress)

    async def _uploads(
        self, ref: BucketRef, rules: list[lifecycle_pb2.LifecycleRule], ctx: RequestContext
    ) -> None:
        prefix = self._cc.keys.uploads_prefix(ref.scope, ref.name)
        now = time.time()
        async for kv in self._keys(prefix):
            up = records_pb2.UploadRecord.FromString(kv.value)
            if up.bucket_id and up.bucket_id != ref.record.bucket_id:
                continue
            due = evaluate.upload_abort(rules, up.key, _seconds(up.initiated), self._day)
            if due is None or due.at > now:
                continue
            self._check_lease()
            with contextlib.suppress(NoSuchUpload):
                await abort_upload(self._cc, kv.key, up.upload_id)
                self._audit(ctx, ref, up.key, Action.UPLOADS_ABORT, due.rule_id)
                _count("upload_aborted")

    async def _versions(
        self,
        ref: BucketRef,
        rules: list[lifecycle_pb2.LifecycleRule],
        ctx: RequestContext,
        progress: records_pb2.LifecycleProgress,
    ) -> None:
        prefix = self._cc.keys.versions_prefix(ref.scope, ref.name)
        start = prefix + progress.after_key.encode() + b"\x01" if progress.after_key else None
        state: _KeyState | None = None
        now = time.time()
        actions: list[_Action] = []
        pages = range_pages(self._cc.store, prefix, limit=self._settings.page_size, start=start)
        async for page in pages:
            done_key = progress.after_key
            for kv in page.kvs:
                key, _sort_id = split_versioned(kv.key, prefix)
                if state is None or state.key != key:
                    if state is not None:
                        self._finish_key(rules, state, actions)
                        done_key = state.key
                    state = _KeyState(key)
                self._version(rules, state, kv, now, actions)
                _count("examined")
            await self._apply(ctx, ref, actions)
            progress.after_key = done_key
            if page.more:
                await self._save(progress)
        if state is not None:
            self._finish_key(rules, state, actions)
            await self._apply(ctx, ref, actions)
            progress.after_key = state.key
        await self._save(progress)

    async def _apply(self, ctx: RequestContext, ref: BucketRef, actions: list[_Action]) -> None:
        """Carry out a page's actions, several at a time (each commit waits for its fsync;
        together they share group commits), then forget them."""
        gate = asyncio.Semaphore(ACTION_CONCURRENCY)

        async def one(action: _Action) -> None:
            async with gate:
                await self._act(ctx, ref, *action)

        await asyncio.gather(*(one(a) for a in actions))
        actions.clear()

    def _version(
        self,
        rules: list[lifecycle_pb2.LifecycleRule],
        state: _KeyState,
        kv: KeyValue,
        now: float,
        actions: list[_Action],
    ) -> None:
        rec = records_pb2.ObjectRecord.FromString(kv.value)
        modified = _seconds(rec.last_modified)
        position = state.position
        state.position += 1
        successor = state.successor_modified
        state.successor_modified = modified
        if position == 0:
            if rec.is_delete_marker:
                state.pending_marker = kv
                return
            due = evaluate.current_expiry(rules, state.key, rec.size, rec.tags, modified, self._day)
            if due is not None and due.at <= now:
                actions.append((state.key, "", Act.EXPIRE, due.rule_id, rec.etag))
            return
        state.pending_marker = None
        due = evaluate.noncurrent_expiry(
            rules, state.key, rec.size, rec.tags, successor, position - 1, self._day
        )
        if due is not None and due.at <= now:
            actions.append((state.key, rec.version_id, Act.DELETE_NONCURRENT, due.rule_id, ""))

    def _finish_key(
        self, rules: list[lifecycle_pb2.LifecycleRule], state: _KeyState, actions: list[_Action]
    ) -> None:
        if state.pending_marker is None or state.position != 1:
            return
        rule_id = evaluate.marker_rule(rules, state.key)
        if rule_id is not None:
            rec = records_pb2.ObjectRecord.FromString(state.pending_marker.value)
            actions.append((state.key, rec.version_id, Act.REMOVE_MARKER, rule_id, ""))

    async def _act(
        self,
        ctx: RequestContext,
        ref: BucketRef,
        key: str,
        version_id: str,
        act: Act,
        rule: str,
        etag: str,
    ) -> None:
        self._check_lease()
        # An expiry of the current version is conditional on the version the scan saw: a PUT
        # that replaced it meanwhile is not expired with it (PreconditionFailed: left alone).
        cond = common_pb2.DeleteConditions(if_match=etag) if etag else None
        try:
            await delete_key_or_version(self._cc, ctx, ref, key, version_id, cond)
        except LightningStorError as exc:  # e.g. a version under Object Lock: left alone
            log.info("lifecycle: %s of %r refused by %s (rule %r)", act.value, key, exc.code, rule)
            _count("refused")
            return
        self._audit(ctx, ref, key, Action.OBJECTS_DELETE, rule, act)
        _count(act.value)

    def _audit(
        self,
        ctx: RequestContext,
        ref: BucketRef,
        key: str,
        action: Action,
        rule: str,
        act: Act | None = None,
    ) -> None:
        what = act.value if act else "abort_upload"
        audit(ctx, action, object_resource(ref.scope, ref.name, key), True,
              f"lifecycle rule {rule!r}: {what}")  # fmt: skip


def _seconds(ts: Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def _report_lag(progress: records_pb2.LifecycleProgress) -> None:
    """Lag: how long ago the last finished pass started (nothing before the first one)."""
    if progress.HasField("last_pass_started"):
        lag = time.time() - _seconds(progress.last_pass_started)
        METRICS.gauges.lifecycle_lag_seconds = int(lag)


def _count(event: str) -> None:
    METRICS.lifecycle[event] = METRICS.lifecycle.get(event, 0) + 1
