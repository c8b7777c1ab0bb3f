"""``lightningstor admin keys create|list|delete``: S3 access keys (the CredentialService)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, add_scope_arguments, to_json, when

if TYPE_CHECKING:
    from lightningstor_client._models import AccessKey
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers
    from lightningstor_types.scope import Scope


def _scope(args: argparse.Namespace) -> Scope | None:
    from lightningstor_types.scope import Scope  # kept off the start

    if args.project and not args.org:
        raise SystemExit("lightningstor admin keys: --project needs --org")
    return Scope(args.org, args.project or None) if args.org else None


def _expiry(value: str | None) -> datetime | None:
    """``--expires``: seconds from now, or an ISO 8601 time (UTC unless it says otherwise)."""
    if value is None:
        return None
    try:
        return datetime.now(UTC) + timedelta(seconds=float(value))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SystemExit(f"lightningstor admin keys: bad --expires {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _describe(key: AccessKey) -> str:
    expires = when(key.expires_at) if key.expires_at else "never"
    return (
        f"{key.access_key_id}  {key.principal_id:<20} {key.scope or '-'!s:<20} "
        f"created {when(key.created_at)}  expires {expires}  {key.description}"
    ).rstrip()


def cmd_create(client: LightningStorClient, args: argparse.Namespace) -> None:
    key = client.create_access_key(
        principal_id=args.principal,
        expires_at=_expiry(args.expires),
        description=args.description,
        scope=_scope(args),
    )
    if args.json:
        print(to_json(key))  # the one time the secret is shown
        return
    print(f"access key id:     {key.access_key_id}")
    print(f"secret access key: {key.secret_access_key}")
    print(f"principal:         {key.principal_id} in {key.scope or '-'}")
    print(f"expires:           {when(key.expires_at) if key.expires_at else 'never'}")
    print("The secret is shown only now: store it safely.")


def cmd_list(client: LightningStorClient, args: argparse.Namespace) -> None:
    for key in client.list_access_keys(principal_id=args.principal, scope=_scope(args)):
        print(to_json(key) if args.json else _describe(key))


def cmd_delete(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.delete_access_key(args.access_key_id, scope=_scope(args))
    if args.json:
        print(to_json({"deleted": args.access_key_id}))
    else:
        print(f"deleted access key {args.access_key_id}")


def add_key_commands(groups: Subparsers) -> None:
    keys = groups.add_parser("keys", help="S3 access keys: create, list, delete")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    create = add_command(sub, "create", cmd_create, "create a key (its secret is shown once)")
    add_scope_arguments(create, "key's principal")
    create.add_argument("--principal", help="the principal id (default: the caller)")
    create.add_argument(
        "--expires", metavar="SECONDS|TIME", help="seconds from now, or an ISO 8601 time"
    )
    create.add_argument("--description", default="", help="a note kept with the key")
    listing = add_command(sub, "list", cmd_list, "list keys (never their secrets)")
    add_scope_arguments(listing, "keys")
    listing.add_argument("--principal", help="only this principal's keys")
    delete = add_command(sub, "delete", cmd_delete, "delete a key")
    add_scope_arguments(delete, "key")
    delete.add_argument("access_key_id", metavar="ACCESS_KEY_ID")
