"""Object Ownership (S3's ownership controls): whether ACLs are in effect, who owns new objects.

``BucketOwnerEnforced``: ACLs are off — a write asking for any ACL but ``private`` or
``bucket-owner-full-control`` is refused (``AccessControlListNotSupported``), GET ``?acl``
answers the bucket owner's FULL_CONTROL, no grant allows anything, and new objects belong to
the bucket owner. ``BucketOwnerPreferred``: ACLs work; an object written with
``bucket-owner-full-control`` belongs to the bucket owner. ``ObjectWriter`` (the default, kept
as an empty field): ACLs work and the writer owns what it writes — what ``aws s3 cp --acl
public-read``, rclone's ``acl`` and boto3's ``ACL=`` expect, as Ceph RGW and S3 before April
2023 behave.
"""

from __future__ import annotations

from typing import Final

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2
from lightningstor_api.access.acl.grants import CANONICAL_USER, FULL_CONTROL
from lightningstor_types.errors import AccessControlListNotSupported, MalformedXML

ENFORCED: Final = "BucketOwnerEnforced"
PREFERRED: Final = "BucketOwnerPreferred"
WRITER: Final = "ObjectWriter"
SETTINGS: Final = (ENFORCED, PREFERRED, WRITER)
DEFAULT: Final = WRITER
_ALLOWED_WHEN_ENFORCED: Final = frozenset({"", "private", "bucket-owner-full-control"})


def ownership_of(rec: records_pb2.BucketRecord) -> str:
    return rec.object_ownership or DEFAULT


def acls_enabled(rec: records_pb2.BucketRecord) -> bool:
    return ownership_of(rec) != ENFORCED


def check_setting(value: str) -> str:
    """``value`` if it is an Object Ownership setting (empty: the default); else MalformedXML
    (AWS's answer to an unknown ObjectOwnership)."""
    if not value:
        return DEFAULT
    if value not in SETTINGS:
        raise MalformedXML(f"Invalid ObjectOwnership {value!r}")
    return value


def refuse_if_enforced(ownership: str, asked: common_pb2.AccessControlList) -> None:
    """AccessControlListNotSupported for an ACL a bucket with ACLs off cannot take."""
    if ownership == ENFORCED and (asked.grants or asked.canned not in _ALLOWED_WHEN_ENFORCED):
        raise AccessControlListNotSupported()


def only_owner(acl: common_pb2.AccessControlList) -> bool:
    """Whether ``acl`` grants nothing beyond its owner's FULL_CONTROL."""
    return all(
        g.grantee_type == CANONICAL_USER and g.id == acl.owner_id and g.permission == FULL_CONTROL
        for g in acl.grants
    )
