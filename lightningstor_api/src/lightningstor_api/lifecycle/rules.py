"""Validation of a lifecycle configuration, with S3's errors for each mistake.

The S3 facade parses the XML (its shape errors are ``MalformedXML`` there); what it cannot see
from the shape alone is checked here, so the gRPC API refuses the same configurations.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from lightningstor.v1 import lifecycle_pb2
from lightningstor_types.errors import (
    InvalidArgument,
    InvalidRequest,
    InvalidStorageClass,
    MalformedXML,
    MaxMessageLengthExceeded,
)
from lightningstor_types.naming import validate_tags

MAX_RULES = 1000
MAX_ENCODED_BYTES = 128 * 1024
"""Largest configuration kept: it lives in the bucket record, which every request on the bucket
reads (1,000 rules with short prefixes encode to ~30 KiB)."""
MAX_ID_LENGTH = 255
_DAY_SECONDS = 86400


def validate(rules: Sequence[lifecycle_pb2.LifecycleRule]) -> None:
    """Raise the error S3 gives for the first mistake of ``rules``; nothing when they are valid."""
    if not rules or len(rules) > MAX_RULES:
        raise MalformedXML(f"A lifecycle configuration has 1 to {MAX_RULES} rules")
    if sum(rule.ByteSize() for rule in rules) > MAX_ENCODED_BYTES:
        raise MaxMessageLengthExceeded(
            f"A lifecycle configuration is at most {MAX_ENCODED_BYTES // 1024} KiB encoded"
        )
    ids: set[str] = set()
    for rule in rules:
        if len(rule.id) > MAX_ID_LENGTH:
            raise InvalidArgument(
                f"ID length should not exceed allowed limit of {MAX_ID_LENGTH}",
                ArgumentName="ID",
                ArgumentValue=rule.id,
            )
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in rule.id):
            # The ID is sent back in the x-amz-expiration header: no line breaks in it.
            raise InvalidArgument("ID must not contain control characters", ArgumentName="ID")
        if rule.id in ids:
            raise InvalidArgument(
                "Rule ID must be unique. Found same ID for more than one rule",
                ArgumentName="ID",
                ArgumentValue=rule.id,
            )
        ids.add(rule.id)
        _check_rule(rule)
    versions = {rule.v1_prefix for rule in rules}
    if len(versions) > 1:
        raise InvalidRequest("Filter element can only be used in Lifecycle V2")
    if versions == {True}:
        _check_v1_overlaps(rules)


def _check_rule(rule: lifecycle_pb2.LifecycleRule) -> None:
    flt = rule.filter
    validate_tags([(t.key, t.value) for t in flt.tags], object_tags=True)
    greater = flt.object_size_greater_than if flt.HasField("object_size_greater_than") else None
    less = flt.object_size_less_than if flt.HasField("object_size_less_than") else None
    if (greater is not None and greater < 0) or (less is not None and less <= 0):
        raise InvalidArgument("Object size filters must be positive", ArgumentName="Filter")
    if greater is not None and less is not None and greater >= less:
        raise InvalidArgument(
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan", ArgumentName="Filter"
        )
    has_expiration = rule.HasField("expiration_days") or rule.HasField("expiration_date")
    if rule.HasField("expiration_days") and rule.expiration_days <= 0:
        raise InvalidArgument(
            "'Days' for Expiration action must be a positive integer",
            ArgumentName="Days",
            ArgumentValue=str(rule.expiration_days),
        )
    if rule.HasField("expiration_date"):
        _check_midnight(rule.expiration_date.seconds, rule.expiration_date.nanos)
    if rule.expired_object_delete_marker:
        if has_expiration:
            raise InvalidArgument(
                "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle "
                "Expiration Policy",
                ArgumentName="ExpiredObjectDeleteMarker",
            )
        if flt.tags:
            raise InvalidRequest("Tag-based filter cannot be used with ExpiredObjectDeleteMarker")
    if rule.HasField("noncurrent_days") and rule.noncurrent_days <= 0:
        raise InvalidArgument(
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
            ArgumentName="NoncurrentDays",
            ArgumentValue=str(rule.noncurrent_days),
        )
    if rule.HasField("newer_noncurrent_versions"):
        if not rule.HasField("noncurrent_days"):
            raise InvalidArgument(
                "NewerNoncurrentVersions requires NoncurrentDays", ArgumentName="NoncurrentDays"
            )
        if not 0 < rule.newer_noncurrent_versions <= 100:
            raise InvalidArgument(
                "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a "
                "positive integer up to 100",
                ArgumentName="NewerNoncurrentVersions",
                ArgumentValue=str(rule.newer_noncurrent_versions),
            )
    if rule.HasField("abort_incomplete_multipart_days"):
        if rule.abort_incomplete_multipart_days <= 0:
            raise InvalidArgument(
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a "
                "positive integer",
                ArgumentName="DaysAfterInitiation",
                ArgumentValue=str(rule.abort_incomplete_multipart_days),
            )
        if (
            flt.tags
            or flt.HasField("object_size_greater_than")
            or flt.HasField("object_size_less_than")
        ):
            raise InvalidRequest(
                "AbortIncompleteMultipartUpload cannot be specified with Tags or object size "
                "filters"
            )
    for transition in rule.transitions:
        # No storage class stands behind a transition here; S3's answer for a class it does
        # not have.
        raise InvalidStorageClass(StorageClassRequested=transition.storage_class)
    if not (
        has_expiration
        or rule.expired_object_delete_marker
        or rule.HasField("noncurrent_days")
        or rule.HasField("abort_incomplete_multipart_days")
    ):
        raise InvalidRequest("At least one action needs to be specified in a rule")


_FIRST_DAY, _LAST_DAY = -62135596800, 253402214400
"""0001-01-01 and 9999-12-31 at midnight UTC: a gRPC Timestamp can hold dates past either, which
no S3 answer can write (a stored one made every GetBucketLifecycleConfiguration a 500)."""


def _check_midnight(seconds: int, nanos: int) -> None:
    if seconds % _DAY_SECONDS or nanos:
        raise InvalidArgument(
            "'Date' must be at midnight GMT", ArgumentName="Date", ArgumentValue=str(seconds)
        )
    if not _FIRST_DAY <= seconds <= _LAST_DAY:
        raise InvalidArgument(
            "'Date' must be a date of the years 1 to 9999",
            ArgumentName="Date",
            ArgumentValue=str(seconds),
        )


def _actions(rule: lifecycle_pb2.LifecycleRule) -> set[str]:
    """The action types a rule has (the unit of S3's V1 overlap check)."""
    names = set()
    if (
        rule.HasField("expiration_days")
        or rule.HasField("expiration_date")
        or rule.expired_object_delete_marker
    ):
        names.add("Expiration")
    if rule.HasField("noncurrent_days"):
        names.add("NoncurrentVersionExpiration")
    if rule.HasField("abort_incomplete_multipart_days"):
        names.add("AbortIncompleteMultipartUpload")
    return names


def _check_v1_overlaps(rules: Sequence[lifecycle_pb2.LifecycleRule]) -> None:
    """Lifecycle V1 (prefixes outside a Filter): two enabled rules whose prefixes overlap may not
    share an action type (V2 filters may overlap: the earliest action wins)."""
    for name in ("Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload"):
        prefixes = sorted(r.filter.prefix for r in rules if name in _actions(r))
        for shorter, longer in itertools.pairwise(prefixes):
            if longer.startswith(shorter):
                raise InvalidRequest(
                    f"Found overlapping prefixes '{shorter}' and '{longer}' for same action type "
                    f"'{name}'"
                )
