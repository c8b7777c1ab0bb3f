# ruff: noqa: RUF009 - el() is dataclasses.field with XML metadata, evaluated once per class
"""The LifecycleConfiguration document, in (parsed into ``LifecycleRule`` messages) and out.

Parsing catches what the shape alone shows (``MalformedXML``: a missing or repeated element, a
Filter with two conditions outside ``And``, Days that are no integer, a Date that is no date,
an unknown Status); what depends on values (Days of 0, a Date not at midnight, duplicate IDs,
overlapping V1 prefixes, transitions) is checked by the core, for both APIs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import common_pb2, lifecycle_pb2
from lightningstor_s3.xml import Tag, el
from lightningstor_s3.xml_in import child_elements, child_text, iso_timestamp, local_name, parse
from lightningstor_types.errors import MalformedXML

# ---- in ------------------------------------------------------------------------------------


def lifecycle_configuration(body: bytes) -> list[lifecycle_pb2.LifecycleRule]:
    """The rules of a LifecycleConfiguration body, in order."""
    root = parse(body, "LifecycleConfiguration")
    if any(local_name(child.tag) != "Rule" for child in root):
        raise MalformedXML()
    return [_rule(element) for element in root]


def _rule(element: Element) -> lifecycle_pb2.LifecycleRule:
    rule = lifecycle_pb2.LifecycleRule(id=child_text(element, "ID") or uuid.uuid4().hex)
    status = child_text(element, "Status", required=True)
    if status not in ("Enabled", "Disabled"):
        raise MalformedXML()
    rule.enabled = status == "Enabled"
    filters = list(child_elements(element, "Filter"))
    v1_prefix = child_text(element, "Prefix")
    if len(filters) > 1 or (filters and v1_prefix is not None):
        raise MalformedXML()
    if filters:
        _filter(filters[0], rule.filter)
    elif v1_prefix is not None:
        rule.filter.prefix = v1_prefix
        rule.v1_prefix = True
    else:
        raise MalformedXML()
    for expiration in _one(element, "Expiration"):
        days = _int(expiration, "Days")
        date = _date(expiration, "Date")
        marker = _bool(expiration, "ExpiredObjectDeleteMarker")
        if days is not None and date is not None:
            raise MalformedXML()
        if days is None and date is None and marker is None:
            raise MalformedXML()
        if days is not None:
            rule.expiration_days = days
        if date is not None:
            rule.expiration_date.CopyFrom(date)
        rule.expired_object_delete_marker = bool(marker)
    for noncurrent in _one(element, "NoncurrentVersionExpiration"):
        days = _int(noncurrent, "NoncurrentDays", required=True)
        assert days is not None
        rule.noncurrent_days = days
        newer = _int(noncurrent, "NewerNoncurrentVersions")
        if newer is not None:
            rule.newer_noncurrent_versions = newer
    for abort in _one(element, "AbortIncompleteMultipartUpload"):
        days = _int(abort, "DaysAfterInitiation", required=True)
        assert days is not None
        rule.abort_incomplete_multipart_days = days
    for name, noncurrent_form in (("Transition", False), ("NoncurrentVersionTransition", True)):
        for transition in child_elements(element, name):
            item = rule.transitions.add(
                storage_class=child_text(transition, "StorageClass", required=True) or "",
                noncurrent=noncurrent_form,
            )
            days = _int(transition, "NoncurrentDays" if noncurrent_form else "Days")
            if days is not None:
                item.days = days
            date = None if noncurrent_form else _date(transition, "Date")
            if date is not None:
                item.date.CopyFrom(date)
    return rule


def _filter(element: Element, out: lifecycle_pb2.LifecycleFilter) -> None:
    conditions = list(element)
    if len(conditions) > 1:
        raise MalformedXML()  # several conditions go in And
    for condition in conditions:
        name = local_name(condition.tag)
        if name == "And":
            _conditions(condition, out, several=True)
        else:
            _conditions(element, out, several=False)


def _conditions(element: Element, out: lifecycle_pb2.LifecycleFilter, *, several: bool) -> None:
    known = {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan"}
    if any(local_name(child.tag) not in known for child in element):
        raise MalformedXML()
    out.prefix = child_text(element, "Prefix") or ""
    tags = list(child_elements(element, "Tag"))
    if len(tags) > 1 and not several:
        raise MalformedXML()
    for tag in tags:
        key = child_text(tag, "Key", required=True) or ""
        out.tags.append(common_pb2.Tag(key=key, value=child_text(tag, "Value") or ""))
    greater = _int(element, "ObjectSizeGreaterThan", bits=63)
    if greater is not None:
        out.object_size_greater_than = greater
    less = _int(element, "ObjectSizeLessThan", bits=63)
    if less is not None:
        out.object_size_less_than = less


def _one(element: Element, name: str) -> list[Element]:
    found = list(child_elements(element, name))
    if len(found) > 1:
        raise MalformedXML()
    return found


def _int(element: Element, name: str, *, required: bool = False, bits: int = 31) -> int | None:
    text = child_text(element, name, required=required)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise MalformedXML() from None
    if not -(2**bits) <= value < 2**bits:  # the message's int32 (days) or int64 (sizes)
        raise MalformedXML()
    return value


def _bool(element: Element, name: str) -> bool | None:
    text = child_text(element, name)
    if text is None:
        return None
    if text not in ("true", "false"):
        raise MalformedXML()
    return text == "true"


def _date(element: Element, name: str) -> Timestamp | None:
    text = child_text(element, name)
    return None if text is None else iso_timestamp(text)


# ---- out -----------------------------------------------------------------------------------


@dataclass(slots=True)
class And:
    prefix: str | None = None
    tag: list[Tag] = el("Tag")
    object_size_greater_than: int | None = None
    object_size_less_than: int | None = None


@dataclass(slots=True)
class Filter:
    prefix: str | None = None
    tag: Tag | None = None
    object_size_greater_than: int | None = None
    object_size_less_than: int | None = None
    and_: And | None = el("And")


@dataclass(slots=True)
class Expiration:
    date: Timestamp | None = None
    days: int | None = None
    expired_object_delete_marker: bool | None = None


@dataclass(slots=True)
class NoncurrentVersionExpiration:
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None


@dataclass(slots=True)
class AbortIncompleteMultipartUpload:
    days_after_initiation: int | None = None


@dataclass(slots=True)
class Rule:
    id: str = el("ID")
    filter: Filter | None = None
    prefix: str | None = None
    status: str = "Enabled"
    expiration: Expiration | None = None
    noncurrent_version_expiration: NoncurrentVersionExpiration | None = None
    abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload | None = None


@dataclass(slots=True)
class LifecycleConfiguration:
    rule: list[Rule] = el("Rule")


def document(rules: list[lifecycle_pb2.LifecycleRule]) -> LifecycleConfiguration:
    """The document GetBucketLifecycleConfiguration answers."""
    return LifecycleConfiguration([_rule_out(rule) for rule in rules])


def _rule_out(rule: lifecycle_pb2.LifecycleRule) -> Rule:
    out = Rule(id=rule.id, status="Enabled" if rule.enabled else "Disabled")
    if rule.v1_prefix:
        out.prefix = rule.filter.prefix
    else:
        out.filter = _filter_out(rule.filter)
    if rule.HasField("expiration_days") or rule.HasField("expiration_date"):
        out.expiration = Expiration(
            date=rule.expiration_date if rule.HasField("expiration_date") else None,
            days=rule.expiration_days if rule.HasField("expiration_days") else None,
        )
    elif rule.expired_object_delete_marker:
        out.expiration = Expiration(expired_object_delete_marker=True)
    if rule.HasField("noncurrent_days"):
        newer = (
            rule.newer_noncurrent_versions if rule.HasField("newer_noncurrent_versions") else None
        )
        out.noncurrent_version_expiration = NoncurrentVersionExpiration(rule.noncurrent_days, newer)
    if rule.HasField("abort_incomplete_multipart_days"):
        out.abort_incomplete_multipart_upload = AbortIncompleteMultipartUpload(
            rule.abort_incomplete_multipart_days
        )
    return out


def _filter_out(flt: lifecycle_pb2.LifecycleFilter) -> Filter:
    greater = flt.object_size_greater_than if flt.HasField("object_size_greater_than") else None
    less = flt.object_size_less_than if flt.HasField("object_size_less_than") else None
    tags = [Tag(t.key, t.value) for t in flt.tags]
    conditions = (1 if flt.prefix else 0) + len(tags) + (greater is not None) + (less is not None)
    if conditions > 1:
        return Filter(and_=And(flt.prefix or None, tags, greater, less))
    if tags:
        return Filter(tag=tags[0])
    if greater is not None or less is not None:
        return Filter(object_size_greater_than=greater, object_size_less_than=less)
    return Filter(prefix=flt.prefix)
