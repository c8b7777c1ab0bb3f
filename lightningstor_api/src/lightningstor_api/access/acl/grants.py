"""ACL grants: the canned ACLs, checking what a request asks for, and what a grant allows.

A request carries an :class:`AccessControlList` with a canned name or grants (never both); it
is resolved here into what is stored: the owner and explicit grants (a canned ACL expanded as
AWS expands it). Evaluation (:func:`grant_allowing`) matches the caller against the grantees:
``CanonicalUser`` by its canonical identity (``principal_arn``), ``AllUsers`` everyone,
anonymous callers included, ``AuthenticatedUsers`` every signed caller of any org (AWS: any
account), ``LogDelivery`` nobody (no log delivery exists).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

from lightningstor.v1 import common_pb2
from lightningstor_types.actions import Action
from lightningstor_types.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidRequest,
    MalformedACLError,
)
from lightningstor_types.scope import Principal, principal_arn

CANONICAL_USER: Final = "CanonicalUser"
GROUP: Final = "Group"
ALL_USERS: Final = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS: Final = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY: Final = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS: Final = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
PUBLIC_GROUPS: Final = frozenset({ALL_USERS, AUTHENTICATED_USERS})
"""What AWS counts as a public ACL (BlockPublicAcls, IgnorePublicAcls)."""

READ: Final = "READ"
WRITE: Final = "WRITE"
READ_ACP: Final = "READ_ACP"
WRITE_ACP: Final = "WRITE_ACP"
FULL_CONTROL: Final = "FULL_CONTROL"
PERMISSIONS: Final = (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL)

_A = Action
BUCKET_PERMISSIONS: Final[Mapping[Action, str]] = MappingProxyType(
    {
        _A.OBJECTS_LIST: READ,
        _A.BUCKETS_GET: READ,
        _A.UPLOADS_LIST: READ,
        _A.OBJECTS_PUT: WRITE,
        _A.OBJECTS_COPY: WRITE,
        _A.OBJECTS_DELETE: WRITE,
        _A.UPLOADS_CREATE: WRITE,
        _A.UPLOADS_WRITE: WRITE,
        _A.UPLOADS_COMPLETE: WRITE,
        _A.UPLOADS_ABORT: WRITE,
        _A.BUCKETS_ACL_READ: READ_ACP,
        _A.BUCKETS_ACL_WRITE: WRITE_ACP,
    }
)
"""What a bucket grant's permission allows (FULL_CONTROL: all of them)."""

OBJECT_PERMISSIONS: Final[Mapping[Action, str]] = MappingProxyType(
    {
        _A.OBJECTS_GET: READ,
        _A.OBJECTS_ACL_READ: READ_ACP,
        _A.OBJECTS_ACL_WRITE: WRITE_ACP,
    }
)
"""What an object grant's permission allows (FULL_CONTROL: all of them)."""

CANNED: Final = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)

# The owner's FULL_CONTROL is part of every canned ACL; these are the grants beyond it.
_CANNED_EXTRA: Final[Mapping[str, tuple[tuple[str, str], ...]]] = MappingProxyType(
    {
        "private": (),
        "public-read": ((ALL_USERS, READ),),
        "public-read-write": ((ALL_USERS, READ), (ALL_USERS, WRITE)),
        "authenticated-read": ((AUTHENTICATED_USERS, READ),),
        "bucket-owner-read": (),
        "bucket-owner-full-control": (),
        "log-delivery-write": ((LOG_DELIVERY, WRITE), (LOG_DELIVERY, READ_ACP)),
    }
)

_USER_ARN = re.compile(r"arn:aws:iam::[a-z0-9][a-z0-9-]*:user/(?:[a-z0-9][a-z0-9._-]*/)?[^/:]+")

Known = Callable[[str], bool]
"""Whether a canonical id names a principal that exists (the authorizer's directory)."""


def user(canonical_id: str, permission: str) -> common_pb2.Grant:
    return common_pb2.Grant(grantee_type=CANONICAL_USER, id=canonical_id, permission=permission)


def group(uri: str, permission: str) -> common_pb2.Grant:
    return common_pb2.Grant(grantee_type=GROUP, uri=uri, permission=permission)


def private(owner_id: str) -> common_pb2.AccessControlList:
    """The ACL of a resource that was given none: its owner's FULL_CONTROL."""
    return common_pb2.AccessControlList(owner_id=owner_id, grants=[user(owner_id, FULL_CONTROL)])


def is_public(acl: common_pb2.AccessControlList) -> bool:
    return any(g.grantee_type == GROUP and g.uri in PUBLIC_GROUPS for g in acl.grants)


def resolve(
    asked: common_pb2.AccessControlList,
    owner_id: str,
    *,
    bucket_owner_id: str | None,
    known: Known,
) -> common_pb2.AccessControlList:
    """What to store for the ACL ``asked`` of a resource owned by ``owner_id`` (an object's
    ``bucket_owner_id`` serves bucket-owner-read / -full-control): the canned ACL expanded, or
    the grants checked. InvalidRequest for both; InvalidArgument for a bad canned name or a
    grantee that does not exist; MalformedACLError for a grant that is no grant."""
    if asked.canned and asked.grants:
        raise InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    if asked.owner_id and asked.owner_id != owner_id:  # an ACL never changes the owner
        raise AccessDenied("The Owner of an AccessControlPolicy must be the resource's owner")
    acl = private(owner_id)
    if asked.grants:
        del acl.grants[:]
        for g in asked.grants:
            acl.grants.append(_checked(g, known))
        return acl
    canned = asked.canned or "private"
    if canned not in _CANNED_EXTRA:
        raise InvalidArgument(ArgumentName="x-amz-acl", ArgumentValue=canned)
    for uri, permission in _CANNED_EXTRA[canned]:
        acl.grants.append(group(uri, permission))
    if bucket_owner_id and bucket_owner_id != owner_id:
        if canned == "bucket-owner-read":
            acl.grants.append(user(bucket_owner_id, READ))
        elif canned == "bucket-owner-full-control":
            acl.grants.append(user(bucket_owner_id, FULL_CONTROL))
    return acl


def _checked(g: common_pb2.Grant, known: Known) -> common_pb2.Grant:
    if g.permission not in PERMISSIONS:
        raise MalformedACLError()
    if g.grantee_type == GROUP:
        if g.uri not in GROUPS:
            raise InvalidArgument("Invalid group uri", ArgumentName="uri", ArgumentValue=g.uri)
        return group(g.uri, g.permission)
    if g.grantee_type != CANONICAL_USER or not g.id:
        raise MalformedACLError()
    if _USER_ARN.fullmatch(g.id) is None or not known(g.id):
        raise InvalidArgument("Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=g.id)
    return user(g.id, g.permission)


def grant_allowing(
    acl: common_pb2.AccessControlList,
    caller: Principal | None,
    permission: str,
    *,
    ignore_public: bool,
) -> str | None:
    """The first grant of ``acl`` giving ``caller`` (None: anonymous) ``permission``, as the
    decision's reason names it; public grants do not count when ``ignore_public``."""
    arn = principal_arn(caller) if caller is not None else None
    for g in acl.grants:
        if g.permission not in (permission, FULL_CONTROL):
            continue
        if g.grantee_type == GROUP:
            if ignore_public and g.uri in PUBLIC_GROUPS:
                continue
            if g.uri == ALL_USERS or (g.uri == AUTHENTICATED_USERS and caller is not None):
                return f"{g.permission} to {g.uri.rsplit('/', 1)[-1]}"
        elif arn is not None and g.id == arn:
            return f"{g.permission} to {g.id}"
    return None
