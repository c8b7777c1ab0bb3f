"""ObjectLockService: a thin adapter from grpc.aio to :class:`ObjectLockOperations`."""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

from lightningstor.v1 import objectlock_pb2 as pb
from lightningstor.v1 import objectlock_pb2_grpc
from lightningstor_api.grpc.calls import Context, request_context
from lightningstor_types.service import ObjectLockOperations


class ObjectLockServicer(objectlock_pb2_grpc.ObjectLockServiceServicer):
    def __init__(self, core: ObjectLockOperations) -> None:
        self._core = core

    async def GetObjectLockConfiguration(
        self, request: pb.GetObjectLockConfigurationRequest, context: Context
    ) -> pb.GetObjectLockConfigurationResponse:
        return await self._core.get_object_lock_configuration(request_context(context), request)

    async def PutObjectLockConfiguration(
        self, request: pb.PutObjectLockConfigurationRequest, context: Context
    ) -> pb.PutObjectLockConfigurationResponse:
        return await self._core.put_object_lock_configuration(request_context(context), request)

    async def GetObjectRetention(
        self, request: pb.GetObjectRetentionRequest, context: Context
    ) -> pb.GetObjectRetentionResponse:
        return await self._core.get_object_retention(request_context(context), request)

    async def PutObjectRetention(
        self, request: pb.PutObjectRetentionRequest, context: Context
    ) -> pb.PutObjectRetentionResponse:
        return await self._core.put_object_retention(request_context(context), request)

    async def GetObjectLegalHold(
        self, request: pb.GetObjectLegalHoldRequest, context: Context
    ) -> pb.GetObjectLegalHoldResponse:
        return await self._core.get_object_legal_hold(request_context(context), request)

    async def PutObjectLegalHold(
        self, request: pb.PutObjectLegalHoldRequest, context: Context
    ) -> pb.PutObjectLegalHoldResponse:
        return await self._core.put_object_legal_hold(request_context(context), request)
