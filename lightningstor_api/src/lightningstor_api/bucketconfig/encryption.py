"""A bucket's default encryption: Get/Put/DeleteBucketEncryption, kept in the bucket record
(``BucketRecord.encryption``) and applied by PutObject, CreateMultipartUpload and CopyObject to
a write that asks for no encryption of its own (``encryption.sealing.requested``): SSE-S3, or
SSE-KMS with a key of ours (``KMSMasterKeyID``, ``alias/`` stripped; empty: the active key)."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2
from lightningstor_api.core.buckets import update_bucket
from lightningstor_api.core.context import CoreContext
from lightningstor_api.encryption import sealing
from lightningstor_api.encryption.sealing import SSE_KMS, SSE_S3
from lightningstor_types.actions import Action
from lightningstor_types.errors import (
    InvalidArgument,
    MalformedXML,
    NotImplemented_,
    ServerSideEncryptionConfigurationNotFoundError,
)
from lightningstor_types.service import RequestContext


async def get_bucket_encryption(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketEncryptionRequest
) -> bucket_pb2.GetBucketEncryptionResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_ENCRYPTION_READ)
    if not ref.record.HasField("encryption"):
        raise ServerSideEncryptionConfigurationNotFoundError(BucketName=req.name)
    return bucket_pb2.GetBucketEncryptionResponse(configuration=ref.record.encryption)


async def put_bucket_encryption(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutBucketEncryptionRequest
) -> bucket_pb2.PutBucketEncryptionResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_ENCRYPTION_WRITE)
    conf = req.configuration
    if conf.sse_algorithm == SSE_KMS:
        # An unknown key would fail every write that falls back on this default: refused now.
        await sealing.kms(cc.keymaster, conf.kms_master_key_id)
    elif conf.sse_algorithm.startswith("aws:kms"):
        raise NotImplemented_("Dual-layer SSE-KMS is not implemented", Header="SSEAlgorithm")
    elif conf.sse_algorithm != SSE_S3:
        raise MalformedXML()  # what S3 answers for an SSEAlgorithm it does not know
    elif conf.kms_master_key_id:
        raise InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms",
            ArgumentName="ApplyServerSideEncryptionByDefault",
        )

    def change(rec: records_pb2.BucketRecord) -> None:
        rec.encryption.CopyFrom(req.configuration)

    await update_bucket(cc, ref, change)
    return bucket_pb2.PutBucketEncryptionResponse()


async def delete_bucket_encryption(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.DeleteBucketEncryptionRequest
) -> bucket_pb2.DeleteBucketEncryptionResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_ENCRYPTION_WRITE)
    if ref.record.HasField("encryption"):  # 204 either way, as S3
        await update_bucket(cc, ref, lambda rec: rec.ClearField("encryption"))
    return bucket_pb2.DeleteBucketEncryptionResponse()
