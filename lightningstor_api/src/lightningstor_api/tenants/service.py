"""IamAdminService's operations: who may change which tenant records, checked, stored, audited.

Authorization, in this order (each refusal is AccessDenied and audited with its reason):

- ``lightningstor:iam:read`` / ``lightningstor:iam:write`` on the scope concerned: the
  binding's ``org[/project][/bucket]``, the group's org, ``org/*`` (the platform) for roles and
  for bindings at ``org = "*"``. The built-in ``admin`` role at an org covers its org; only a
  binding at ``org = "*"`` covers the platform.
- Never grant what you do not hold: a binding is created or deleted only by a caller holding
  every action pattern of its role where the binding applies; a group's members are set only
  by a caller holding every grant that the runtime bindings naming the group give. So an org
  admin cannot bind at ``org = "*"``, in another org, or a role wider than its own.
- Isolation: a binding's principal and a group's members belong to the binding's (group's)
  org; sharing across orgs is the business of bucket policies and ACLs, never of bindings.

Each change is audited twice: the decision (as every call) and the change itself, with
``reason`` ``"applied: …"``.
"""

from __future__ import annotations

import hashlib
import time

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import iam_admin_pb2 as pb
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.convert import timestamp_of
from lightningstor_api.iam.audit import authorize_audited, principal_label, record
from lightningstor_api.iam.policy import ANY_ORG, Binding
from lightningstor_api.tenants.directory import TenantDirectory, expand
from lightningstor_types.actions import Action
from lightningstor_types.config import BUILTIN_ROLES, is_action_pattern
from lightningstor_types.errors import (
    AccessDenied,
    IamEntityInUse,
    IamLimitExceeded,
    IamManagedExternally,
    InvalidArgument,
    NoSuchIamEntity,
)
from lightningstor_types.naming import validate_bucket_name, validate_scope_id
from lightningstor_types.resources import PLATFORM_ORG, Resource
from lightningstor_types.scope import Scope, parse_identity
from lightningstor_types.service import RequestContext

MAX_ACTIONS = 100
MAX_MEMBERS = 1000
MAX_NAME = 64


def _name(value: str, what: str) -> str:
    if not value or len(value) > MAX_NAME or not all(c.isalnum() or c in "-_." for c in value):
        raise InvalidArgument(
            f"Invalid {what} {value!r}: 1-{MAX_NAME} letters, digits, '-', '_' or '.'",
            ArgumentName=what,
        )
    return value


