"""CredentialService: a thin adapter from grpc.aio to :class:`CredentialOperations`."""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

from lightningstor.v1 import credential_pb2 as pb
from lightningstor.v1 import credential_pb2_grpc
from lightningstor_api.grpc.calls import Context, request_context
from lightningstor_types.service import CredentialOperations


class CredentialServicer(credential_pb2_grpc.CredentialServiceServicer):
    def __init__(self, credentials: CredentialOperations) -> None:
        self._credentials = credentials

    async def CreateAccessKey(
        self, request: pb.CreateAccessKeyRequest, context: Context
    ) -> pb.CreateAccessKeyResponse:
        return await self._credentials.create_access_key(request_context(context), request)

    async def ListAccessKeys(
        self, request: pb.ListAccessKeysRequest, context: Context
    ) -> pb.ListAccessKeysResponse:
        return await self._credentials.list_access_keys(request_context(context), request)

    async def DeleteAccessKey(
        self, request: pb.DeleteAccessKeyRequest, context: Context
    ) -> pb.DeleteAccessKeyResponse:
        return await self._credentials.delete_access_key(request_context(context), request)
