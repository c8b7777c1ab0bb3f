"""The ACL and owner a write gives what it creates (CreateBucket, PutObject, CopyObject,
CreateMultipartUpload) or replaces (PutBucketAcl, PutObjectAcl)."""

from __future__ import annotations

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
from lightningstor_api.core.context import BucketRef, CoreContext
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


async def checked(
    cc: CoreContext, ref: BucketRef, asked: common_pb2.AccessControlList, owner_id: str
) -> common_pb2.AccessControlList:
    """The ACL to store for ``asked`` on a resource of ``owner_id`` in (or being) the bucket
    ``ref``, refused as a public ACL where the block in force says BlockPublicAcls."""
    acl = grants.resolve(
        asked, owner_id, bucket_owner_id=ref.record.owner_id, known=known_by(cc.authorizer)
    )
    if grants.is_public(acl) and (await cc.public_access_block(ref)).block_public_acls:
        raise AccessDenied("The bucket's public access block refuses public ACLs")
    return acl


async def new_object(
    cc: CoreContext, ref: BucketRef, asked: common_pb2.AccessControlList, writer_id: str
) -> tuple[str, common_pb2.AccessControlList | None]:
    """The owner and the ACL (None: private) of an object ``writer_id`` writes into the bucket
    ``ref`` asking for ``asked``; AccessControlListNotSupported where the bucket has ACLs off."""
    bucket = ref.record
    ownership = ownership_of(bucket)
    refuse_if_enforced(ownership, asked)
    to_bucket = ownership == ENFORCED or (
        ownership == PREFERRED and asked.canned == "bucket-owner-full-control"
    )
    owner = bucket.owner_id if to_bucket and bucket.owner_id else writer_id
    if ownership == ENFORCED or not asks(asked):
        return owner, None
    acl = await checked(cc, ref, asked, owner)
    return owner, None if only_owner(acl) else acl


def new_bucket(
    req: bucket_pb2.CreateBucketRequest, owner_id: str, authorizer: Authorizer
) -> tuple[str, common_pb2.AccessControlList | None]:
    """The Object Ownership (empty: the default) and the ACL (None: private) of a bucket
    ``owner_id`` creates as ``req`` asks (no bucket yet: no public access block of its own)."""
    ownership = check_setting(req.object_ownership) if req.object_ownership else ""
    refuse_if_enforced(ownership, req.acl)
    if ownership == ENFORCED or not asks(req.acl):
        return ownership, None
    acl = grants.resolve(req.acl, owner_id, bucket_owner_id=None, known=known_by(authorizer))
    return ownership, None if only_owner(acl) else acl