class TenantAdmin:
    """The operations of IamAdminService; ``directory`` None: the IAM is external."""

    def __init__(self, cc: CoreContext, directory: TenantDirectory | None) -> None:
        self._cc = cc
        self._dir = directory

    def _directory(self) -> TenantDirectory:
        if self._dir is None:
            raise IamManagedExternally()
        return self._dir

    async def _authorize(self, ctx: RequestContext, action: Action, resource: Resource) -> None:
        await authorize_audited(self._cc.authorizer, ctx, action, resource.path)

    def _must_hold(
        self, ctx: RequestContext, action: Action, role: str, resource: Resource, what: str
    ) -> None:
        engine = self._directory().engine
        for pattern in engine.roles.get(role, ()):
            if not engine.holds(ctx.principal, pattern, resource):
                reason = (
                    f"{what} gives {pattern} at {resource.path}, which the caller does not hold"
                )
                record(ctx, action, resource.path, False, reason)
                raise AccessDenied()

    def _applied(self, ctx: RequestContext, action: Action, resource: Resource, what: str) -> None:
        record(ctx, action, resource.path, True, f"applied: {what}")

    # ---- roles ----

    async def put_role(self, ctx: RequestContext, req: pb.PutRoleRequest) -> pb.PutRoleResponse:
        directory = self._directory()
        platform = Resource(PLATFORM_ORG)
        await self._authorize(ctx, Action.IAM_WRITE, platform)
        name = _name(req.role.name, "role")
        if name in directory.settings.effective_roles():
            raise InvalidArgument(
                f"Role {name!r} is built in or configured; pick another name", ArgumentName="role"
            )
        actions = list(req.role.actions)
        if not actions or len(actions) > MAX_ACTIONS:
            raise InvalidArgument(f"A role has 1-{MAX_ACTIONS} actions", ArgumentName="actions")
        for pattern in actions:
            if not is_action_pattern(pattern):
                raise InvalidArgument(
                    f"Invalid action pattern {pattern!r}, e.g. lightningstor:objects:*",
                    ArgumentName="actions",
                )
        now = time.time()
        rec = records_pb2.IamRoleRecord(
            name=name,
            actions=actions,
            created_by=principal_label(ctx.principal),
            created_at=timestamp_of(now),
        )
        await self._cc.store.put(self._cc.keys.iam_role(name), rec.SerializeToString())
        await directory.reload()
        self._applied(ctx, Action.IAM_WRITE, platform, f"role {name} = {', '.join(actions)}")
        return pb.PutRoleResponse(role=pb.IamRole(name=name, actions=actions, source="runtime"))

    async def delete_role(
        self, ctx: RequestContext, req: pb.DeleteRoleRequest
    ) -> pb.DeleteRoleResponse:
        directory = self._directory()
        platform = Resource(PLATFORM_ORG)
        await self._authorize(ctx, Action.IAM_WRITE, platform)
        await directory.reload()
        if req.name not in directory.records.roles:
            raise NoSuchIamEntity(f"No runtime role {req.name!r}")
        if any(b.role == req.name for b in directory.records.bindings.values()):
            raise IamEntityInUse()
        await self._cc.store.delete(self._cc.keys.iam_role(req.name))
        await directory.reload()
        self._applied(ctx, Action.IAM_WRITE, platform, f"deleted role {req.name}")
        return pb.DeleteRoleResponse()

    async def list_roles(
        self, ctx: RequestContext, req: pb.ListRolesRequest
    ) -> pb.ListRolesResponse:
        directory = self._directory()
        await self._authorize(ctx, Action.IAM_READ, Resource(ctx.principal.org_id))
        configured = directory.settings.roles
        resp = pb.ListRolesResponse()
        for name, actions in sorted(directory.engine.roles.items()):
            source = (
                "config"
                if name in configured
                else "builtin"
                if name in BUILTIN_ROLES
                else "runtime"
            )
            resp.roles.append(pb.IamRole(name=name, actions=actions, source=source))
        return resp

    # ---- groups ----

    async def put_group(self, ctx: RequestContext, req: pb.PutGroupRequest) -> pb.PutGroupResponse:
        directory = self._directory()
        org = req.group.org or ctx.principal.org_id
        validate_scope_id(org, "org")
        name = _name(req.group.name, "group")
        where = Resource(org)
        await self._authorize(ctx, Action.IAM_WRITE, where)
        if len(req.group.members) > MAX_MEMBERS:
            raise InvalidArgument(f"A group has at most {MAX_MEMBERS} members")
        members = sorted({self._member(m, org) for m in req.group.members})
        await directory.reload()
        groups = {n for g_org, n in directory.records.groups if g_org == org}
        if name not in groups and len(groups) >= directory.settings.max_groups_per_org:
            raise IamLimitExceeded(f"Org {org!r} holds {len(groups)} runtime groups")
        for b in directory.records.bindings.values():
            if b.org == org and b.group == name:
                self._must_hold(
                    ctx, Action.IAM_WRITE, b.role, _binding_resource(b), f"group {name}"
                )
        rec = records_pb2.IamGroupRecord(
            org=org,
            name=name,
            members=members,
            created_by=principal_label(ctx.principal),
            created_at=timestamp_of(time.time()),
        )
        await self._cc.store.put(self._cc.keys.iam_group(org, name), rec.SerializeToString())
        await directory.reload()
        self._applied(ctx, Action.IAM_WRITE, where, f"group {org}/{name} = {', '.join(members)}")
        return pb.PutGroupResponse(
            group=pb.IamGroup(org=org, name=name, members=members, source="runtime")
        )

    @staticmethod
    def _member(spelled: str, org: str) -> str:
        """``org/id`` or ``org/project/id`` of ``org``, checked (and spelled as given)."""
        if spelled.count("/") not in (1, 2):
            raise InvalidArgument(
                f"Invalid member {spelled!r}: write org/id or org/project/id",
                ArgumentName="members",
            )
        who = parse_identity(spelled, Scope(org))
        if who.org_id != org:
            raise InvalidArgument(
                f"Member {spelled!r} is not of org {org!r}: a group holds principals of its org",
                ArgumentName="members",
            )
        return spelled

    async def delete_group(
        self, ctx: RequestContext, req: pb.DeleteGroupRequest
    ) -> pb.DeleteGroupResponse:
        directory = self._directory()
        org = req.org or ctx.principal.org_id
        validate_scope_id(org, "org")
        where = Resource(org)
        await self._authorize(ctx, Action.IAM_WRITE, where)
        await directory.reload()
        if (org, req.name) not in directory.records.groups:
            raise NoSuchIamEntity(f"No runtime group {req.name!r} in org {org!r}")
        if any(b.org == org and b.group == req.name for b in directory.records.bindings.values()):
            raise IamEntityInUse()
        await self._cc.store.delete(self._cc.keys.iam_group(org, req.name))
        await directory.reload()
        self._applied(ctx, Action.IAM_WRITE, where, f"deleted group {org}/{req.name}")
        return pb.DeleteGroupResponse()

    async def list_groups(
        self, ctx: RequestContext, req: pb.ListGroupsRequest
    ) -> pb.ListGroupsResponse:
        directory = self._directory()
        org = req.org or ctx.principal.org_id
        validate_scope_id(org, "org")
        await self._authorize(ctx, Action.IAM_READ, Resource(org))
        resp = pb.ListGroupsResponse()
        for (g_org, name), g in sorted(directory.records.groups.items()):
            if g_org == org:
                resp.groups.append(
                    pb.IamGroup(org=org, name=name, members=g.members, source="runtime")
                )
        return resp

    # ---- bindings ----

    @staticmethod
    def _binding_record(ctx: RequestContext, given: pb.IamBinding) -> records_pb2.IamBindingRecord:
        """The record for ``given``, its ids checked (InvalidArgument); the rest is checked,
        once the caller is authorized where it applies, by :meth:`_check_binding`."""
        org = given.org or ctx.principal.org_id
        if org != ANY_ORG:
            validate_scope_id(org, "org")
        if given.project:
            validate_scope_id(given.project, "project")
        if given.bucket:
            validate_bucket_name(given.bucket)
        if org == ANY_ORG and (given.project or given.bucket or given.group):
            raise InvalidArgument(
                'A binding at org "*" names a principal, and no project or bucket',
                ArgumentName="org",
            )
        fields = (given.principal, given.group, given.role, org, given.project, given.bucket)
        binding_id = hashlib.sha256("\0".join(fields).encode()).hexdigest()[:20]
        return records_pb2.IamBindingRecord(
            id=binding_id,
            principal=given.principal,
            group=given.group,
            role=given.role,
            org=org,
            project=given.project,
            bucket=given.bucket,
        )

    def _check_binding(self, rec: records_pb2.IamBindingRecord) -> None:
        if bool(rec.principal) == bool(rec.group):
            raise InvalidArgument(
                "Set exactly one of principal and group", ArgumentName="principal"
            )
        if rec.principal:
            if rec.org == ANY_ORG and rec.principal.count("/") not in (1, 2):
                raise InvalidArgument(
                    'At org "*" write the principal as org/id or org/project/id',
                    ArgumentName="principal",
                )
            home = Scope(rec.org if rec.org != ANY_ORG else PLATFORM_ORG_HOME, rec.project or None)
            who = parse_identity(rec.principal, home)
            if rec.org != ANY_ORG and who.org_id != rec.org:
                raise InvalidArgument(
                    f"Principal {rec.principal!r} is not of org {rec.org!r}: share across orgs "
                    "with a bucket policy or ACL, not a binding",
                    ArgumentName="principal",
                )
        else:
            _name(rec.group, "group")
        if rec.role not in self._directory().engine.roles:
            raise InvalidArgument(f"Unknown role {rec.role!r}", ArgumentName="role")

    async def create_binding(
        self, ctx: RequestContext, req: pb.CreateBindingRequest
    ) -> pb.CreateBindingResponse:
        directory = self._directory()
        rec = self._binding_record(ctx, req.binding)
        where = _binding_resource(rec)
        await self._authorize(ctx, Action.IAM_WRITE, where)
        self._check_binding(rec)
        self._must_hold(ctx, Action.IAM_WRITE, rec.role, where, f"role {rec.role}")
        if rec.group and (rec.org, rec.group) not in directory.records.groups:
            await directory.reload()
            if (rec.org, rec.group) not in directory.records.groups:
                raise NoSuchIamEntity(f"No group {rec.group!r} in org {rec.org!r}")
        existing = directory.records.bindings.get((rec.org, rec.id))
        if existing is not None:
            return pb.CreateBindingResponse(binding=_binding_pb(existing))
        held = sum(1 for org, _ in directory.records.bindings if org == rec.org)
        if held >= directory.settings.max_bindings_per_org:
            raise IamLimitExceeded(f"Org {rec.org!r} holds {held} runtime bindings")
        rec.created_by = principal_label(ctx.principal)
        rec.created_at.CopyFrom(timestamp_of(time.time()))
        await self._cc.store.put(
            self._cc.keys.iam_binding(rec.org, rec.id), rec.SerializeToString()
        )
        await directory.reload()
        self._applied(ctx, Action.IAM_WRITE, where, f"binding {rec.id}: {_describe(rec)}")
        return pb.CreateBindingResponse(binding=_binding_pb(rec))

    async def delete_binding(
        self, ctx: RequestContext, req: pb.DeleteBindingRequest
    ) -> pb.DeleteBindingResponse:
        directory = self._directory()
        org = req.org or ctx.principal.org_id
        if org != ANY_ORG:
            validate_scope_id(org, "org")
        await directory.reload()
        rec = directory.records.bindings.get((org, req.id))
        if rec is None:
            # Ids derive from a binding's fields: only a caller allowed on the whole org learns
            # that one is absent (a project's admin is refused either way).
            await self._authorize(ctx, Action.IAM_WRITE, Resource(org))
            raise NoSuchIamEntity(f"No runtime binding {req.id!r} in org {org!r}")
        where = _binding_resource(rec)
        await self._authorize(ctx, Action.IAM_WRITE, where)
        self._must_hold(ctx, Action.IAM_WRITE, rec.role, where, f"binding {rec.id}")
        await self._cc.store.delete(self._cc.keys.iam_binding(org, req.id))
        await directory.reload()
        self._applied(ctx, Action.IAM_WRITE, where, f"deleted binding {rec.id}: {_describe(rec)}")
        return pb.DeleteBindingResponse()

    def _bindings_of(self, org: str) -> list[pb.IamBinding]:
        directory = self._directory()
        out: list[pb.IamBinding] = []
        for b in directory.settings.bindings:
            if b.org == org:
                out.append(
                    pb.IamBinding(
                        principal=b.principal or "",
                        group=b.group or "",
                        role=b.role,
                        org=b.org,
                        project=b.project or "",
                        bucket=b.bucket or "",
                        source="config",
                    )
                )
        for (b_org, _), rec in sorted(directory.records.bindings.items()):
            if b_org == org:
                out.append(_binding_pb(rec))
        return out

    async def list_bindings(
        self, ctx: RequestContext, req: pb.ListBindingsRequest
    ) -> pb.ListBindingsResponse:
        org = req.org or ctx.principal.org_id
        if org != ANY_ORG:
            validate_scope_id(org, "org")
        await self._authorize(ctx, Action.IAM_READ, Resource(org))
        return pb.ListBindingsResponse(bindings=self._bindings_of(org))

    async def list_principals(
        self, ctx: RequestContext, req: pb.ListPrincipalsRequest
    ) -> pb.ListPrincipalsResponse:
        directory = self._directory()
        org = req.org or ctx.principal.org_id
        validate_scope_id(org, "org")
        await self._authorize(ctx, Action.IAM_READ, Resource(org))
        found: dict[str, pb.IamPrincipal] = {}

        def entry(name: str) -> pb.IamPrincipal:
            return found.setdefault(name, pb.IamPrincipal(name=name))

        for (g_org, name), group in directory.records.groups.items():
            if g_org == org:
                for member in group.members:
                    entry(member).groups.append(name)
        for b in self._bindings_of(org):
            if b.group:
                continue
            home = Scope(org, b.project or None)
            who = parse_identity(b.principal, home)
            label = principal_label(who)
            entry(label).bindings.append(b)
        for rec in directory.records.bindings.values():
            if rec.org == org and rec.group:
                for binding in expand(rec, directory.records):
                    who = parse_identity(binding.principal, Scope(org))
                    entry(principal_label(who)).bindings.append(_binding_pb(rec))
        return pb.ListPrincipalsResponse(principals=[found[k] for k in sorted(found)])


PLATFORM_ORG_HOME = "default"
"""Only for parsing: a principal at ``org = "*"`` is always written with its org."""


def _binding_resource(rec: records_pb2.IamBindingRecord) -> Resource:
    if rec.org == ANY_ORG:
        return Resource(PLATFORM_ORG)
    return Binding(
        rec.principal or rec.group, rec.role, rec.org, rec.project or None, rec.bucket or None
    ).resource()


def _describe(rec: records_pb2.IamBindingRecord) -> str:
    who = rec.principal or f"group {rec.group}"
    return f"{who} holds {rec.role} at {_binding_resource(rec).path}"


def _binding_pb(rec: records_pb2.IamBindingRecord) -> pb.IamBinding:
    return pb.IamBinding(
        id=rec.id,
        principal=rec.principal,
        group=rec.group,
        role=rec.role,
        org=rec.org,
        project=rec.project,
        bucket=rec.bucket,
        source="runtime",
        created_by=rec.created_by,
        created_at=rec.created_at,
    )
