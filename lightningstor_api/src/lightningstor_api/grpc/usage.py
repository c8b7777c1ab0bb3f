"""UsageService: a thin adapter from grpc.aio to :mod:`lightningstor_api.core.usage_admin`."""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

from lightningstor.v1 import usage_pb2 as pb
from lightningstor.v1 import usage_pb2_grpc
from lightningstor_api.core import usage_admin
from lightningstor_api.core.context import CoreContext
from lightningstor_api.grpc.calls import Context, request_context


class UsageServicer(usage_pb2_grpc.UsageServiceServicer):
    def __init__(self, cc: CoreContext) -> None:
        self._cc = cc

    async def GetUsage(self, request: pb.GetUsageRequest, context: Context) -> pb.GetUsageResponse:
        return await usage_admin.get_usage(self._cc, request_context(context), request)

    async def GetQuota(self, request: pb.GetQuotaRequest, context: Context) -> pb.GetQuotaResponse:
        return await usage_admin.get_quota(self._cc, request_context(context), request)

    async def SetQuota(self, request: pb.SetQuotaRequest, context: Context) -> pb.SetQuotaResponse:
        return await usage_admin.set_quota(self._cc, request_context(context), request)

    async def DeleteQuota(
        self, request: pb.DeleteQuotaRequest, context: Context
    ) -> pb.DeleteQuotaResponse:
        return await usage_admin.delete_quota(self._cc, request_context(context), request)
