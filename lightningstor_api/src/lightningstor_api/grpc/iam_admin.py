"""IamAdminService: grpc.aio calls handed to :class:`~lightningstor_api.tenants.TenantAdmin`."""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

from lightningstor.v1 import iam_admin_pb2 as pb
from lightningstor.v1 import iam_admin_pb2_grpc
from lightningstor_api.grpc.calls import Context, request_context
from lightningstor_api.tenants import TenantAdmin


class IamAdminServicer(iam_admin_pb2_grpc.IamAdminServiceServicer):
    def __init__(self, tenants: TenantAdmin) -> None:
        self._t = tenants

    async def PutRole(self, request: pb.PutRoleRequest, context: Context) -> pb.PutRoleResponse:
        return await self._t.put_role(request_context(context), request)

    async def DeleteRole(
        self, request: pb.DeleteRoleRequest, context: Context
    ) -> pb.DeleteRoleResponse:
        return await self._t.delete_role(request_context(context), request)

    async def ListRoles(
        self, request: pb.ListRolesRequest, context: Context
    ) -> pb.ListRolesResponse:
        return await self._t.list_roles(request_context(context), request)

    async def PutGroup(self, request: pb.PutGroupRequest, context: Context) -> pb.PutGroupResponse:
        return await self._t.put_group(request_context(context), request)

    async def DeleteGroup(
        self, request: pb.DeleteGroupRequest, context: Context
    ) -> pb.DeleteGroupResponse:
        return await self._t.delete_group(request_context(context), request)

    async def ListGroups(
        self, request: pb.ListGroupsRequest, context: Context
    ) -> pb.ListGroupsResponse:
        return await self._t.list_groups(request_context(context), request)

    async def CreateBinding(
        self, request: pb.CreateBindingRequest, context: Context
    ) -> pb.CreateBindingResponse:
        return await self._t.create_binding(request_context(context), request)

    async def DeleteBinding(
        self, request: pb.DeleteBindingRequest, context: Context
    ) -> pb.DeleteBindingResponse:
        return await self._t.delete_binding(request_context(context), request)

    async def ListBindings(
        self, request: pb.ListBindingsRequest, context: Context
    ) -> pb.ListBindingsResponse:
        return await self._t.list_bindings(request_context(context), request)

    async def ListPrincipals(
        self, request: pb.ListPrincipalsRequest, context: Context
    ) -> pb.ListPrincipalsResponse:
        return await self._t.list_principals(request_context(context), request)
