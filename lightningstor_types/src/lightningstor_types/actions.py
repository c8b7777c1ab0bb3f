"""Action names for authorization, and the action each API operation needs (DESIGN.md §7).

Names have the form ``lightningstor:<resource>:<verb>`` (with a sub-resource in between where
there is one: ``lightningstor:buckets:tagging:write``). Operations are named as the gRPC RPCs
and S3 operations are; the two APIs share the names, so one table serves both.

Copies need two decisions: :data:`OPERATION_ACTIONS` gives the action on the destination
(``CopyObject`` creates an object, ``UploadPartCopy`` writes a part), and
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
    BUCKETS_READ = "lightningstor:buckets:read"
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
    BUCKETS_ENCRYPTION_READ = "lightningstor:buckets:encryption:read"
    BUCKETS_ENCRYPTION_WRITE = "lightningstor:buckets:encryption:write"

    OBJECTS_CREATE = "lightningstor:objects:create"
    OBJECTS_READ = "lightningstor:objects:read"
    OBJECTS_LIST = "lightningstor:objects:list"
    OBJECTS_DELETE = "lightningstor:objects:delete"
    OBJECTS_TAGGING_READ = "lightningstor:objects:tagging:read"
    OBJECTS_TAGGING_WRITE = "lightningstor:objects:tagging:write"

    UPLOADS_CREATE = "lightningstor:uploads:create"
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

    # Operator calls, platform-wide (resource ``org/*``, see resources.PLATFORM_RESOURCE).
    ADMIN_READ = "lightningstor:admin:read"
    ADMIN_GC = "lightningstor:admin:gc"
    ADMIN_REPAIR = "lightningstor:admin:repair"


_A = Action

OPERATION_ACTIONS: Final[Mapping[str, Action]] = MappingProxyType(
    {
        # buckets
        "CreateBucket": _A.BUCKETS_CREATE,
        "HeadBucket": _A.BUCKETS_READ,
        "GetBucketLocation": _A.BUCKETS_READ,
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
        "GetBucketEncryption": _A.BUCKETS_ENCRYPTION_READ,
        "PutBucketEncryption": _A.BUCKETS_ENCRYPTION_WRITE,
        "DeleteBucketEncryption": _A.BUCKETS_ENCRYPTION_WRITE,
        # objects
        "PutObject": _A.OBJECTS_CREATE,
        "CopyObject": _A.OBJECTS_CREATE,
        "GetObject": _A.OBJECTS_READ,
        "HeadObject": _A.OBJECTS_READ,
        "GetObjectAttributes": _A.OBJECTS_READ,
        "ListObjects": _A.OBJECTS_LIST,
        "ListObjectsV2": _A.OBJECTS_LIST,
        "ListObjectVersions": _A.OBJECTS_LIST,
        "DeleteObject": _A.OBJECTS_DELETE,
        "DeleteObjects": _A.OBJECTS_DELETE,
        "GetObjectTagging": _A.OBJECTS_TAGGING_READ,
        "PutObjectTagging": _A.OBJECTS_TAGGING_WRITE,
        "DeleteObjectTagging": _A.OBJECTS_TAGGING_WRITE,
        # multipart uploads
        "CreateMultipartUpload": _A.UPLOADS_CREATE,
        "UploadPart": _A.UPLOADS_WRITE,
        "UploadPartCopy": _A.UPLOADS_WRITE,
        "CompleteMultipartUpload": _A.OBJECTS_CREATE,
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
        # operators
        "ListAllBuckets": _A.ADMIN_READ,
        "GetGcStatus": _A.ADMIN_READ,
        "RunGc": _A.ADMIN_GC,
        "GetStorageStatus": _A.ADMIN_READ,
        "CheckConsistency": _A.ADMIN_READ,
    }
)
"""Every API operation (gRPC RPC / S3 operation name) and the action it is authorized with."""

COPY_SOURCE_ACTION: Final = Action.OBJECTS_READ
"""What ``CopyObject`` and ``UploadPartCopy`` also need, on the source object."""

REPAIR_ACTION: Final = Action.ADMIN_REPAIR
"""What ``CheckConsistency`` also needs when it repairs (a dry run needs only its own action)."""

KEY_FOR_OTHERS_ACTION: Final = Action.CREDENTIALS_CREATE_OTHERS
"""What ``CreateAccessKey`` also needs when the key is for another identity (another principal
id, or the caller's id in another scope): the key would let the caller act as that identity."""


def action_for(operation: str) -> Action:
    """The action an operation needs; ``KeyError`` for an operation we do not serve."""
    try:
        return OPERATION_ACTIONS[operation]
    except KeyError:
        raise KeyError(f"no action is defined for operation {operation!r}") from None
