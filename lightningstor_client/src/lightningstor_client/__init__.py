"""LightningStor client: the gRPC API as Python calls, blocking or asyncio.

    from lightningstor_client import LightningStorClient

    with LightningStorClient("127.0.0.1:9001") as client:
        client.create_bucket("photos")
        client.upload_file("cat.jpg", "photos", "2024/cat.jpg")
        for info in client.iter_objects("photos", prefix="2024/"):
            print(info.key, info.size)

Failures raise the error catalog's exceptions, named by S3 code
(``lightningstor_types.errors.NoSuchBucket`` …), all subclasses of :class:`LightningStorError`.
"""

from lightningstor_client._admin_models import (
    ConsistencyFinding,
    ConsistencySummary,
    GcRunResult,
    GcStatus,
    RepairStatus,
    StorageNodeStatus,
    StorageStatus,
)
from lightningstor_client._aio import AsyncLightningStorClient
from lightningstor_client._connection import DEFAULT_ENDPOINT
from lightningstor_client._iam import IamBinding, IamGroup, IamPrincipal, IamRole
from lightningstor_client._models import (
    AccessExplanation,
    AccessKey,
    Bucket,
    Checksums,
    CopyResult,
    CorsRule,
    DeleteFailure,
    DeleteObjectsResult,
    DeleteResult,
    ExplainedRule,
    ListPage,
    ObjectAttributes,
    ObjectInfo,
    Part,
    PartsPage,
    PutResult,
    Upload,
    UploadPage,
    VersionPage,
)
from lightningstor_client._stream import AsyncObjectStream
from lightningstor_client._sync import LightningStorClient, ObjectStream
from lightningstor_client._usage import Quota, QuotaInfo, Usage, UsageReport
from lightningstor_types.errors import LightningStorError
from lightningstor_types.scope import Scope

__all__ = [
    "DEFAULT_ENDPOINT",
    "AccessExplanation",
    "AccessKey",
    "AsyncLightningStorClient",
    "AsyncObjectStream",
    "Bucket",
    "Checksums",
    "ConsistencyFinding",
    "ConsistencySummary",
    "CopyResult",
    "CorsRule",
    "DeleteFailure",
    "DeleteObjectsResult",
    "DeleteResult",
    "ExplainedRule",
    "GcRunResult",
    "GcStatus",
    "IamBinding",
    "IamGroup",
    "IamPrincipal",
    "IamRole",
    "LightningStorClient",
    "LightningStorError",
    "ListPage",
    "ObjectAttributes",
    "ObjectInfo",
    "ObjectStream",
    "Part",
    "PartsPage",
    "PutResult",
    "Quota",
    "QuotaInfo",
    "RepairStatus",
    "Scope",
    "StorageNodeStatus",
    "StorageStatus",
    "Upload",
    "UploadPage",
    "Usage",
    "UsageReport",
    "VersionPage",
]
