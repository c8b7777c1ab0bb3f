"""When a rule acts on a version: pure functions of the rules, the version and the time.

Times are seconds since the epoch. A "day" is ``lifecycle.day_seconds`` (86400 but in tests);
as in S3, a due time computed from days is rounded up to the next midnight UTC (the next
multiple of a day).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, lifecycle_pb2


class Act(enum.Enum):
    EXPIRE = "expire"
    """The current version expires: a delete marker (versioned) or its removal (unversioned)."""
    DELETE_NONCURRENT = "delete_noncurrent"
    """A noncurrent version (or delete marker) is removed for good."""
    REMOVE_MARKER = "remove_marker"
    """An expired object delete marker (the only version left) is removed."""


@dataclass(frozen=True, slots=True)
class Due:
    at: float
    rule_id: str


def due_after(since: float, days: int, day: float) -> float:
    """``since`` plus ``days``, rounded up to the next midnight."""
    return math.ceil((since + days * day) / day) * day


def matches(
    flt: lifecycle_pb2.LifecycleFilter, key: str, size: int, tags: Iterable[common_pb2.Tag]
) -> bool:
    """Whether a version falls under a rule's filter (every condition it sets holds)."""
    if not key.startswith(flt.prefix):
        return False
    if flt.HasField("object_size_greater_than") and not size > flt.object_size_greater_than:
        return False
    if flt.HasField("object_size_less_than") and not size < flt.object_size_less_than:
        return False
    if flt.tags:
        have = {(t.key, t.value) for t in tags}
        if any((t.key, t.value) not in have for t in flt.tags):
            return False
    return True


def current_expiry(
    rules: Sequence[lifecycle_pb2.LifecycleRule],
    key: str,
    size: int,
    tags: Iterable[common_pb2.Tag],
    created: float,
    day: float,
) -> Due | None:
    """When the current version expires, and by which rule (the earliest); None: never."""
    tags = list(tags)
    best: Due | None = None
    for rule in rules:
        if not rule.enabled or not matches(rule.filter, key, size, tags):
            continue
        if rule.HasField("expiration_days"):
            at = due_after(created, rule.expiration_days, day)
        elif rule.HasField("expiration_date"):
            at = float(rule.expiration_date.seconds)
        else:
            continue
        if best is None or at < best.at:
            best = Due(at, rule.id)
    return best


def expiry_of(
    rules: Sequence[lifecycle_pb2.LifecycleRule], rec: records_pb2.ObjectRecord, day: float
) -> Due | None:
    """When the current version ``rec`` expires (what S3's ``x-amz-expiration`` tells)."""
    if not rules or rec.is_delete_marker:
        return None
    created = rec.last_modified.seconds + rec.last_modified.nanos / 1e9
    return current_expiry(rules, rec.key, rec.size, rec.tags, created, day)


def noncurrent_expiry(
    rules: Sequence[lifecycle_pb2.LifecycleRule],
    key: str,
    size: int,
    tags: Iterable[common_pb2.Tag],
    noncurrent_since: float,
    newer_noncurrent: int,
    day: float,
) -> Due | None:
    """When a noncurrent version is removed: ``noncurrent_since`` is when its successor was
    written, ``newer_noncurrent`` how many noncurrent versions of its key are newer."""
    tags = list(tags)
    best: Due | None = None
    for rule in rules:
        if not rule.enabled or not rule.HasField("noncurrent_days"):
            continue
        if newer_noncurrent < rule.newer_noncurrent_versions:  # 0 when unset: keeps none
            continue
        if not matches(rule.filter, key, size, tags):
            continue
        at = due_after(noncurrent_since, rule.noncurrent_days, day)
        if best is None or at < best.at:
            best = Due(at, rule.id)
    return best


def marker_rule(rules: Sequence[lifecycle_pb2.LifecycleRule], key: str) -> str | None:
    """The rule that removes a lone delete marker of ``key`` (ExpiredObjectDeleteMarker)."""
    for rule in rules:
        if rule.enabled and rule.expired_object_delete_marker and matches(rule.filter, key, 0, ()):
            return rule.id
    return None


def upload_abort(
    rules: Sequence[lifecycle_pb2.LifecycleRule], key: str, initiated: float, day: float
) -> Due | None:
    """When an incomplete multipart upload of ``key`` is aborted; None: never."""
    best: Due | None = None
    for rule in rules:
        if not rule.enabled or not rule.HasField("abort_incomplete_multipart_days"):
            continue
        if not key.startswith(rule.filter.prefix):
            continue
        at = due_after(initiated, rule.abort_incomplete_multipart_days, day)
        if best is None or at < best.at:
            best = Due(at, rule.id)
    return best


def has_work(rules: Sequence[lifecycle_pb2.LifecycleRule]) -> bool:
    """Whether any rule is enabled (a bucket without one is skipped by the worker)."""
    return any(rule.enabled for rule in rules)
