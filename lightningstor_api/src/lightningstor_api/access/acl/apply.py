"""The ACL and owner a write gives what it creates (CreateBucket, PutObject, CopyObject,
CreateMultipartUpload) or replaces (PutBucketAcl, PutObjectAcl)."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, common_pb2
from lightningstor_api.access.acl import grants
from lightningstor_api.access.acl.ownership import (
    ENFORCED,
    PREFERRED,
    check_setting,
    only_owner,
    ownership_of,
    refuse_if_enforced,
)
from lightningstor_api.access.policy.principal import PrincipalError, parse_principal
from lightningstor_api.authz import Authorizer, PrincipalDirectory
from lightningstor_types.errors import AccessDenied
from lightningstor_types.scope import Principal


def known_by(authorizer: Authorizer) -> grants.Known:
    """Whether a canonical id names a principal the IAM knows; an IAM that cannot tell (an
    external one) accepts every well-formed id."""
    if not isinstance(authorizer, PrincipalDirectory):
        return lambda _id: True
    directory = authorizer

    def known(canonical_id: str) -> bool:
        try:
            (pattern,) = parse_principal({"AWS": canonical_id})
        except (PrincipalError, ValueError):
            return False
        if pattern.org is None or pattern.principal_id is None:
            return False
        return directory.knows(Principal(pattern.principal_id, pattern.org, pattern.project))

    return known


def asks(acl: common_pb2.AccessControlList) -> bool:
    """Whether a request's ACL asks for anything (a canned name or grants)."""
    return bool(acl.canned or acl.grants)


def checked(
    asked: common_pb2.AccessControlList,
    owner_id: str,
    bucket: records_pb2.BucketRecord | None,
    authorizer: Authorizer,
) -> common_pb2.AccessControlList:
    """The ACL to store for ``asked`` on a resource of ``owner_id`` (in ``bucket``: an
    object's), refused as a public ACL where the bucket's BlockPublicAcls says so."""
    acl = grants.resolve(
        asked,
        owner_id,
        bucket_owner_id=bucket.owner_id if bucket is not None else None,
        known=known_by(authorizer),
    )
    if (
        bucket is not None
        and grants.is_public(acl)
        and bucket.public_access_block.block_public_acls
    ):
        raise AccessDenied("The bucket's public access block refuses public ACLs")
    return acl


def new_object(
    bucket: records_pb2.BucketRecord,
    asked: common_pb2.AccessControlList,
    writer_id: str,
    authorizer: Authorizer,
) -> tuple[str, common_pb2.AccessControlList | None]:
    """The owner and the ACL (None: private) of an object ``writer_id`` writes into ``bucket``
    asking for ``asked``; AccessControlListNotSupported where the bucket has ACLs off."""
    ownership = ownership_of(bucket)
    refuse_if_enforced(ownership, asked)
    to_bucket = ownership == ENFORCED or (
        ownership == PREFERRED and asked.canned == "bucket-owner-full-control"
    )
    owner = bucket.owner_id if to_bucket and bucket.owner_id else writer_id
    if ownership == ENFORCED or not asks(asked):
        return owner, None
    acl = checked(asked, owner, bucket, authorizer)
    return owner, None if only_owner(acl) else acl


def new_bucket(
    req: bucket_pb2.CreateBucketRequest, owner_id: str, authorizer: Authorizer
) -> tuple[str, common_pb2.AccessControlList | None]:
    """The Object Ownership (empty: the default) and the ACL (None: private) of a bucket
    ``owner_id`` creates as ``req`` asks."""
    ownership = check_setting(req.object_ownership) if req.object_ownership else ""
    refuse_if_enforced(ownership, req.acl)
    if ownership == ENFORCED or not asks(req.acl):
        return ownership, None
    acl = checked(req.acl, owner_id, None, authorizer)
    return ownership, None if only_owner(acl) else acl
