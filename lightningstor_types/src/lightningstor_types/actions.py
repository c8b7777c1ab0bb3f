"""Action names for authorization, and the action each API operation needs.

See docs/architecture.md §7.

Names have the form ``lightningstor:<resource>:<verb>`` (with a sub-resource in between where
there is one: ``lightningstor:buckets:tagging:write``); the specification's names
(``buckets:{create,get,delete,list}``, ``objects:{put,get,delete,list,copy}``,
``uploads:{create,complete,abort}``) are used as they are, and :data:`LEGACY_ACTIONS` keeps the
earlier names working in roles. :data:`S3_ACTIONS` maps every S3 action to ours. Operations are
named as the gRPC RPCs and S3 operations are; the two APIs share the names, so one table serves
both.

Copies need two decisions: :data:`OPERATION_ACTIONS` gives the action on the destination
(``CopyObject`` copies into an object, ``UploadPartCopy`` writes a part), and
:data:`COPY_SOURCE_ACTION` is the action needed on the source object. A repairing
``CheckConsistency`` likewise also needs :data:`REPAIR_ACTION`, and a ``CreateAccessKey`` for
an identity other than the caller's own :data:`KEY_FOR_OTHERS_ACTION`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


class Action(enum.StrEnum):
    """Everything a principal can be allowed to do."""

    BUCKETS_CREATE = "lightningstor:buckets:create"
    BUCKETS_GET = "lightningstor:buckets:get"
    BUCKETS_LIST = "lightningstor:buckets:list"
    BUCKETS_DELETE = "lightningstor:buckets:delete"
    BUCKETS_VERSIONING_READ = "lightningstor:buckets:versioning:read"
    BUCKETS_VERSIONING_WRITE = "lightningstor:buckets:versioning:write"
    BUCKETS_TAGGING_READ = "lightningstor:buckets:tagging:read"
    BUCKETS_TAGGING_WRITE = "lightningstor:buckets:tagging:write"
    BUCKETS_CORS_READ = "lightningstor:buckets:cors:read"
    BUCKETS_CORS_WRITE = "lightningstor:buckets:cors:write"
    BUCKETS_LIFECYCLE_READ = "lightningstor:buckets:lifecycle:read"
    BUCKETS_LIFECYCLE_WRITE = "lightningstor:buckets:lifecycle:write"
    BUCKETS_OBJECT_LOCK_READ = "lightningstor:buckets:objectlock:read"
    BUCKETS_OBJECT_LOCK_WRITE = "lightningstor:buckets:objectlock:write"
    BUCKETS_POLICY_READ = "lightningstor:buckets:policy:read"
    BUCKETS_POLICY_WRITE = "lightningstor:buckets:policy:write"
    BUCKETS_PUBLIC_ACCESS_BLOCK_READ = "lightningstor:buckets:publicaccessblock:read"
    BUCKETS_PUBLIC_ACCESS_BLOCK_WRITE = "lightningstor:buckets:publicaccessblock:write"
    BUCKETS_ENCRYPTION_READ = "lightningstor:buckets:encryption:read"
    BUCKETS_ENCRYPTION_WRITE = "lightningstor:buckets:encryption:write"
    BUCKETS_ACL_READ = "lightningstor:buckets:acl:read"
    BUCKETS_ACL_WRITE = "lightningstor:buckets:acl:write"
    BUCKETS_OWNERSHIP_READ = "lightningstor:buckets:ownership:read"
    BUCKETS_OWNERSHIP_WRITE = "lightningstor:buckets:ownership:write"

    OBJECTS_PUT = "lightningstor:objects:put"
    OBJECTS_GET = "lightningstor:objects:get"
    OBJECTS_COPY = "lightningstor:objects:copy"
    OBJECTS_LIST = "lightningstor:objects:list"
    OBJECTS_DELETE = "lightningstor:objects:delete"
    OBJECTS_TAGGING_READ = "lightningstor:objects:tagging:read"
    OBJECTS_TAGGING_WRITE = "lightningstor:objects:tagging:write"
    OBJECTS_ACL_READ = "lightningstor:objects:acl:read"
    OBJECTS_ACL_WRITE = "lightningstor:objects:acl:write"
    OBJECTS_RETENTION_READ = "lightningstor:objects:retention:read"
    OBJECTS_RETENTION_WRITE = "lightningstor:objects:retention:write"
    OBJECTS_LEGAL_HOLD_READ = "lightningstor:objects:legalhold:read"
    OBJECTS_LEGAL_HOLD_WRITE = "lightningstor:objects:legalhold:write"
    # Outside objects:* on purpose: the built-in editor role does not get it (S3's
    # s3:BypassGovernanceRetention); admin does, through lightningstor:*.
    RETENTION_BYPASS_GOVERNANCE = "lightningstor:retention:bypassgovernance"

    UPLOADS_CREATE = "lightningstor:uploads:create"
    UPLOADS_COMPLETE = "lightningstor:uploads:complete"
    UPLOADS_WRITE = "lightningstor:uploads:write"
    UPLOADS_LIST = "lightningstor:uploads:list"
    UPLOADS_ABORT = "lightningstor:uploads:abort"

    CREDENTIALS_CREATE = "lightningstor:credentials:create"
    CREDENTIALS_CREATE_OTHERS = "lightningstor:credentials:create:others"
    CREDENTIALS_LIST = "lightningstor:credentials:list"
    CREDENTIALS_DELETE = "lightningstor:credentials:delete"

    USAGE_READ = "lightningstor:usage:read"
    QUOTAS_READ = "lightningstor:quotas:read"
    QUOTAS_WRITE = "lightningstor:quotas:write"

    # The embedded IAM's tenants at runtime (IamAdminService).
    IAM_READ = "lightningstor:iam:read"
    IAM_WRITE = "lightningstor:iam:write"

    # The org-wide public access block (resource ``org/{org}``): the org's admin, as an AWS
    # account sets its own; outside buckets:* so an editor cannot lift it.
    ORGS_PUBLIC_ACCESS_BLOCK_READ = "lightningstor:orgs:publicaccessblock:read"
    ORGS_PUBLIC_ACCESS_BLOCK_WRITE = "lightningstor:orgs:publicaccessblock:write"

    # Operator calls, platform-wide (resource ``org/*``, see resources.PLATFORM_RESOURCE).
    ADMIN_READ = "lightningstor:admin:read"
    ADMIN_GC = "lightningstor:admin:gc"
    ADMIN_REPAIR = "lightningstor:admin:repair"
    ADMIN_REWRAP = "lightningstor:admin:rewrap"


_A = Action

OPERATION_ACTIONS: Final[Mapping[str, Action]] = MappingProxyType(
    {
        # buckets
        "CreateBucket": _A.BUCKETS_CREATE,
        "HeadBucket": _A.BUCKETS_GET,
        "GetBucketLocation": _A.BUCKETS_GET,
        "ListBuckets": _A.BUCKETS_LIST,
        "DeleteBucket": _A.BUCKETS_DELETE,
        "GetBucketVersioning": _A.BUCKETS_VERSIONING_READ,
        "PutBucketVersioning": _A.BUCKETS_VERSIONING_WRITE,
        "GetBucketTagging": _A.BUCKETS_TAGGING_READ,
        "PutBucketTagging": _A.BUCKETS_TAGGING_WRITE,
        "DeleteBucketTagging": _A.BUCKETS_TAGGING_WRITE,
        "GetBucketCors": _A.BUCKETS_CORS_READ,
        "PutBucketCors": _A.BUCKETS_CORS_WRITE,
        "DeleteBucketCors": _A.BUCKETS_CORS_WRITE,
        "GetBucketLifecycleConfiguration": _A.BUCKETS_LIFECYCLE_READ,
        "PutBucketLifecycleConfiguration": _A.BUCKETS_LIFECYCLE_WRITE,
        "DeleteBucketLifecycleConfiguration": _A.BUCKETS_LIFECYCLE_WRITE,
        "GetObjectLockConfiguration": _A.BUCKETS_OBJECT_LOCK_READ,
        "PutObjectLockConfiguration": _A.BUCKETS_OBJECT_LOCK_WRITE,
        "GetBucketPolicy": _A.BUCKETS_POLICY_READ,
        "GetBucketPolicyStatus": _A.BUCKETS_POLICY_READ,
        "PutBucketPolicy": _A.BUCKETS_POLICY_WRITE,
        "DeleteBucketPolicy": _A.BUCKETS_POLICY_WRITE,
        "ExplainAccess": _A.BUCKETS_POLICY_READ,
        "GetPublicAccessBlock": _A.BUCKETS_PUBLIC_ACCESS_BLOCK_READ,
        "PutPublicAccessBlock": _A.BUCKETS_PUBLIC_ACCESS_BLOCK_WRITE,
        "DeletePublicAccessBlock": _A.BUCKETS_PUBLIC_ACCESS_BLOCK_WRITE,
        "GetBucketEncryption": _A.BUCKETS_ENCRYPTION_READ,
        "PutBucketEncryption": _A.BUCKETS_ENCRYPTION_WRITE,
        "DeleteBucketEncryption": _A.BUCKETS_ENCRYPTION_WRITE,
        "GetBucketAcl": _A.BUCKETS_ACL_READ,
        "PutBucketAcl": _A.BUCKETS_ACL_WRITE,
        "GetBucketOwnershipControls": _A.BUCKETS_OWNERSHIP_READ,
        "PutBucketOwnershipControls": _A.BUCKETS_OWNERSHIP_WRITE,
        "DeleteBucketOwnershipControls": _A.BUCKETS_OWNERSHIP_WRITE,
        # objects
        "PutObject": _A.OBJECTS_PUT,
        "CopyObject": _A.OBJECTS_COPY,
        "GetObject": _A.OBJECTS_GET,
        "HeadObject": _A.OBJECTS_GET,
        "GetObjectAttributes": _A.OBJECTS_GET,
        "ListObjects": _A.OBJECTS_LIST,
        "ListObjectsV2": _A.OBJECTS_LIST,
        "ListObjectVersions": _A.OBJECTS_LIST,
        "DeleteObject": _A.OBJECTS_DELETE,
        "DeleteObjects": _A.OBJECTS_DELETE,
        "GetObjectTagging": _A.OBJECTS_TAGGING_READ,
        "PutObjectTagging": _A.OBJECTS_TAGGING_WRITE,
        "DeleteObjectTagging": _A.OBJECTS_TAGGING_WRITE,
        "GetObjectAcl": _A.OBJECTS_ACL_READ,
        "PutObjectAcl": _A.OBJECTS_ACL_WRITE,
        "GetObjectRetention": _A.OBJECTS_RETENTION_READ,
        "PutObjectRetention": _A.OBJECTS_RETENTION_WRITE,
        "GetObjectLegalHold": _A.OBJECTS_LEGAL_HOLD_READ,
        "PutObjectLegalHold": _A.OBJECTS_LEGAL_HOLD_WRITE,
        # multipart uploads
        "CreateMultipartUpload": _A.UPLOADS_CREATE,
        "UploadPart": _A.UPLOADS_WRITE,
        "UploadPartCopy": _A.UPLOADS_WRITE,
        "CompleteMultipartUpload": _A.UPLOADS_COMPLETE,
        "AbortMultipartUpload": _A.UPLOADS_ABORT,
        "ListMultipartUploads": _A.UPLOADS_LIST,
        "ListParts": _A.UPLOADS_LIST,
        # credentials
        "CreateAccessKey": _A.CREDENTIALS_CREATE,
        "ListAccessKeys": _A.CREDENTIALS_LIST,
        "DeleteAccessKey": _A.CREDENTIALS_DELETE,
        # usage and quotas
        "GetUsage": _A.USAGE_READ,
        "GetQuota": _A.QUOTAS_READ,
        "SetQuota": _A.QUOTAS_WRITE,
        "DeleteQuota": _A.QUOTAS_WRITE,
        # tenants (embedded IAM)
        "PutRole": _A.IAM_WRITE,
        "DeleteRole": _A.IAM_WRITE,
        "ListRoles": _A.IAM_READ,
        "PutGroup": _A.IAM_WRITE,
        "DeleteGroup": _A.IAM_WRITE,
        "ListGroups": _A.IAM_READ,
        "CreateBinding": _A.IAM_WRITE,
        "DeleteBinding": _A.IAM_WRITE,
        "ListBindings": _A.IAM_READ,
        "ListPrincipals": _A.IAM_READ,
        # operators
        "ListAllBuckets": _A.ADMIN_READ,
        "GetGcStatus": _A.ADMIN_READ,
        "RunGc": _A.ADMIN_GC,
        "GetStorageStatus": _A.ADMIN_READ,
        "CheckConsistency": _A.ADMIN_READ,
        "GetOrgPublicAccessBlock": _A.ORGS_PUBLIC_ACCESS_BLOCK_READ,
        "PutOrgPublicAccessBlock": _A.ORGS_PUBLIC_ACCESS_BLOCK_WRITE,
        "DeleteOrgPublicAccessBlock": _A.ORGS_PUBLIC_ACCESS_BLOCK_WRITE,
        "RewrapKeys": _A.ADMIN_REWRAP,
    }
)
"""Every API operation (gRPC RPC / S3 operation name) and the action it is authorized with."""

S3_ACTIONS: Final[Mapping[str, tuple[Action, ...]]] = MappingProxyType(
    {
        "s3:CreateBucket": (_A.BUCKETS_CREATE,),
        "s3:DeleteBucket": (_A.BUCKETS_DELETE,),
        "s3:ListAllMyBuckets": (_A.BUCKETS_LIST,),
        # HeadBucket needs s3:ListBucket in AWS, so both name our bucket read.
        "s3:ListBucket": (_A.OBJECTS_LIST, _A.BUCKETS_GET),
        "s3:ListBucketVersions": (_A.OBJECTS_LIST,),
        "s3:GetBucketLocation": (_A.BUCKETS_GET,),
        "s3:GetBucketVersioning": (_A.BUCKETS_VERSIONING_READ,),
        "s3:PutBucketVersioning": (_A.BUCKETS_VERSIONING_WRITE,),
        "s3:GetBucketTagging": (_A.BUCKETS_TAGGING_READ,),
        "s3:PutBucketTagging": (_A.BUCKETS_TAGGING_WRITE,),
        "s3:GetBucketCORS": (_A.BUCKETS_CORS_READ,),
        "s3:PutBucketCORS": (_A.BUCKETS_CORS_WRITE,),
        "s3:GetBucketPolicy": (_A.BUCKETS_POLICY_READ,),
        "s3:GetBucketPolicyStatus": (_A.BUCKETS_POLICY_READ,),
        "s3:PutBucketPolicy": (_A.BUCKETS_POLICY_WRITE,),
        "s3:DeleteBucketPolicy": (_A.BUCKETS_POLICY_WRITE,),
        "s3:GetBucketPublicAccessBlock": (_A.BUCKETS_PUBLIC_ACCESS_BLOCK_READ,),
        "s3:PutBucketPublicAccessBlock": (_A.BUCKETS_PUBLIC_ACCESS_BLOCK_WRITE,),
        # DeleteBucketEncryption is s3:PutEncryptionConfiguration in AWS.
        "s3:GetEncryptionConfiguration": (_A.BUCKETS_ENCRYPTION_READ,),
        "s3:PutEncryptionConfiguration": (_A.BUCKETS_ENCRYPTION_WRITE,),
        "s3:GetBucketAcl": (_A.BUCKETS_ACL_READ,),
        "s3:PutBucketAcl": (_A.BUCKETS_ACL_WRITE,),
        # DeleteBucketOwnershipControls is s3:PutBucketOwnershipControls in AWS.
        "s3:GetBucketOwnershipControls": (_A.BUCKETS_OWNERSHIP_READ,),
        "s3:PutBucketOwnershipControls": (_A.BUCKETS_OWNERSHIP_WRITE,),
        # Multipart uploads and a copy's destination are PutObject in AWS.
        "s3:PutObject": (
            _A.OBJECTS_PUT,
            _A.OBJECTS_COPY,
            _A.UPLOADS_CREATE,
            _A.UPLOADS_WRITE,
            _A.UPLOADS_COMPLETE,
        ),
        "s3:GetObject": (_A.OBJECTS_GET,),
        "s3:GetObjectVersion": (_A.OBJECTS_GET,),
        "s3:GetObjectAttributes": (_A.OBJECTS_GET,),
        "s3:DeleteObject": (_A.OBJECTS_DELETE,),
        "s3:DeleteObjectVersion": (_A.OBJECTS_DELETE,),
        "s3:GetObjectTagging": (_A.OBJECTS_TAGGING_READ,),
        "s3:PutObjectTagging": (_A.OBJECTS_TAGGING_WRITE,),
        "s3:DeleteObjectTagging": (_A.OBJECTS_TAGGING_WRITE,),
        "s3:GetObjectAcl": (_A.OBJECTS_ACL_READ,),
        "s3:GetObjectVersionAcl": (_A.OBJECTS_ACL_READ,),
        "s3:PutObjectAcl": (_A.OBJECTS_ACL_WRITE,),
        "s3:PutObjectVersionAcl": (_A.OBJECTS_ACL_WRITE,),
        "s3:GetObjectVersionTagging": (_A.OBJECTS_TAGGING_READ,),
        "s3:PutObjectVersionTagging": (_A.OBJECTS_TAGGING_WRITE,),
        "s3:DeleteObjectVersionTagging": (_A.OBJECTS_TAGGING_WRITE,),
        "s3:GetObjectVersionAttributes": (_A.OBJECTS_GET,),
        # DeleteBucketLifecycle is s3:PutLifecycleConfiguration in AWS.
        "s3:GetLifecycleConfiguration": (_A.BUCKETS_LIFECYCLE_READ,),
        "s3:PutLifecycleConfiguration": (_A.BUCKETS_LIFECYCLE_WRITE,),
        "s3:GetBucketObjectLockConfiguration": (_A.BUCKETS_OBJECT_LOCK_READ,),
        "s3:PutBucketObjectLockConfiguration": (_A.BUCKETS_OBJECT_LOCK_WRITE,),
        "s3:GetObjectRetention": (_A.OBJECTS_RETENTION_READ,),
        "s3:PutObjectRetention": (_A.OBJECTS_RETENTION_WRITE,),
        "s3:GetObjectLegalHold": (_A.OBJECTS_LEGAL_HOLD_READ,),
        "s3:PutObjectLegalHold": (_A.OBJECTS_LEGAL_HOLD_WRITE,),
        "s3:BypassGovernanceRetention": (_A.RETENTION_BYPASS_GOVERNANCE,),
        "s3:AbortMultipartUpload": (_A.UPLOADS_ABORT,),
        "s3:ListBucketMultipartUploads": (_A.UPLOADS_LIST,),
        "s3:ListMultipartUploadParts": (_A.UPLOADS_LIST,),
    }
)
"""Every S3 action a bucket policy may name and the actions of ours it covers (one table)."""

LEGACY_ACTIONS: Final[Mapping[str, tuple[Action, ...]]] = MappingProxyType(
    {
        "lightningstor:buckets:read": (_A.BUCKETS_GET,),
        "lightningstor:objects:read": (_A.OBJECTS_GET,),
        # CopyObject and CompleteMultipartUpload were authorized as objects:create.
        "lightningstor:objects:create": (_A.OBJECTS_PUT, _A.OBJECTS_COPY, _A.UPLOADS_COMPLETE),
    }
)
"""Names used before the specification's, and the actions they stand for: a role pattern that
matches an old name also grants these (configurations written before keep working)."""

COPY_SOURCE_ACTION: Final = Action.OBJECTS_GET
"""What ``CopyObject`` and ``UploadPartCopy`` also need, on the source object."""

REPAIR_ACTION: Final = Action.ADMIN_REPAIR
"""What ``CheckConsistency`` also needs when it repairs (a dry run needs only its own action)."""

BYPASS_GOVERNANCE_ACTION: Final = Action.RETENTION_BYPASS_GOVERNANCE
"""What a delete or a retention change also needs to remove or shorten a GOVERNANCE retention
(``x-amz-bypass-governance-retention``)."""

KEY_FOR_OTHERS_ACTION: Final = Action.CREDENTIALS_CREATE_OTHERS
"""What ``CreateAccessKey`` also needs when the key is for another identity (another principal
id, or the caller's id in another scope): the key would let the caller act as that identity."""


def action_for(operation: str) -> Action:
    """The action an operation needs; ``KeyError`` for an operation we do not serve."""
    try:
        return OPERATION_ACTIONS[operation]
    except KeyError:
        raise KeyError(f"no action is defined for operation {operation!r}") from None
