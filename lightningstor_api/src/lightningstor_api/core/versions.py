"""Reading and replacing object versions: the transactions every write shares.

Layout (docs/architecture.md §5): each version lives at ``versions/…/{key}\\0{sort id}``
(newest first);
``objects/…/{key}`` holds a copy of the current version and is absent when the newest version
is a delete marker. A version's ``version_id`` is its sort id, or ``null`` in buckets that are
unversioned or suspended; a new null version replaces the old one.

Every transaction that writes the current copy compares the key's *newest version* as well:
nothing newer than the newest it read exists (a range compare), and, when it makes the next
version current, nothing lies between the two. The current copy's own revision is not enough:
it is absent under a delete marker (an absent key has no revision to tell "still absent" from
"deleted and absent again"), and deleting an older version does not write it. A deletion of a
version that is not the newest only requires a newer one to remain.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, common_pb2
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.ids import NULL_VERSION, is_sort_id, newer_sort_id
from lightningstor_api.core.quotas import commit_counted
from lightningstor_api.core.txn import ConflictError, Txn
from lightningstor_api.metadata import Compare, KeyValue, Put, prefix_end
from lightningstor_api.objectlock.rules import apply_default_retention, ensure_removable
from lightningstor_types.errors import (
    InvalidArgument,
    MethodNotAllowed,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    PreconditionFailed,
    SlowDown,
)
from lightningstor_types.scope import Scope

MAX_ATTEMPTS = 32
ENABLED = bucket_pb2.VERSIONING_STATUS_ENABLED
SUSPENDED = bucket_pb2.VERSIONING_STATUS_SUSPENDED


@dataclass(frozen=True, slots=True)
class Version:
    """A stored version and the revision to compare against."""

    kv: KeyValue
    record: records_pb2.ObjectRecord


async def backoff(attempt: int) -> None:
    """Short randomized sleep between optimistic-transaction retries."""
    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))


async def load_current(cc: CoreContext, scope: Scope, bucket: str, key: str) -> Version | None:
    """The current (non-delete-marker) version, or None."""
    kv = await cc.store.get(cc.keys.object(scope, bucket, key))
    return Version(kv, records_pb2.ObjectRecord.FromString(kv.value)) if kv else None


async def load_version(
    cc: CoreContext, scope: Scope, bucket: str, key: str, version_id: str
) -> Version | None:
    """A version by id (``null`` included), or None when there is no such version."""
    if version_id == NULL_VERSION:
        return await find_null_version(cc, scope, bucket, key)
    if not is_sort_id(version_id):
        raise InvalidArgument("Invalid version id specified", ArgumentName="versionId")
    kv = await cc.store.get(cc.keys.version(scope, bucket, key, version_id))
    return Version(kv, records_pb2.ObjectRecord.FromString(kv.value)) if kv else None


async def newest_versions(
    cc: CoreContext, scope: Scope, bucket: str, key: str, limit: int = 1
) -> list[KeyValue]:
    """The key's newest ``limit`` version records (delete markers included), newest first."""
    page = await cc.store.range(cc.keys.key_versions_prefix(scope, bucket, key), limit=limit)
    return page.kvs


def expect_newest(txn: Txn, prefix: bytes, newest: KeyValue | None) -> None:
    """The transaction applies only if no version newer than ``newest`` (``None``: than any)
    exists under the key's versions ``prefix``."""
    txn.expect_none_in(prefix, newest.key if newest is not None else prefix_end(prefix))


async def find_null_version(cc: CoreContext, scope: Scope, bucket: str, key: str) -> Version | None:
    """The key's null version; a scan of the key's versions (few, in practice)."""
    prefix = cc.keys.key_versions_prefix(scope, bucket, key)
    start: bytes | None = None
    while True:
        page = await cc.store.range(prefix, start=start, limit=256)
        for kv in page.kvs:
            rec = records_pb2.ObjectRecord.FromString(kv.value)
            if rec.version_id == NULL_VERSION:
                return Version(kv, rec)
        if not page.more or not page.kvs:
            return None
        start = page.kvs[-1].key + b"\x00"


async def resolve_read(
    cc: CoreContext, scope: Scope, bucket: str, key: str, version_id: str
) -> records_pb2.ObjectRecord:
    """The version a GET/HEAD/copy reads: current or by id; errors as S3 gives them."""
    if version_id:
        v = await load_version(cc, scope, bucket, key, version_id)
        if v is None:
            raise NoSuchVersion(Key=key, VersionId=version_id)
        return v.record
    cur = await load_current(cc, scope, bucket, key)
    if cur is None:
        raise await missing_key(cc, scope, bucket, key)
    return cur.record


