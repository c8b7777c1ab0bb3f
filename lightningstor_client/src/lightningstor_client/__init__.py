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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightningstor_client._admin_models import (
        ConsistencyFinding,
        ConsistencySummary,
        GcRunResult,
        GcStatus,
        RepairStatus,
        RewrapProgress,
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
        Encryption,
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

# Loaded on first use, so that `import lightningstor_client.cli` (the CLI) starts without
# gRPC, protobuf and every model; `from lightningstor_client import X` works as ever.
_WHERE = {
    "ConsistencyFinding": "lightningstor_client._admin_models",
    "ConsistencySummary": "lightningstor_client._admin_models",
    "GcRunResult": "lightningstor_client._admin_models",
    "GcStatus": "lightningstor_client._admin_models",
    "RepairStatus": "lightningstor_client._admin_models",
    "RewrapProgress": "lightningstor_client._admin_models",
    "StorageNodeStatus": "lightningstor_client._admin_models",
    "StorageStatus": "lightningstor_client._admin_models",
    "AsyncLightningStorClient": "lightningstor_client._aio",
    "DEFAULT_ENDPOINT": "lightningstor_client._connection",
    "IamBinding": "lightningstor_client._iam",
    "IamGroup": "lightningstor_client._iam",
    "IamPrincipal": "lightningstor_client._iam",
    "IamRole": "lightningstor_client._iam",
    "AccessExplanation": "lightningstor_client._models",
    "ExplainedRule": "lightningstor_client._models",
    "AccessKey": "lightningstor_client._models",
    "Bucket": "lightningstor_client._models",
    "Checksums": "lightningstor_client._models",
    "Encryption": "lightningstor_client._models",
    "CopyResult": "lightningstor_client._models",
    "CorsRule": "lightningstor_client._models",
    "DeleteFailure": "lightningstor_client._models",
    "DeleteObjectsResult": "lightningstor_client._models",
    "DeleteResult": "lightningstor_client._models",
    "ListPage": "lightningstor_client._models",
    "ObjectAttributes": "lightningstor_client._models",
    "ObjectInfo": "lightningstor_client._models",
    "Part": "lightningstor_client._models",
    "PartsPage": "lightningstor_client._models",
    "PutResult": "lightningstor_client._models",
    "Upload": "lightningstor_client._models",
    "UploadPage": "lightningstor_client._models",
    "VersionPage": "lightningstor_client._models",
    "AsyncObjectStream": "lightningstor_client._stream",
    "LightningStorClient": "lightningstor_client._sync",
    "ObjectStream": "lightningstor_client._sync",
    "Quota": "lightningstor_client._usage",
    "QuotaInfo": "lightningstor_client._usage",
    "Usage": "lightningstor_client._usage",
    "UsageReport": "lightningstor_client._usage",
    "LightningStorError": "lightningstor_types.errors",
    "Scope": "lightningstor_types.scope",
}

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
    "Encryption",
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
    "RewrapProgress",
    "Scope",
    "StorageNodeStatus",
    "StorageStatus",
    "Upload",
    "UploadPage",
    "Usage",
    "UsageReport",
    "VersionPage",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
