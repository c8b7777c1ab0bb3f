"""``usage`` and ``quota get|set|delete``: the CLI of UsageService (admin commands)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client._usage import Usage
    from lightningstor_client.admin_cli.output import Subparsers


def _target(args: argparse.Namespace) -> dict[str, Any]:
    return {"org": args.org, "project": args.project, "bucket": args.bucket}


def _line(label: str, u: Usage) -> str:
    return (
        f"{label:<32} {u.bytes_stored:>16} {u.object_count:>10} {u.requests:>10} "
        f"{u.bytes_in:>14} {u.bytes_out:>14} {u.throttled:>10}"
    )


def cmd_usage(client: LightningStorClient, args: argparse.Namespace) -> None:
    report = client.get_usage(**_target(args))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    print(
        f"{'':<32} {'bytes':>16} {'objects':>10} {'requests':>10} {'in':>14} {'out':>14} "
        f"{'throttled':>10}"
    )
    print(_line("total", report.total))
    for project, u in report.projects.items():
        print(_line(f"project {project or '(org)'}", u))
    for (project, bucket), u in report.buckets.items():
        print(_line(f"bucket {project + '/' if project else ''}{bucket}", u))


def cmd_quota_get(client: LightningStorClient, args: argparse.Namespace) -> None:
    info = client.get_quota(**_target(args))
    stored = dataclasses.asdict(info.quota) if info.quota is not None else None
    print(json.dumps({"quota": stored, "effective": dataclasses.asdict(info.effective)}, indent=2))


def cmd_quota_set(client: LightningStorClient, args: argparse.Namespace) -> None:
    from lightningstor_client._usage import Quota  # kept off the start

    quota = Quota(
        max_buckets=args.max_buckets,
        max_bytes=args.max_bytes,
        max_objects=args.max_objects,
        max_object_size=args.max_object_size,
        requests_per_second=args.requests_per_second,
        bytes_in_per_second=args.bytes_in_per_second,
        bytes_out_per_second=args.bytes_out_per_second,
    )
    stored = client.set_quota(quota, **_target(args))
    print(json.dumps(dataclasses.asdict(stored), indent=2))


def cmd_quota_delete(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.delete_quota(**_target(args))
    print("quota deleted")


def _size(value: str) -> int:
    """A size in bytes, or with a unit (``10GiB``); 0 = unlimited."""
    if value.strip().isdigit():
        return int(value)
    from lightningstor_types.units import parse_size  # kept off the start

    size = parse_size(value)
    if not isinstance(size, int):
        raise argparse.ArgumentTypeError(f"invalid size {value!r}")
    return size


def _add_target(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--org", help="org (default: the caller's own scope)")
    cmd.add_argument("--project", help="a project of the org (default: the org as a whole)")
    cmd.add_argument("--bucket", help="a bucket of the org or project")


def add_usage_commands(subparsers: Subparsers) -> None:
    """Add ``usage`` and ``quota get|set|delete`` to a CLI's subcommands."""
    usage = subparsers.add_parser("usage", help="usage of an org, project or bucket")
    _add_target(usage)
    usage.add_argument("--json", action="store_true", help="JSON instead of a table")
    usage.set_defaults(func=cmd_usage)

    quota = subparsers.add_parser("quota", help="read, set or delete a quota (0 = unlimited)")
    actions = quota.add_subparsers(dest="quota_command", required=True, metavar="ACTION")
    get = actions.add_parser("get", help="the stored and the enforced quota (JSON)")
    _add_target(get)
    get.set_defaults(func=cmd_quota_get)
    put = actions.add_parser("set", help="store a quota (replaces the configured default)")
    _add_target(put)
    put.add_argument("--max-buckets", type=int, default=0)
    put.add_argument("--max-bytes", type=_size, default=0, help="e.g. 10GiB")
    put.add_argument("--max-objects", type=int, default=0)
    put.add_argument("--max-object-size", type=_size, default=0, help="e.g. 5GiB")
    put.add_argument("--requests-per-second", type=int, default=0, help="per server process")
    put.add_argument("--bytes-in-per-second", type=_size, default=0, help="e.g. 100MiB")
    put.add_argument("--bytes-out-per-second", type=_size, default=0, help="e.g. 100MiB")
    put.set_defaults(func=cmd_quota_set)
    delete = actions.add_parser("delete", help="delete a stored quota (the default applies)")
    _add_target(delete)
    delete.set_defaults(func=cmd_quota_delete)
