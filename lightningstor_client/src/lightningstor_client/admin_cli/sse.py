"""``lightningstor admin sse rewrap [--bucket B] [--from-key K] [--to-key K]``: server-side
encryption key rotation.

Progress prints a line per bucket as the server finishes it, the totals last. Exit code: 0 when
every selected data key was rewrapped; 1 when some did not open (their master key is gone).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, to_json

if TYPE_CHECKING:
    from lightningstor_client._admin_models import RewrapProgress
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers


def _counts(p: RewrapProgress) -> str:
    return (
        f"{p.buckets} buckets, {p.records} records read, {p.records_updated} written; "
        f"data keys: {p.chunks_rewrapped} rewrapped to {p.to_key!r}, {p.chunks_unchanged} "
        f"unchanged, {p.chunks_customer} SSE-C (left alone), {p.chunks_failed} failed"
    )


def cmd_rewrap(client: LightningStorClient, args: argparse.Namespace) -> int:
    last: RewrapProgress | None = None
    for item in client.rewrap_keys(bucket=args.bucket, from_key=args.from_key, to_key=args.to_key):
        last = item
        if args.json:
            print(to_json(item), flush=True)
        elif not item.done:
            print(f"{item.bucket}: {_counts(item)}", flush=True)
    if last is None or not last.done:
        raise SystemExit("lightningstor admin sse rewrap: the server sent no totals")
    if not args.json:
        print(f"done: {_counts(last)}")
    return 1 if last.chunks_failed else 0


def add_sse_commands(groups: Subparsers) -> None:
    sse = groups.add_parser("sse", help="server-side encryption: rewrap (key rotation)")
    sub = sse.add_subparsers(dest="sse_command", required=True, metavar="COMMAND")
    cmd = add_command(
        sub,
        "rewrap",
        cmd_rewrap,
        "rewrap the data keys of encrypted chunks under another master key (rotation)",
        "Wrap the data key of every SSE-S3 and SSE-KMS chunk again under the active (or named) "
        "master key, without reading or rewriting chunk data; SSE-C chunks are left alone. "
        "Running it again changes nothing, and an interrupted run is finished by running it "
        "again. Exit code 1 when some data key did not open (its master key is gone)",
    )
    cmd.add_argument("--bucket", default="", help="only the buckets of this name (every scope)")
    cmd.add_argument(
        "--from-key",
        default="",
        metavar="KEY",
        help="only data keys wrapped by this master key (default: any key but the target)",
    )
    cmd.add_argument(
        "--to-key",
        default="",
        metavar="KEY",
        help="the master key to wrap with (default: the server's active key)",
    )
