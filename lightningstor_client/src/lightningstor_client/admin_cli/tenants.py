"""``lightningstor admin principals|roles|groups|bindings …``: tenants of the embedded IAM at
runtime (IamAdminService). An org admin manages its own org; the platform admin any."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, to_json

if TYPE_CHECKING:
    from lightningstor_client._iam import IamBinding
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers


def _where(b: IamBinding) -> str:
    where = f"org/{b.org}"
    if b.project:
        where += f"/project/{b.project}"
    if b.bucket:
        where += f"/bucket/{b.bucket}"
    return where


def _binding_line(b: IamBinding) -> str:
    who = b.principal or f"group:{b.group}"
    return f"{b.id or '-':<20}  {who:<28} {b.role:<12} {_where(b):<36} {b.source}"


def _home(name: str) -> tuple[str, str | None, str]:
    """``org/id`` or ``org/project/id`` split into (org, project, id)."""
    parts = name.split("/")
    if len(parts) not in (2, 3) or "" in parts:
        raise SystemExit(
            f"lightningstor admin principals: write ORG/ID or ORG/PROJECT/ID, not {name!r}"
        )
    return parts[0], parts[1] if len(parts) == 3 else None, parts[-1]


# ---- principals ----


def cmd_principals_create(client: LightningStorClient, args: argparse.Namespace) -> None:
    """Bind the role (if given) where the principal lives, then mint its first access key."""
    org, project, ident = _home(args.name)
    binding = None
    if args.role:
        binding = client.create_binding(args.role, principal=args.name, org=org, project=project)
    from lightningstor_types.scope import Scope  # loaded only to run the command

    key = client.create_access_key(principal_id=ident, scope=Scope(org, project))
    if args.json:
        print(to_json({"principal": args.name, "binding": binding, "key": key}))
        return
    if binding is not None:
        print(f"binding:           {binding.id}  {args.role} at {_where(binding)}")
    print(f"principal:         {args.name}")
    print(f"access key id:     {key.access_key_id}")
    print(f"secret access key: {key.secret_access_key}")
    print("The secret is shown only now: store it safely.")


def cmd_principals_list(client: LightningStorClient, args: argparse.Namespace) -> None:
    for p in client.list_principals(org=args.org):
        if args.json:
            print(to_json(p))
            continue
        roles = ", ".join(f"{b.role}@{_where(b)}" for b in p.bindings) or "-"
        groups = ", ".join(p.groups) or "-"
        print(f"{p.name:<32} roles {roles}  groups {groups}")


# ---- roles ----


def cmd_roles_put(client: LightningStorClient, args: argparse.Namespace) -> None:
    role = client.put_role(args.name, args.actions)
    print(to_json(role) if args.json else f"role {role.name}: {' '.join(role.actions)}")


def cmd_roles_delete(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.delete_role(args.name)
    print(to_json({"deleted": args.name}) if args.json else f"deleted role {args.name}")


def cmd_roles_list(client: LightningStorClient, args: argparse.Namespace) -> None:
    for role in client.list_roles():
        print(
            to_json(role)
            if args.json
            else f"{role.name:<16} {role.source:<8} {' '.join(role.actions)}"
        )


# ---- groups ----


def cmd_groups_put(client: LightningStorClient, args: argparse.Namespace) -> None:
    group = client.put_group(args.name, args.members, org=args.org)
    if args.json:
        print(to_json(group))
    else:
        print(f"group {group.org}/{group.name}: {' '.join(group.members) or '(empty)'}")


def cmd_groups_delete(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.delete_group(args.name, org=args.org)
    print(to_json({"deleted": args.name}) if args.json else f"deleted group {args.name}")


def cmd_groups_list(client: LightningStorClient, args: argparse.Namespace) -> None:
    for group in client.list_groups(org=args.org):
        print(
            to_json(group) if args.json else f"{group.org}/{group.name}: {' '.join(group.members)}"
        )


# ---- bindings ----


def cmd_bindings_create(client: LightningStorClient, args: argparse.Namespace) -> None:
    if (args.principal is None) == (args.group is None):
        raise SystemExit("lightningstor admin bindings create: give --principal or --group")
    binding = client.create_binding(
        args.role,
        principal=args.principal,
        group=args.group,
        org=args.org,
        project=args.project,
        bucket=args.bucket,
    )
    print(to_json(binding) if args.json else _binding_line(binding))


def cmd_bindings_delete(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.delete_binding(args.id, org=args.org)
    print(to_json({"deleted": args.id}) if args.json else f"deleted binding {args.id}")


def cmd_bindings_list(client: LightningStorClient, args: argparse.Namespace) -> None:
    for binding in client.list_bindings(org=args.org):
        print(to_json(binding) if args.json else _binding_line(binding))


def _org(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--org", help="the org (default: the caller's own)")


def add_tenant_commands(groups: Subparsers) -> None:
    principals = groups.add_parser("principals", help="principals of an org: create, list")
    sub = principals.add_subparsers(dest="principals_command", required=True, metavar="COMMAND")
    create = add_command(
        sub, "create", cmd_principals_create, "bind a role to a principal and mint its first key"
    )
    create.add_argument("name", metavar="ORG[/PROJECT]/ID")
    create.add_argument("--role", help="bind this role where the principal lives (its org/project)")
    _org(add_command(sub, "list", cmd_principals_list, "principals that bindings or groups name"))

    roles = groups.add_parser("roles", help="roles: put, delete, list (platform admin)")
    sub = roles.add_subparsers(dest="roles_command", required=True, metavar="COMMAND")
    put = add_command(sub, "put", cmd_roles_put, "create or replace a runtime role")
    put.add_argument("name")
    put.add_argument("actions", nargs="+", metavar="ACTION", help="e.g. lightningstor:objects:*")
    add_command(sub, "delete", cmd_roles_delete, "delete a runtime role").add_argument("name")
    add_command(sub, "list", cmd_roles_list, "built-in, configured and runtime roles")

    grp = groups.add_parser("groups", help="groups of an org: put, delete, list")
    sub = grp.add_subparsers(dest="groups_command", required=True, metavar="COMMAND")
    put = add_command(sub, "put", cmd_groups_put, "create a group or replace its members")
    _org(put)
    put.add_argument("name")
    put.add_argument("members", nargs="*", metavar="ORG[/PROJECT]/ID")
    delete = add_command(sub, "delete", cmd_groups_delete, "delete a group no binding names")
    _org(delete)
    delete.add_argument("name")
    _org(add_command(sub, "list", cmd_groups_list, "the org's runtime groups"))

    bindings = groups.add_parser(
        "bindings", help="who holds which role where: create, delete, list"
    )
    sub = bindings.add_subparsers(dest="bindings_command", required=True, metavar="COMMAND")
    create = add_command(sub, "create", cmd_bindings_create, "grant a role (idempotent)")
    create.add_argument("--role", required=True)
    create.add_argument("--principal", help="id, ORG/ID or ORG/PROJECT/ID")
    create.add_argument("--group", help="a group of --org")
    create.add_argument("--org", help='the org ("*": every org; default: the caller\'s own)')
    create.add_argument("--project", help="only this project of --org")
    create.add_argument("--bucket", help="only this bucket")
    delete = add_command(sub, "delete", cmd_bindings_delete, "revoke a runtime binding")
    _org(delete)
    delete.add_argument("id", metavar="BINDING_ID")
    _org(add_command(sub, "list", cmd_bindings_list, "the org's bindings, configured and runtime"))
