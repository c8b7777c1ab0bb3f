"""``lightningstor admin buckets [--org O [--project P]]``: every bucket, or one scope's."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, add_scope_arguments, to_json, when

if TYPE_CHECKING:
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers


def cmd_buckets(client: LightningStorClient, args: argparse.Namespace) -> None:
    # One scope is ListBuckets naming it (the admin may name any); no scope: every bucket.
    from lightningstor_types.scope import Scope  # kept off the start

    if args.org:
        buckets = iter(client.list_buckets(scope=Scope(args.org, args.project or None)))
    elif args.project:
        raise SystemExit("lightningstor admin buckets: --project needs --org")
    else:
        buckets = client.list_all_buckets()
    for b in buckets:
        if args.json:
            print(to_json(b))
        else:
            print(f"{when(b.created_at)}  {b.scope or '-'!s:<24} {b.name}")


def add_bucket_commands(groups: Subparsers) -> None:
    cmd = add_command(
        groups, "buckets", cmd_buckets, "list the buckets of every scope, or of --org/--project"
    )
    add_scope_arguments(cmd, "buckets")