async def missing_key(cc: CoreContext, scope: Scope, bucket: str, key: str) -> NoSuchKey:
    """NoSuchKey for a key without a current version; when a delete marker is the newest
    version, the error says so and names it (S3 sends ``x-amz-delete-marker: true`` and its
    ``x-amz-version-id`` with the 404)."""
    newest = await newest_versions(cc, scope, bucket, key)
    if newest:
        rec = records_pb2.ObjectRecord.FromString(newest[0].value)
        if rec.is_delete_marker:
            return NoSuchKey(Key=key, DeleteMarker="true", VersionId=rec.version_id)
    return NoSuchKey(Key=key)


def check_write_conditions(
    cond: common_pb2.Conditions | None, current: records_pb2.ObjectRecord | None, key: str
) -> None:
    """If-Match / If-None-Match of a write against the current version."""
    if cond is None:
        return
    if (
        cond.if_none_match
        and current is not None
        and (cond.if_none_match == "*" or etag_matches(cond.if_none_match, current.etag))
    ):
        raise PreconditionFailed(Condition="If-None-Match")
    if cond.if_match:
        if current is None:
            raise NoSuchKey(Key=key)
        if not etag_matches(cond.if_match, current.etag):
            raise PreconditionFailed(Condition="If-Match")


def check_delete_conditions(
    cond: common_pb2.DeleteConditions | None, target: records_pb2.ObjectRecord | None, key: str
) -> None:
    """S3's conditional delete against the version it removes or hides (``None``: none, or a
    delete marker): If-Match there is NoSuchKey; a last-modified time or size that does not
    match is PreconditionFailed (a missing object passes them, as S3 answers 204)."""
    if cond is None:
        return
    if target is None or target.is_delete_marker:
        if cond.if_match:
            raise NoSuchKey(Key=key)
        return
    if cond.if_match and not etag_matches(cond.if_match, target.etag):
        raise PreconditionFailed(Condition="If-Match")
    if (
        cond.HasField("if_match_last_modified_time")
        and cond.if_match_last_modified_time.seconds != target.last_modified.seconds
    ):
        raise PreconditionFailed(Condition="x-amz-if-match-last-modified-time")
    if cond.HasField("if_match_size") and cond.if_match_size != target.size:
        raise PreconditionFailed(Condition="x-amz-if-match-size")


def etag_matches(condition: str, etag: str) -> bool:
    """An If-Match/If-None-Match list against a quoted ETag (``*`` matches any)."""
    bare = etag.strip('"')
    for item in condition.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        if item == "*" or item.strip('"') == bare:
            return True
    return False


def now_timestamp() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


async def commit_version(
    cc: CoreContext,
    bucket: BucketRef,
    key: str,
    record: records_pb2.ObjectRecord,
    *,
    new_data: Sequence[records_pb2.DataRecord] = (),
    acquire: str = "",
    conditions: common_pb2.Conditions | None = None,
    delete_conditions: common_pb2.DeleteConditions | None = None,
    extra: Callable[[Txn], None] | None = None,
) -> records_pb2.ObjectRecord:
    """Make ``record`` the newest version of ``key`` in one transaction, replacing the null
    version where the bucket's versioning says so. ``record`` must not yet hold ids or times.

    ``new_data`` are created each holding one reference: the first the new version's, the others
    their parent's in the first (the segments of a data-record tree); ``acquire`` adds a reference
    to an existing data record (copy); ``extra`` adds the caller's own operations.
    Retries on concurrent changes; raises PreconditionFailed/NoSuchKey from ``conditions`` (a
    write's) or ``delete_conditions`` (a delete marker's, on the version it hides).
    """
    for attempt in range(MAX_ATTEMPTS):
        try:
            return await try_commit_version(
                cc,
                bucket,
                key,
                record,
                new_data=new_data,
                acquire=acquire,
                conditions=conditions,
                delete_conditions=delete_conditions,
                extra=extra,
                fresh=attempt > 0,
            )
        except ConflictError:
            await backoff(attempt)
    raise SlowDown("too much contention on this key; retry")


