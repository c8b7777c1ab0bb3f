"""The rules of Object Lock, on records only (no I/O): whether a version may go, how a
retention may change, and what a new version gets by default."""

from __future__ import annotations

import time

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, objectlock_pb2
from lightningstor_types.errors import AccessDenied, InvalidArgument, InvalidRequest, MalformedXML

GOVERNANCE = common_pb2.OBJECT_LOCK_MODE_GOVERNANCE
COMPLIANCE = common_pb2.OBJECT_LOCK_MODE_COMPLIANCE
MODES = {"GOVERNANCE": GOVERNANCE, "COMPLIANCE": COMPLIANCE}
MODE_NAMES = {v: k for k, v in MODES.items()}

MAX_DEFAULT_DAYS = 36_500
MAX_DEFAULT_YEARS = 100
"""Bounds of a default retention (AWS takes no more than a century either)."""

LOCKED = "Access Denied because object protected by object lock."
LOCK_NEEDS_INTEGRITY = (
    "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with "
    "Object Lock parameters"
)


def retained(rec: records_pb2.ObjectRecord, now: float | None = None) -> bool:
    """The version's retention is in force (its date not yet reached)."""
    if rec.retention.mode == common_pb2.OBJECT_LOCK_MODE_UNSPECIFIED:
        return False
    at = time.time() if now is None else now
    return rec.retention.retain_until.ToNanoseconds() > at * 1e9


def ensure_removable(rec: records_pb2.ObjectRecord, *, bypass: bool) -> None:
    """AccessDenied unless the version's data may be removed or overwritten now: never under a
    legal hold or a COMPLIANCE retention, under GOVERNANCE only with ``bypass`` (the caller is
    allowed to, and asked). Delete markers hold no data and are never locked."""
    if rec.legal_hold:
        raise AccessDenied(LOCKED, Key=rec.key, VersionId=rec.version_id)
    if retained(rec) and (rec.retention.mode == COMPLIANCE or not bypass):
        raise AccessDenied(LOCKED, Key=rec.key, VersionId=rec.version_id)


def validate_retention(retention: common_pb2.ObjectRetention) -> None:
    """A retention asked for: a mode and a date in the future, or nothing at all (removal)."""
    has_date = retention.HasField("retain_until")
    if retention.mode == common_pb2.OBJECT_LOCK_MODE_UNSPECIFIED and not has_date:
        return
    if retention.mode not in MODE_NAMES:
        raise InvalidArgument("Unknown or missing retention mode", ArgumentName="Mode")
    if not has_date:
        raise InvalidArgument("A retention needs a RetainUntilDate", ArgumentName="RetainUntilDate")
    try:
        until = retention.retain_until.ToNanoseconds()
    except ValueError:  # outside years 1-9999 (gRPC can send any seconds): was a 500
        raise InvalidArgument(
            "The retain until date is not a valid date", ArgumentName="RetainUntilDate"
        ) from None
    if until <= time.time() * 1e9:
        raise InvalidArgument(
            "The retain until date must be in the future!", ArgumentName="RetainUntilDate"
        )


def check_retention_change(
    old: records_pb2.ObjectRecord, new: common_pb2.ObjectRetention, *, bypass: bool
) -> None:
    """AccessDenied unless ``old``'s retention may become ``new``: a COMPLIANCE retention in
    force only keeps its mode and extends its date; a GOVERNANCE one may turn COMPLIANCE or be
    extended, and anything else only with ``bypass``."""
    if not retained(old):
        return
    cur = old.retention
    extends = (
        new.mode in MODE_NAMES
        and new.retain_until.ToNanoseconds() >= cur.retain_until.ToNanoseconds()
    )
    if cur.mode == COMPLIANCE:
        if not (extends and new.mode == COMPLIANCE):
            raise AccessDenied(LOCKED, Key=old.key, VersionId=old.version_id)
    elif not extends and not bypass:
        raise AccessDenied(LOCKED, Key=old.key, VersionId=old.version_id)


def validate_configuration(config: objectlock_pb2.ObjectLockConfiguration) -> None:
    """A PutObjectLockConfiguration document: enabled, and a default of one mode with Days or
    Years (positive, bounded), not both."""
    if not config.enabled:
        raise MalformedXML("ObjectLockEnabled must be Enabled")
    if not config.HasField("default_retention"):
        return
    d = config.default_retention
    if d.mode not in MODE_NAMES:
        raise MalformedXML("A default retention needs a Mode of GOVERNANCE or COMPLIANCE")
    if bool(d.days) == bool(d.years):
        raise MalformedXML("A default retention needs either Days or Years")
    if not (0 < d.days <= MAX_DEFAULT_DAYS) and not (0 < d.years <= MAX_DEFAULT_YEARS):
        raise InvalidArgument(
            "Default retention period must be a positive integer value",
            ArgumentName="DefaultRetention",
        )


def requested_lock(
    bucket: records_pb2.BucketRecord,
    retention: common_pb2.ObjectRetention | None,
    legal_hold: bool,
) -> common_pb2.ObjectRetention | None:
    """The retention a write (PUT, copy, new upload) asks for, checked: the bucket must have
    Object Lock, the retention a mode and a future date. None: none asked for (an empty
    message too), so the bucket's default applies at commit."""
    asked = retention is not None and retention.mode != common_pb2.OBJECT_LOCK_MODE_UNSPECIFIED
    if (asked or legal_hold) and not bucket.object_lock.enabled:
        raise InvalidRequest("Bucket is missing Object Lock Configuration")
    if retention is not None:
        validate_retention(retention)
    return retention if asked else None


def apply_default_retention(
    bucket: records_pb2.BucketRecord, record: records_pb2.ObjectRecord
) -> None:
    """Give a new version without a retention of its own the bucket's default, from now: every
    write (PUT, copy, completed upload, form upload) commits through here."""
    default = bucket.object_lock.default_retention
    if record.is_delete_marker or record.HasField("retention"):
        return
    if not bucket.object_lock.enabled or default.mode not in MODE_NAMES:
        return
    days = default.days or default.years * 365
    record.retention.mode = default.mode
    record.retention.retain_until.FromSeconds(int(time.time()) + days * 86_400)
