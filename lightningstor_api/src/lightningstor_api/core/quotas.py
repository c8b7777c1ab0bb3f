"""Quotas per org, project and bucket, enforced before a write commits.

Levels of a bucket in scope ``org[/project]``: the org as a whole (``quotas/{org}/_``, default
``[quotas.org]``), the project (``quotas/{org}/{project}``, default ``[quotas.project]``) and the
bucket (``quotas/{org}/{project or _}/{bucket}``, no default). A stored quota replaces the
default of its level; 0 = unlimited. The same records hold the rate limits of an org or project
(enforced by :mod:`lightningstor_api.ratelimit`).

Each server keeps, per level with a bytes/objects limit, the usage it read (at most
``quotas.cache_ttl_seconds`` old), the changes it committed itself since (by store revision)
and the changes in flight it admitted. A check and its reservation happen without an ``await``
in between, so one server never overshoots; other servers' writes are seen within the TTL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.core.txn import Txn
from lightningstor_api.core.usage import read_usage
from lightningstor_api.metadata import MetadataStore, TxnResult
from lightningstor_types.config import QuotaDefaults, Settings
from lightningstor_types.errors import QuotaExceeded
from lightningstor_types.scope import Scope


def quota_of(defaults: QuotaDefaults | None) -> records_pb2.QuotaRecord:
    """A configured default as a quota record (none: unlimited)."""
    if defaults is None:
        return records_pb2.QuotaRecord()
    return records_pb2.QuotaRecord(
        max_buckets=defaults.max_buckets,
        max_bytes=defaults.max_bytes,
        max_objects=defaults.max_objects,
        max_object_size=defaults.max_object_size,
        requests_per_second=defaults.requests_per_second,
        bytes_in_per_second=defaults.bytes_in_per_second,
        bytes_out_per_second=defaults.bytes_out_per_second,
    )


@dataclass(frozen=True, slots=True)
class Level:
    """One level a write is checked against."""

    name: str
    """``org {org}``, ``project {org}/{p}`` or ``bucket {scope}/{name}`` (error messages)."""
    quota_key: bytes
    limits: records_pb2.QuotaRecord
    org_id: str
    project: str | None
    org_level: bool
    bucket: str | None


@dataclass(slots=True)
class _Usage:
    """What one server knows of a level's stored bytes and objects."""

    bytes: int = 0
    objects: int = 0
    revision: int = 0
    read_at: float = -1e9
    reserved_bytes: int = 0
    reserved_objects: int = 0
    own: list[tuple[int, int, int]] = field(default_factory=list)
    """(revision, Δbytes, Δobjects) this server committed after the read."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def current(self) -> tuple[int, int]:
        b = self.bytes + self.reserved_bytes + sum(d[1] for d in self.own)
        o = self.objects + self.reserved_objects + sum(d[2] for d in self.own)
        return b, o


class Admission:
    """A write admitted against some levels: reservations to turn into committed changes."""

    def __init__(self, states: Sequence[_Usage], size: int, objects: int, reserved: bool) -> None:
        self._states = states
        self._size = size
        self._objects = objects
        self._reserved = reserved

    def committed(self, revision: int) -> None:
        for st in self._states:
            if revision > st.revision:  # a read at or after the commit already holds it
                st.own.append((revision, self._size, self._objects))

    def release(self) -> None:
        if self._reserved:
            for st in self._states:
                st.reserved_bytes -= self._size
                st.reserved_objects -= self._objects
            self._reserved = False


class Quotas:
    """Quota records (cached) and the usage checks of one server."""

    def __init__(self, store: MetadataStore, keys: KeySchema, settings: Settings) -> None:
        self._store = store
        self._keys = keys
        self._settings = settings.quotas
        self._ttl = settings.quotas.cache_ttl_seconds
        self._records: dict[bytes, tuple[float, records_pb2.QuotaRecord | None]] = {}
        self._usage: dict[bytes, _Usage] = {}

    # ---- quota records ----

    async def stored(self, key: bytes) -> records_pb2.QuotaRecord | None:
        """The quota stored at ``key`` (cached for the TTL), or None."""
        hit = self._records.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        kv = await self._store.get(key)
        rec = records_pb2.QuotaRecord.FromString(kv.value) if kv is not None else None
        self._records[key] = (now, rec)
        return rec

    def forget(self, key: bytes) -> None:
        """Drop a cached quota record (this server just changed it)."""
        self._records.pop(key, None)

    def default(self, scope: Scope, bucket: str | None) -> records_pb2.QuotaRecord:
        """The configured default of a level: ``[quotas.org]`` for an org as a whole,
        ``[quotas.project]`` for a project, none for a bucket."""
        if bucket:
            return quota_of(None)
        return quota_of(self._settings.project if scope.project_id else self._settings.org)

    async def effective(self, scope: Scope, bucket: str | None = None) -> records_pb2.QuotaRecord:
        stored = await self.stored(self._keys.quota(scope, bucket))
        return stored if stored is not None else self.default(scope, bucket)

    async def levels(self, scope: Scope, bucket: str) -> list[Level]:
        """The levels a write into ``bucket`` of ``scope`` is checked against (limited ones)."""
        org = Scope(scope.org_id)
        candidates: list[tuple[str, Scope, str | None, str | None, bool, str | None]] = [
            (f"org {scope.org_id}", org, None, None, False, None),
        ]
        if scope.project_id:
            candidates.append((f"project {scope}", scope, None, scope.project_id, False, None))
        candidates.append(
            (f"bucket {bucket}", scope, bucket, scope.project_id, scope.project_id is None, bucket)
        )
        found: list[Level] = []
        for name, where, b, project, org_level, usage_bucket in candidates:
            limits = await self.effective(where, b)
            if limits.max_bytes or limits.max_objects or limits.max_object_size:
                found.append(
                    Level(
                        name,
                        self._keys.quota(where, b),
                        limits,
                        scope.org_id,
                        project,
                        org_level,
                        usage_bucket,
                    )
                )
        return found

    # ---- checks ----

    async def admit(
        self, scope: Scope, bucket: str, size: int, objects: int, object_size: int
    ) -> Admission:
        """Check a write that changes ``bucket`` by ``size`` bytes and ``objects`` objects (and
        stores an object or part of ``object_size``); QuotaExceeded if it would go over a
        limit. A write that grows neither counter is never refused for bytes or objects."""
        levels = await self.levels(scope, bucket)
        for lv in levels:
            limit = lv.limits.max_object_size
            if limit and object_size > limit:
                raise QuotaExceeded(
                    f"The object is larger than the {lv.name} allows ({limit} bytes).",
                    Limit="max_object_size",
                )
        counted = [lv for lv in levels if lv.limits.max_bytes or lv.limits.max_objects]
        grows = size > 0 or objects > 0
        states = [await self._fresh(lv) if grows else self._state(lv) for lv in counted]
        if grows:  # check every level, then reserve, with no await in between
            for lv, st in zip(counted, states, strict=True):
                have_bytes, have_objects = st.current()
                max_bytes, max_objects = lv.limits.max_bytes, lv.limits.max_objects
                if max_bytes and have_bytes + size > max_bytes:
                    raise QuotaExceeded(
                        f"The {lv.name} may store at most {max_bytes} bytes.", Limit="max_bytes"
                    )
                if max_objects and have_objects + objects > max_objects:
                    raise QuotaExceeded(
                        f"The {lv.name} may hold at most {max_objects} objects.",
                        Limit="max_objects",
                    )
            for st in states:
                st.reserved_bytes += size
                st.reserved_objects += objects
        return Admission(states, size, objects, grows)

    def _state(self, lv: Level) -> _Usage:
        return self._usage.setdefault(lv.quota_key, _Usage())

    async def _fresh(self, lv: Level) -> _Usage:
        st = self._state(lv)
        if time.monotonic() - st.read_at < self._ttl:
            return st
        async with st.lock:
            if time.monotonic() - st.read_at < self._ttl:
                return st
            read_at = time.monotonic()
            report = await read_usage(
                self._store,
                self._keys,
                lv.org_id,
                project=lv.project,
                org_level=lv.org_level,
                bucket=lv.bucket,
            )
            st.bytes, st.objects = report.total.bytes_stored, report.total.object_count
            st.revision = report.revision
            st.own = [d for d in st.own if d[0] > report.revision]
            st.read_at = read_at
        return st

    async def check_new_bucket(self, scope: Scope) -> None:
        """QuotaExceeded when the org or the project already holds its most buckets (an exact
        count; creates racing each other may each pass)."""
        levels = [(f"org {scope.org_id}", Scope(scope.org_id), True)]
        if scope.project_id:
            levels.append((f"project {scope}", scope, False))
        for name, where, whole_org in levels:
            limit = (await self.effective(where)).max_buckets
            if not limit:
                continue
            prefix = (
                self._keys.all_buckets_prefix() + scope.org_id.encode() + b"/"
                if whole_org
                else self._keys.buckets_prefix(where)
            )
            page = await self._store.range(prefix, limit=limit)
            if len(page.kvs) >= limit:
                raise QuotaExceeded(
                    f"The {name} may hold at most {limit} buckets.", Limit="max_buckets"
                )


async def commit_counted(
    quotas: Quotas | None, txn: Txn, scope: Scope, bucket: str, usage_key: bytes, object_size: int
) -> TxnResult:
    """Commit ``txn`` after checking the usage change it carries for ``usage_key`` (the bucket's
    usage record) against the quotas; QuotaExceeded leaves everything as it was."""
    if quotas is None:
        return await txn.commit()
    size, objects = txn.usage.get(usage_key, (0, 0))
    admission = await quotas.admit(scope, bucket, size, objects, object_size)
    try:
        result = await txn.commit()
        admission.committed(result.revision)
        return result
    finally:
        admission.release()
