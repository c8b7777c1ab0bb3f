# ruff: noqa: RUF009 - el() is dataclasses.field with XML metadata, evaluated once per class
"""The Object Lock documents (ObjectLockConfiguration, Retention, LegalHold) in and out, and the
``x-amz-object-lock-*`` request headers. Shape errors are MalformedXML (headers:
InvalidArgument); what depends on values (a date in the past, a shortened COMPLIANCE retention)
is checked by the core, for both APIs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import common_pb2, object_pb2, objectlock_pb2
from lightningstor_s3.xml import el
from lightningstor_s3.xml_in import child_elements, child_text, iso_timestamp, parse
from lightningstor_types.errors import InvalidArgument, MalformedXML

_MODES = {
    "GOVERNANCE": common_pb2.OBJECT_LOCK_MODE_GOVERNANCE,
    "COMPLIANCE": common_pb2.OBJECT_LOCK_MODE_COMPLIANCE,
}
_NAMES = {v: k for k, v in _MODES.items()}

MODE_HEADER = "x-amz-object-lock-mode"
UNTIL_HEADER = "x-amz-object-lock-retain-until-date"
HOLD_HEADER = "x-amz-object-lock-legal-hold"
BYPASS_HEADER = "x-amz-bypass-governance-retention"
ENABLED_HEADER = "x-amz-bucket-object-lock-enabled"

# ---- in ------------------------------------------------------------------------------------


def lock_headers(headers: Mapping[str, str], query: Mapping[str, str]) -> Mapping[str, str]:
    """The request's headers with the lock headers some SDKs hoist into a presigned URL's query
    added (a header of the same name wins): a hoisted lock header takes effect, never ignored."""
    names = (MODE_HEADER, UNTIL_HEADER, HOLD_HEADER, BYPASS_HEADER, ENABLED_HEADER)
    hoisted = {n.lower(): v for n, v in query.items() if n.lower() in names}
    return {**hoisted, **headers} if hoisted else headers


def configuration(body: bytes) -> objectlock_pb2.ObjectLockConfiguration:
    root = parse(body, "ObjectLockConfiguration")
    if child_text(root, "ObjectLockEnabled", required=True) != "Enabled":
        raise MalformedXML()
    config = objectlock_pb2.ObjectLockConfiguration(enabled=True)
    rules = list(child_elements(root, "Rule"))
    if len(rules) > 1:
        raise MalformedXML()
    for rule in rules:
        defaults = list(child_elements(rule, "DefaultRetention"))
        if len(defaults) != 1:
            raise MalformedXML()
        d = config.default_retention
        d.mode = _mode(child_text(defaults[0], "Mode", required=True) or "")
        d.days = _count(child_text(defaults[0], "Days"))
        d.years = _count(child_text(defaults[0], "Years"))
    return config


def retention(body: bytes) -> common_pb2.ObjectRetention:
    """A Retention document; one with neither Mode nor date removes the retention."""
    root = parse(body, "Retention")
    out = common_pb2.ObjectRetention()
    mode = child_text(root, "Mode")
    until = child_text(root, "RetainUntilDate")
    if mode is not None:
        out.mode = _mode(mode)
    if until is not None:
        out.retain_until.CopyFrom(iso_timestamp(until))
    return out


def legal_hold(body: bytes) -> bool:
    status = child_text(parse(body, "LegalHold"), "Status", required=True)
    if status not in ("ON", "OFF"):
        raise MalformedXML()
    return status == "ON"


def headers_lock(
    headers: Mapping[str, str],
) -> tuple[common_pb2.ObjectRetention | None, bool]:
    """The retention and legal hold a write's headers ask for: mode and date together or
    neither (InvalidArgument otherwise, as S3)."""
    mode = headers.get(MODE_HEADER)
    until = headers.get(UNTIL_HEADER)
    hold = headers.get(HOLD_HEADER)
    if hold is not None and hold.strip() not in ("ON", "OFF"):
        raise InvalidArgument(
            "Legal Hold must be either of 'ON' or 'OFF'", ArgumentName=HOLD_HEADER
        )
    on = hold is not None and hold.strip() == "ON"
    if mode is None and until is None:
        return None, on
    if mode is None or until is None:
        raise InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ArgumentName=MODE_HEADER if mode is None else UNTIL_HEADER,
        )
    try:
        out = common_pb2.ObjectRetention(mode=_mode(mode.strip()))
        out.retain_until.CopyFrom(iso_timestamp(until.strip()))
    except MalformedXML:
        raise InvalidArgument("Invalid object lock header", ArgumentName=MODE_HEADER) from None
    return out, on


def apply_lock_headers(
    msg: object_pb2.PutObjectHeader
    | object_pb2.CopyObjectRequest
    | object_pb2.CreateMultipartUploadRequest,
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> None:
    """Set a new version's retention and legal hold from a write's lock headers (hoisted ones
    included)."""
    retention, msg.legal_hold = headers_lock(lock_headers(headers, query))
    if retention is not None:
        msg.retention.CopyFrom(retention)


def bypass(headers: Mapping[str, str]) -> bool:
    value = headers.get(BYPASS_HEADER)
    if value is None:
        return False
    if value.strip().lower() not in ("true", "false"):
        raise InvalidArgument(
            "Invalid x-amz-bypass-governance-retention", ArgumentName=BYPASS_HEADER
        )
    return value.strip().lower() == "true"


def bucket_lock_enabled(headers: Mapping[str, str]) -> bool:
    value = headers.get(ENABLED_HEADER)
    if value is None:
        return False
    if value.strip().lower() not in ("true", "false"):
        raise InvalidArgument(
            "Invalid x-amz-bucket-object-lock-enabled", ArgumentName=ENABLED_HEADER
        )
    return value.strip().lower() == "true"


def _mode(text: str) -> common_pb2.ObjectLockMode.ValueType:
    if text not in _MODES:
        raise MalformedXML()
    return _MODES[text]


def _count(text: str | None) -> int:
    if text is None:
        return 0
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise MalformedXML()
    return int(text)


# ---- out -----------------------------------------------------------------------------------


@dataclass(slots=True)
class DefaultRetention:
    mode: str = el()
    days: int | None = el()
    years: int | None = el()


@dataclass(slots=True)
class Rule:
    default_retention: DefaultRetention = el()


@dataclass(slots=True)
class ObjectLockConfiguration:
    object_lock_enabled: str = el()
    rule: Rule | None = el()


@dataclass(slots=True)
class Retention:
    mode: str = el()
    retain_until_date: str = el()


@dataclass(slots=True)
class LegalHold:
    status: str = el()


def configuration_document(config: objectlock_pb2.ObjectLockConfiguration) -> object:
    doc = ObjectLockConfiguration(object_lock_enabled="Enabled")
    d = config.default_retention
    if d.mode in _NAMES:
        doc.rule = Rule(DefaultRetention(_NAMES[d.mode], d.days or None, d.years or None))
    return doc


def retention_document(r: common_pb2.ObjectRetention) -> object:
    return Retention(_NAMES.get(r.mode, ""), isoiso_timestamp(r.retain_until))


def isoiso_timestamp(ts: Timestamp) -> str:
    """The retain-until date as S3 writes it (seconds, ``Z``)."""
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def lock_response_headers(info: common_pb2.ObjectInfo) -> list[tuple[bytes, bytes]]:
    """A GET's or HEAD's Object Lock headers: the retention, and the legal hold when on."""
    out = []
    if name := _NAMES.get(info.retention.mode):
        out.append((MODE_HEADER.encode(), name.encode()))
        out.append((UNTIL_HEADER.encode(), isoiso_timestamp(info.retention.retain_until).encode()))
    if info.legal_hold:
        out.append((HOLD_HEADER.encode(), b"ON"))
    return out