async def try_commit_version(
    cc: CoreContext,
    bucket: BucketRef,
    key: str,
    record: records_pb2.ObjectRecord,
    *,
    new_data: Sequence[records_pb2.DataRecord] = (),
    acquire: str = "",
    conditions: common_pb2.Conditions | None = None,
    delete_conditions: common_pb2.DeleteConditions | None = None,
    extra: Callable[[Txn], None] | None = None,
    fresh: bool = False,
) -> records_pb2.ObjectRecord:
    """One attempt of :func:`commit_version`; raises :class:`ConflictError` instead of retrying,
    for callers that must re-read what they build the version from (copy, complete)."""
    scope = bucket.scope
    bref = await cc.bucket(scope, bucket.name, fresh=fresh)
    if bref.record.bucket_id != bucket.record.bucket_id:
        raise NoSuchBucket(BucketName=bucket.name)
    bref.ensure_writable()
    cur = await load_current(cc, scope, bucket.name, key)
    check_write_conditions(conditions, cur.record if cur else None, key)
    check_delete_conditions(delete_conditions, cur.record if cur else None, key)
    txn = Txn(cc.store, cc.keys)
    usage_key = cc.keys.usage(scope, bucket.name)
    txn.expect(cc.keys.bucket(scope, bucket.name), bref.kv)
    obj_key = cc.keys.object(scope, bucket.name, key)
    txn.expect(obj_key, cur.kv if cur else None)
    # The new version must be the newest when it commits. Without this compare a PUT that read
    # "no current copy" (newest: a delete marker) and a delete marker written meanwhile with a
    # newer sort id both commit, and the PUT's copy is current under the marker.
    prefix = cc.keys.key_versions_prefix(scope, bucket.name, key)
    newest = await _newest_version_key(cc, bref, key, cur, fresh)
    txn.expect_none_in(prefix, newest if newest is not None else prefix_end(prefix))
    rec = records_pb2.ObjectRecord()
    rec.CopyFrom(record)
    rec.key = key
    rec.sort_id = newer_sort_id(newest[len(prefix) :].decode() if newest else None)
    rec.last_modified.CopyFrom(now_timestamp())
    apply_default_retention(bref.record, rec)
    if bref.record.versioning == ENABLED:
        rec.version_id = rec.sort_id
    else:
        rec.version_id = NULL_VERSION
        old = await _null_to_replace(cc, bref, key, cur)
        if old is not None:
            ensure_removable(old.record, bypass=False)
            old_key = cc.keys.version(scope, bucket.name, key, old.record.sort_id)
            txn.expect(old_key, old.kv)
            txn.delete(old_key)
            txn.release(old.record.data_id, "replaced")
            txn.count(usage_key, *stored_usage(old.record, -1))
    txn.put(cc.keys.version(scope, bucket.name, key, rec.sort_id), rec.SerializeToString())
    if rec.is_delete_marker:
        if cur is not None:
            txn.delete(obj_key)
    else:
        txn.put(obj_key, rec.SerializeToString())
    for data in new_data:
        txn.create_data(data)
    txn.acquire(acquire)
    txn.count(usage_key, *stored_usage(rec, 1))
    if extra is not None:
        extra(txn)
    await commit_counted(cc.quotas, txn, scope, bucket.name, usage_key, rec.size)
    return rec


async def _newest_version_key(
    cc: CoreContext, bucket: BucketRef, key: str, cur: Version | None, fresh: bool
) -> bytes | None:
    """The metadata key of ``key``'s newest version (None: it has none). A first attempt takes
    it from the current copy, which is the newest version when present, and in an unversioned
    bucket there is no other; the compare proves it at commit, and a retry reads it."""
    if not fresh:
        if cur is not None:
            return cc.keys.version(bucket.scope, bucket.name, key, cur.record.sort_id)
        if bucket.record.versioning not in (ENABLED, SUSPENDED):
            return None
    found = await newest_versions(cc, bucket.scope, bucket.name, key)
    return found[0].key if found else None


def stored_usage(rec: records_pb2.ObjectRecord, sign: int) -> tuple[int, int]:
    """(bytes, objects) a version counts for, times ``sign``: its size and one object, or
    nothing for a delete marker."""
    if rec.is_delete_marker:
        return 0, 0
    return sign * rec.size, sign


async def _null_to_replace(
    cc: CoreContext, bucket: BucketRef, key: str, cur: Version | None
) -> Version | None:
    if cur is not None and cur.record.version_id == NULL_VERSION:
        return Version(
            await _version_kv(cc, bucket.scope, bucket.name, key, cur.record.sort_id),
            cur.record,
        )
    if bucket.record.versioning == SUSPENDED:
        return await find_null_version(cc, bucket.scope, bucket.name, key)
    # Unversioned: the current version is the only one there is.
    return None


async def _version_kv(
    cc: CoreContext, scope: Scope, bucket: str, key: str, sort_id: str
) -> KeyValue:
    kv = await cc.store.get(cc.keys.version(scope, bucket, key, sort_id))
    if kv is None:
        raise ConflictError("version vanished")
    return kv


