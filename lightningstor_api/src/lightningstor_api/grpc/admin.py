"""AdminService: a thin adapter from grpc.aio to :class:`~lightningstor_api.core.admin.Admin`."""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

from collections.abc import AsyncIterator

from lightningstor.v1 import admin_pb2 as pb
from lightningstor.v1 import admin_pb2_grpc
from lightningstor_api.core.admin import Admin
from lightningstor_api.grpc.calls import Context, request_context


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(self, admin: Admin) -> None:
        self._admin = admin

    async def ListAllBuckets(
        self, request: pb.ListAllBucketsRequest, context: Context
    ) -> pb.ListAllBucketsResponse:
        return await self._admin.list_all_buckets(request_context(context), request)

    async def GetGcStatus(
        self, request: pb.GetGcStatusRequest, context: Context
    ) -> pb.GetGcStatusResponse:
        return await self._admin.get_gc_status(request_context(context), request)

    async def RunGc(self, request: pb.RunGcRequest, context: Context) -> pb.RunGcResponse:
        return await self._admin.run_gc(request_context(context), request)

    async def GetStorageStatus(
        self, request: pb.GetStorageStatusRequest, context: Context
    ) -> pb.GetStorageStatusResponse:
        return await self._admin.get_storage_status(request_context(context), request)

    async def CheckConsistency(
        self, request: pb.CheckConsistencyRequest, context: Context
    ) -> AsyncIterator[pb.CheckConsistencyResponse]:
        async for item in self._admin.check_consistency(request_context(context), request):
            yield item

    async def GetOrgPublicAccessBlock(
        self, request: pb.GetOrgPublicAccessBlockRequest, context: Context
    ) -> pb.GetOrgPublicAccessBlockResponse:
        return await self._admin.get_org_public_access_block(request_context(context), request)

    async def PutOrgPublicAccessBlock(
        self, request: pb.PutOrgPublicAccessBlockRequest, context: Context
    ) -> pb.PutOrgPublicAccessBlockResponse:
        return await self._admin.put_org_public_access_block(request_context(context), request)

    async def DeleteOrgPublicAccessBlock(
        self, request: pb.DeleteOrgPublicAccessBlockRequest, context: Context
    ) -> pb.DeleteOrgPublicAccessBlockResponse:
        return await self._admin.delete_org_public_access_block(request_context(context), request)

    async def RewrapKeys(
        self, request: pb.RewrapKeysRequest, context: Context
    ) -> AsyncIterator[pb.RewrapKeysResponse]:
        async for item in self._admin.rewrap_keys(request_context(context), request):
            yield item
