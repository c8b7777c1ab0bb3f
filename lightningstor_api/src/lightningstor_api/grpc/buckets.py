"""BucketService: a thin adapter from grpc.aio to :class:`BucketOperations`."""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

from lightningstor.v1 import bucket_pb2 as pb
from lightningstor.v1 import bucket_pb2_grpc, lifecycle_pb2
from lightningstor_api.grpc.calls import Context, request_context
from lightningstor_types.service import BucketOperations


class BucketServicer(bucket_pb2_grpc.BucketServiceServicer):
    def __init__(self, core: BucketOperations) -> None:
        self._core = core

    async def CreateBucket(
        self, request: pb.CreateBucketRequest, context: Context
    ) -> pb.CreateBucketResponse:
        return await self._core.create_bucket(request_context(context), request)

    async def HeadBucket(
        self, request: pb.HeadBucketRequest, context: Context
    ) -> pb.HeadBucketResponse:
        return await self._core.head_bucket(request_context(context), request)

    async def DeleteBucket(
        self, request: pb.DeleteBucketRequest, context: Context
    ) -> pb.DeleteBucketResponse:
        return await self._core.delete_bucket(request_context(context), request)

    async def ListBuckets(
        self, request: pb.ListBucketsRequest, context: Context
    ) -> pb.ListBucketsResponse:
        return await self._core.list_buckets(request_context(context), request)

    async def GetBucketVersioning(
        self, request: pb.GetBucketVersioningRequest, context: Context
    ) -> pb.GetBucketVersioningResponse:
        return await self._core.get_bucket_versioning(request_context(context), request)

    async def PutBucketVersioning(
        self, request: pb.PutBucketVersioningRequest, context: Context
    ) -> pb.PutBucketVersioningResponse:
        return await self._core.put_bucket_versioning(request_context(context), request)

    async def GetBucketTagging(
        self, request: pb.GetBucketTaggingRequest, context: Context
    ) -> pb.GetBucketTaggingResponse:
        return await self._core.get_bucket_tagging(request_context(context), request)

    async def PutBucketTagging(
        self, request: pb.PutBucketTaggingRequest, context: Context
    ) -> pb.PutBucketTaggingResponse:
        return await self._core.put_bucket_tagging(request_context(context), request)

    async def DeleteBucketTagging(
        self, request: pb.DeleteBucketTaggingRequest, context: Context
    ) -> pb.DeleteBucketTaggingResponse:
        return await self._core.delete_bucket_tagging(request_context(context), request)

    async def GetBucketCors(
        self, request: pb.GetBucketCorsRequest, context: Context
    ) -> pb.GetBucketCorsResponse:
        return await self._core.get_bucket_cors(request_context(context), request)

    async def PutBucketCors(
        self, request: pb.PutBucketCorsRequest, context: Context
    ) -> pb.PutBucketCorsResponse:
        return await self._core.put_bucket_cors(request_context(context), request)

    async def DeleteBucketCors(
        self, request: pb.DeleteBucketCorsRequest, context: Context
    ) -> pb.DeleteBucketCorsResponse:
        return await self._core.delete_bucket_cors(request_context(context), request)

    async def GetBucketEncryption(
        self, request: pb.GetBucketEncryptionRequest, context: Context
    ) -> pb.GetBucketEncryptionResponse:
        return await self._core.get_bucket_encryption(request_context(context), request)

    async def PutBucketEncryption(
        self, request: pb.PutBucketEncryptionRequest, context: Context
    ) -> pb.PutBucketEncryptionResponse:
        return await self._core.put_bucket_encryption(request_context(context), request)

    async def DeleteBucketEncryption(
        self, request: pb.DeleteBucketEncryptionRequest, context: Context
    ) -> pb.DeleteBucketEncryptionResponse:
        return await self._core.delete_bucket_encryption(request_context(context), request)

    async def GetBucketLifecycleConfiguration(
        self, request: lifecycle_pb2.GetBucketLifecycleConfigurationRequest, context: Context
    ) -> lifecycle_pb2.GetBucketLifecycleConfigurationResponse:
        return await self._core.get_bucket_lifecycle_configuration(
            request_context(context), request
        )

    async def PutBucketLifecycleConfiguration(
        self, request: lifecycle_pb2.PutBucketLifecycleConfigurationRequest, context: Context
    ) -> lifecycle_pb2.PutBucketLifecycleConfigurationResponse:
        return await self._core.put_bucket_lifecycle_configuration(
            request_context(context), request
        )

    async def DeleteBucketLifecycleConfiguration(
        self, request: lifecycle_pb2.DeleteBucketLifecycleConfigurationRequest, context: Context
    ) -> lifecycle_pb2.DeleteBucketLifecycleConfigurationResponse:
        return await self._core.delete_bucket_lifecycle_configuration(
            request_context(context), request
        )

    async def GetBucketPolicy(
        self, request: pb.GetBucketPolicyRequest, context: Context
    ) -> pb.GetBucketPolicyResponse:
        return await self._core.get_bucket_policy(request_context(context), request)

    async def PutBucketPolicy(
        self, request: pb.PutBucketPolicyRequest, context: Context
    ) -> pb.PutBucketPolicyResponse:
        return await self._core.put_bucket_policy(request_context(context), request)

    async def DeleteBucketPolicy(
        self, request: pb.DeleteBucketPolicyRequest, context: Context
    ) -> pb.DeleteBucketPolicyResponse:
        return await self._core.delete_bucket_policy(request_context(context), request)

    async def GetBucketPolicyStatus(
        self, request: pb.GetBucketPolicyStatusRequest, context: Context
    ) -> pb.GetBucketPolicyStatusResponse:
        return await self._core.get_bucket_policy_status(request_context(context), request)

    async def GetPublicAccessBlock(
        self, request: pb.GetPublicAccessBlockRequest, context: Context
    ) -> pb.GetPublicAccessBlockResponse:
        return await self._core.get_public_access_block(request_context(context), request)

    async def PutPublicAccessBlock(
        self, request: pb.PutPublicAccessBlockRequest, context: Context
    ) -> pb.PutPublicAccessBlockResponse:
        return await self._core.put_public_access_block(request_context(context), request)

    async def DeletePublicAccessBlock(
        self, request: pb.DeletePublicAccessBlockRequest, context: Context
    ) -> pb.DeletePublicAccessBlockResponse:
        return await self._core.delete_public_access_block(request_context(context), request)

    async def ExplainAccess(
        self, request: pb.ExplainAccessRequest, context: Context
    ) -> pb.ExplainAccessResponse:
        return await self._core.explain_access(request_context(context), request)

    async def GetBucketAcl(
        self, request: pb.GetBucketAclRequest, context: Context
    ) -> pb.GetBucketAclResponse:
        return await self._core.get_bucket_acl(request_context(context), request)

    async def PutBucketAcl(
        self, request: pb.PutBucketAclRequest, context: Context
    ) -> pb.PutBucketAclResponse:
        return await self._core.put_bucket_acl(request_context(context), request)

    async def GetBucketOwnershipControls(
        self, request: pb.GetBucketOwnershipControlsRequest, context: Context
    ) -> pb.GetBucketOwnershipControlsResponse:
        return await self._core.get_bucket_ownership_controls(request_context(context), request)

    async def PutBucketOwnershipControls(
        self, request: pb.PutBucketOwnershipControlsRequest, context: Context
    ) -> pb.PutBucketOwnershipControlsResponse:
        return await self._core.put_bucket_ownership_controls(request_context(context), request)

    async def DeleteBucketOwnershipControls(
        self, request: pb.DeleteBucketOwnershipControlsRequest, context: Context
    ) -> pb.DeleteBucketOwnershipControlsResponse:
        return await self._core.delete_bucket_ownership_controls(request_context(context), request)