async def delete_version(
    cc: CoreContext,
    bucket: BucketRef,
    key: str,
    version_id: str,
    conditions: common_pb2.DeleteConditions | None = None,
    *,
    bypass_governance: bool = False,
) -> records_pb2.ObjectRecord | None:
    """Remove one version for good; if it was the newest, the next one becomes current.
    ``conditions`` must hold of that version as the transaction compares it, and Object Lock
    must let it go (``bypass_governance``: the caller may remove a GOVERNANCE retention); the
    transaction compares the version record, so a lock set meanwhile fails it and is re-read.

    Returns the removed record, or None when there was no such version.
    """
    scope = bucket.scope
    obj_key = cc.keys.object(scope, bucket.name, key)
    prefix = cc.keys.key_versions_prefix(scope, bucket.name, key)
    for attempt in range(MAX_ATTEMPTS):
        target = await load_version(cc, scope, bucket.name, key, version_id)
        check_delete_conditions(conditions, target.record if target else None, key)
        if target is None:
            return None
        ensure_removable(target.record, bypass=bypass_governance)
        txn = Txn(cc.store, cc.keys)
        txn.expect(target.kv.key, target.kv)
        txn.delete(target.kv.key)
        txn.release(target.record.data_id, "version deleted")
        usage_key = cc.keys.usage(scope, bucket.name)
        txn.count(usage_key, *stored_usage(target.record, -1))
        newest = await newest_versions(cc, scope, bucket.name, key, limit=2)
        if newest and newest[0].key == target.kv.key:
            cur_kv = await cc.store.get(obj_key)
            txn.expect(obj_key, cur_kv)
            nxt = newest[1] if len(newest) > 1 else None
            expect_newest(txn, prefix, target.kv)
            txn.expect_none_in(target.kv.key + b"\0", nxt.key if nxt else prefix_end(prefix))
            if nxt is not None:
                txn.expect(nxt.key, nxt)
            nrec = records_pb2.ObjectRecord.FromString(nxt.value) if nxt else None
            if nxt is not None and nrec is not None and not nrec.is_delete_marker:
                txn.put(obj_key, nxt.value)
            elif cur_kv is not None:
                txn.delete(obj_key)
        elif newest:
            # Not the newest: the current copy stays only while a newer version does. Without
            # this compare, deleting v1 while v2 (newest) is deleted too left a phantom: v2's
            # deletion copied v1 to the current copy (v1 was still there), then v1's deletion,
            # which had read v2 as the newest, removed v1 and its data and left the copy.
            txn.expect_exists(newest[0].key)
        try:
            await commit_counted(cc.quotas, txn, scope, bucket.name, usage_key, 0)
            return target.record
        except ConflictError:
            await backoff(attempt)
    raise SlowDown("too much contention on this key; retry")


async def rewrite_version(
    cc: CoreContext,
    bucket: BucketRef,
    key: str,
    version: str,
    change: Callable[[records_pb2.ObjectRecord], None],
) -> records_pb2.ObjectRecord:
    """Rewrite one version's record in place (current when ``version`` is empty): ``change``
    edits a copy (and may raise to refuse), then the version record and, when it is the current
    version, the current copy are written, both compared against what was read."""
    scope = bucket.scope
    obj_key = cc.keys.object(scope, bucket.name, key)
    for attempt in range(MAX_ATTEMPTS):
        cur = await load_current(cc, scope, bucket.name, key)
        target: Version | None
        if version:
            target = await load_version(cc, scope, bucket.name, key, version)
            if target is None:
                raise NoSuchVersion(Key=key, VersionId=version)
        elif cur is None:
            raise NoSuchKey(Key=key)
        else:
            target = await load_version(cc, scope, bucket.name, key, cur.record.sort_id)
        if target is not None:
            if target.record.is_delete_marker:
                raise MethodNotAllowed(Method="PUT", ResourceType="DeleteMarker")
            rec = records_pb2.ObjectRecord()
            rec.CopyFrom(target.record)
            change(rec)
            value = rec.SerializeToString()
            compares = [
                Compare.mod_revision(target.kv.key, target.kv.mod_revision),
                Compare.mod_revision(obj_key, cur.kv.mod_revision if cur else 0),
            ]
            ops = [Put(target.kv.key, value)]
            if cur is not None and cur.record.sort_id == rec.sort_id:
                ops.append(Put(obj_key, value))
            if (await cc.store.txn(compares, ops)).succeeded:
                return rec
        await backoff(attempt)
    raise SlowDown("too much contention on this key; retry")
