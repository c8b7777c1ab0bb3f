"""``lightningstor admin public-access-block get|put|delete [--org ORG]``: the org-wide block."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, to_json

if TYPE_CHECKING:
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers

# option / keyword argument / S3's element name, in S3's order
FLAGS = (
    ("block-public-acls", "block_public_acls", "BlockPublicAcls"),
    ("ignore-public-acls", "ignore_public_acls", "IgnorePublicAcls"),
    ("block-public-policy", "block_public_policy", "BlockPublicPolicy"),
    ("restrict-public-buckets", "restrict_public_buckets", "RestrictPublicBuckets"),
)


def cmd_get(client: LightningStorClient, args: argparse.Namespace) -> None:
    got = client.get_org_public_access_block(args.org)
    flags = {name: getattr(got, attr) for _, attr, name in FLAGS}
    if args.json:
        print(to_json(flags))
        return
    for name, value in flags.items():
        print(f"{name + ':':<23}{str(value).lower()}")


def cmd_put(client: LightningStorClient, args: argparse.Namespace) -> None:
    chosen = {attr: bool(getattr(args, attr)) for _, attr, _ in FLAGS}
    if args.all:
        chosen = dict.fromkeys(chosen, True)
    client.put_org_public_access_block(args.org, **chosen)
    on = [name for _, attr, name in FLAGS if chosen[attr]]
    print(f"public access block of org {args.org or '(own)'}: {', '.join(on) or 'no flag'}")


def cmd_delete(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.delete_org_public_access_block(args.org)
    print(f"public access block of org {args.org or '(own)'} removed")


def add_public_access_commands(groups: Subparsers) -> None:
    group = groups.add_parser(
        "public-access-block",
        help="the org-wide public access block: get, put, delete",
        description="The four flags of S3's PublicAccessBlock for every bucket of an org, ORed "
        "with each bucket's own block (the org's admin or the platform admin).",
    )
    sub = group.add_subparsers(dest="pab_command", required=True, metavar="COMMAND")
    for name, func, text in (
        ("get", cmd_get, "the org's block (exit 1 when it has none)"),
        ("put", cmd_put, "set the org's block: the flags given are on, the others off"),
        ("delete", cmd_delete, "remove the org's block"),
    ):
        cmd = add_command(sub, name, func, text)
        cmd.add_argument("--org", help="the org (default: the caller's own)")
        if name == "put":
            for option, _, element in FLAGS:
                cmd.add_argument(f"--{option}", action="store_true", help=f"set {element}")
            cmd.add_argument("--all", action="store_true", help="set all four flags")
