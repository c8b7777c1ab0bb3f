"""Reading usage: base records plus the deltas not folded yet, summed per project and bucket.

Layout (``core/keys.py``): ``usage/{org}/{project or _}/{bucket}`` holds a bucket's folded
stored bytes and object count, ``usage/{org}/{project or _}`` a scope's folded request counters,
and ``{either}/+{delta id}`` one pending change of it. An org's usage is one range read; the
folder (:mod:`.usage_folder`) keeps the number of deltas in it small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.metadata import MetadataStore, range_pages

_PAGE = 1000


@dataclass(slots=True)
class Counters:
    """One set of usage figures."""

    bytes_stored: int = 0
    object_count: int = 0
    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    throttled: int = 0
    """Requests refused by a rate limit (also counted in ``requests``)."""

    def add(self, rec: records_pb2.UsageRecord | Counters) -> None:
        self.bytes_stored += rec.bytes_stored
        self.object_count += rec.object_count
        self.requests += rec.requests
        self.bytes_in += rec.bytes_in
        self.bytes_out += rec.bytes_out
        self.throttled += rec.throttled

    def record(self) -> records_pb2.UsageRecord:
        return records_pb2.UsageRecord(
            bytes_stored=self.bytes_stored,
            object_count=self.object_count,
            requests=self.requests,
            bytes_in=self.bytes_in,
            bytes_out=self.bytes_out,
            throttled=self.throttled,
        )

    def is_zero(self) -> bool:
        return not (
            self.bytes_stored
            or self.object_count
            or self.requests
            or self.bytes_in
            or self.bytes_out
            or self.throttled
        )


@dataclass(slots=True)
class UsageReport:
    """Usage of an org, a project or a bucket, with its breakdown."""

    total: Counters = field(default_factory=Counters)
    projects: dict[str | None, Counters] = field(default_factory=dict)
    """Per project (None: the org's own buckets and org-level callers)."""
    buckets: dict[tuple[str | None, str], Counters] = field(default_factory=dict)
    """Per (project, bucket)."""
    revision: int = 0
    """The store revision the figures were read at (the oldest, over several pages)."""


async def read_usage(
    store: MetadataStore,
    keys: KeySchema,
    org_id: str,
    *,
    project: str | None = None,
    org_level: bool = False,
    bucket: str | None = None,
) -> UsageReport:
    """Usage of ``org_id`` as a whole; of one project (``project``, or ``org_level`` for the
    org's own scope); or of one ``bucket`` of that scope."""
    narrow = project is not None or org_level
    prefix = keys.org_usage_prefix(org_id)
    if narrow:
        segment = (project or "_").encode()
        prefix += segment + (b"/" + bucket.encode() if bucket else b"")
    report = UsageReport()
    async for page in range_pages(store, prefix, limit=_PAGE):
        report.revision = min(report.revision or page.revision, page.revision)
        for kv in page.kvs:
            parsed = keys.parse_usage(kv.key)
            if parsed is None:
                continue
            if narrow and (parsed.project_id != project or (bucket and parsed.bucket != bucket)):
                continue  # a longer name sharing the prefix (project "p" vs "p2")
            rec = records_pb2.UsageRecord.FromString(kv.value)
            report.total.add(rec)
            report.projects.setdefault(parsed.project_id, Counters()).add(rec)
            if parsed.bucket is not None:
                where = (parsed.project_id, parsed.bucket)
                report.buckets.setdefault(where, Counters()).add(rec)
    return report


async def total_usage(store: MetadataStore, keys: KeySchema) -> Counters:
    """Every tenant's usage added up: one range over ``usage/``, O(buckets + pending deltas)."""
    total = Counters()
    async for page in range_pages(store, keys.usage_prefix(), limit=_PAGE):
        for kv in page.kvs:
            total.add(records_pb2.UsageRecord.FromString(kv.value))
    return total
