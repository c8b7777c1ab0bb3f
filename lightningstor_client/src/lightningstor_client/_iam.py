"""Tenant calls of the async client (IamAdminService: the embedded IAM at runtime), and their
result types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lightningstor.v1 import iam_admin_pb2 as pb
from lightningstor_client._connection import Connection


@dataclass(frozen=True, slots=True)
class IamRole:
    name: str
    actions: tuple[str, ...]
    source: str = "runtime"
    """"builtin", "config" (the [iam] TOML section) or "runtime"."""

    @classmethod
    def from_pb(cls, msg: pb.IamRole) -> IamRole:
        return cls(msg.name, tuple(msg.actions), msg.source)


@dataclass(frozen=True, slots=True)
class IamGroup:
    org: str
    name: str
    members: tuple[str, ...]
    source: str = "runtime"

    @classmethod
    def from_pb(cls, msg: pb.IamGroup) -> IamGroup:
        return cls(msg.org, msg.name, tuple(msg.members), msg.source)


@dataclass(frozen=True, slots=True)
class IamBinding:
    """``principal`` (or every member of ``group``) holds ``role`` at org [/project][/bucket]."""

    role: str
    org: str
    principal: str = ""
    group: str = ""
    project: str = ""
    bucket: str = ""
    id: str = ""
    """Empty for a config binding."""
    source: str = "runtime"
    created_by: str = ""
    created_at: datetime | None = None

    @classmethod
    def from_pb(cls, msg: pb.IamBinding) -> IamBinding:
        return cls(
            role=msg.role,
            org=msg.org,
            principal=msg.principal,
            group=msg.group,
            project=msg.project,
            bucket=msg.bucket,
            id=msg.id,
            source=msg.source,
            created_by=msg.created_by,
            created_at=msg.created_at.ToDatetime().astimezone()
            if msg.HasField("created_at")
            else None,
        )


@dataclass(frozen=True, slots=True)
class IamPrincipal:
    name: str
    """``org/id`` or ``org/project/id``."""
    bindings: tuple[IamBinding, ...] = ()
    groups: tuple[str, ...] = field(default_factory=tuple)


class IamMethods(Connection):
    """``org=None``: the caller's own org."""

    async def put_role(self, name: str, actions: list[str]) -> IamRole:
        """Create or replace a runtime role of 1 to 100 action patterns (platform admin; a built-in
        or configured role's name is refused)."""
        req = pb.PutRoleRequest(role=pb.IamRole(name=name, actions=actions))
        resp = await self._unary(self._iam.PutRole(req, timeout=self._timeout))
        return IamRole.from_pb(resp.role)

    async def delete_role(self, name: str) -> None:
        """Delete a runtime role (NoSuchIamEntity if there is none; IamEntityInUse while a
        binding names it)."""
        req = pb.DeleteRoleRequest(name=name)
        await self._unary(self._iam.DeleteRole(req, timeout=self._timeout))

    async def list_roles(self) -> list[IamRole]:
        """Every role: built-in, configured and runtime (``source`` says which)."""
        resp = await self._unary(self._iam.ListRoles(pb.ListRolesRequest(), timeout=self._timeout))
        return [IamRole.from_pb(r) for r in resp.roles]

    async def put_group(self, name: str, members: list[str], *, org: str | None = None) -> IamGroup:
        """Create or replace a runtime group of ``org``; ``members`` are ``org/id`` or
        ``org/project/id`` of that org."""
        req = pb.PutGroupRequest(group=pb.IamGroup(org=org or "", name=name, members=members))
        resp = await self._unary(self._iam.PutGroup(req, timeout=self._timeout))
        return IamGroup.from_pb(resp.group)

    async def delete_group(self, name: str, *, org: str | None = None) -> None:
        """Delete a runtime group of ``org`` (NoSuchIamEntity; IamEntityInUse while a binding
        names it)."""
        req = pb.DeleteGroupRequest(org=org or "", name=name)
        await self._unary(self._iam.DeleteGroup(req, timeout=self._timeout))

    async def list_groups(self, *, org: str | None = None) -> list[IamGroup]:
        """The runtime groups of ``org``."""
        req = pb.ListGroupsRequest(org=org or "")
        resp = await self._unary(self._iam.ListGroups(req, timeout=self._timeout))
        return [IamGroup.from_pb(g) for g in resp.groups]

    async def create_binding(
        self,
        role: str,
        *,
        principal: str | None = None,
        group: str | None = None,
        org: str | None = None,
        project: str | None = None,
        bucket: str | None = None,
    ) -> IamBinding:
        """Grant ``role`` to ``principal`` (``id``, ``org/id`` or ``org/project/id``) or to
        every member of ``group``, at ``org`` ("*": every org) [/``project``][/``bucket``]."""
        binding = pb.IamBinding(
            role=role,
            principal=principal or "",
            group=group or "",
            org=org or "",
            project=project or "",
            bucket=bucket or "",
        )
        req = pb.CreateBindingRequest(binding=binding)
        resp = await self._unary(self._iam.CreateBinding(req, timeout=self._timeout))
        return IamBinding.from_pb(resp.binding)

    async def delete_binding(self, binding_id: str, *, org: str | None = None) -> None:
        """Revoke the binding ``binding_id`` of ``org`` (``"*"``: a platform binding);
        NoSuchIamEntity if there is none. Config bindings are changed in the TOML file only."""
        req = pb.DeleteBindingRequest(org=org or "", id=binding_id)
        await self._unary(self._iam.DeleteBinding(req, timeout=self._timeout))

    async def list_bindings(self, *, org: str | None = None) -> list[IamBinding]:
        """The config and runtime bindings at ``org`` (``"*"``: the platform's, those bound at
        org ``"*"``)."""
        req = pb.ListBindingsRequest(org=org or "")
        resp = await self._unary(self._iam.ListBindings(req, timeout=self._timeout))
        return [IamBinding.from_pb(b) for b in resp.bindings]

    async def list_principals(self, *, org: str | None = None) -> list[IamPrincipal]:
        """The principals that ``org``'s bindings and groups name, each with its bindings and
        groups."""
        req = pb.ListPrincipalsRequest(org=org or "")
        resp = await self._unary(self._iam.ListPrincipals(req, timeout=self._timeout))
        return [
            IamPrincipal(p.name, tuple(IamBinding.from_pb(b) for b in p.bindings), tuple(p.groups))
            for p in resp.principals
        ]
