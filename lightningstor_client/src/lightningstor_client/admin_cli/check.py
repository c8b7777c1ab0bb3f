"""``lightningstor admin check [--repair] [--grace SECONDS]``: metadata against itself and
against chunk storage.

A dry run unless ``--repair``. Exit code: 0 when consistent (dry run) or when repair fixed
everything it found; 1 otherwise; findings print as they arrive, the summary last.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, size, to_json, when

if TYPE_CHECKING:
    from lightningstor_client._admin_models import ConsistencyFinding, ConsistencySummary
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers


def _finding(f: ConsistencyFinding) -> str:
    if f.kind == "current_copy":
        line = f"{f.kind.upper():<17} {f.object_path}"
    else:
        where = f"mtime {when(f.mtime)}" if f.kind == "orphan" else f"data {f.data_id}"
        line = f"{f.kind.upper():<17} {f.chunk_id}  {size(f.size):>10}  {where}"
    if f.action:
        line += f"  -> {f.action}"
    return line + (f"  ({f.detail})" if f.detail else "")


def _summary(s: ConsistencySummary) -> list[str]:
    verdict = "consistent" if s.consistent else "NOT consistent"
    lines = [
        f"{verdict}{' (repaired)' if s.repair and not s.remaining and not s.consistent else ''}",
        f"  object keys {s.object_keys}, current copies disagreeing with the newest version "
        f"{s.current_copy_mismatches}",
        f"  data records {s.data_records}, referenced chunks {s.referenced_chunks} "
        f"({size(s.referenced_bytes)}), in the GC journal {s.journal_chunks}",
        f"  missing {s.missing}, corrupt {s.corrupt}, under-replicated {s.under_replicated}, "
        f"unknown {s.unknown}",
        f"  stored chunks {s.stored_chunks}: orphans {s.orphans} ({size(s.orphan_bytes)}), "
        f"unreferenced within the {s.grace_seconds:g} s grace {s.unreferenced_in_grace}",
        f"  leftover temporary files {s.temp_files} ({size(s.temp_bytes)})",
    ]
    if s.repair:
        lines.append(
            f"  repair: {s.current_copies_repaired} current copies repaired, "
            f"{s.orphans_deleted} orphans deleted, {s.temp_files_deleted} temporary files "
            f"deleted, {s.replicas_restored} replicas restored, {s.remaining} findings remain"
        )
    if s.findings_omitted:
        lines.append(f"  ({s.findings_omitted} findings not listed; see --max-findings)")
    return lines


def cmd_check(client: LightningStorClient, args: argparse.Namespace) -> int:
    from lightningstor_client._admin_models import ConsistencySummary  # kept off the start

    summary: ConsistencySummary | None = None
    for item in client.check_consistency(
        repair=args.repair,
        grace_seconds=args.grace,
        verify=not args.no_verify,
        max_findings=args.max_findings,
    ):
        if isinstance(item, ConsistencySummary):
            summary = item
            continue
        print(to_json({"finding": item}) if args.json else _finding(item), flush=True)
    if summary is None:
        raise SystemExit("lightningstor admin check: the server sent no summary")
    if args.json:
        print(to_json({"summary": summary}))
    else:
        print("\n".join(_summary(summary)))
    return 1 if summary.remaining else 0


def add_check_commands(groups: Subparsers) -> None:
    cmd = add_command(
        groups,
        "check",
        cmd_check,
        "consistency check of metadata against itself and chunk storage (dry run unless --repair)",
        "Consistency check: every object's current copy equal to its newest version, every "
        "referenced chunk present and intact, every stored chunk "
        "referenced (or younger than the grace period). Dry run by default; exit code 0 when "
        "consistent (or, with --repair, when everything found was fixed), 1 otherwise",
    )
    cmd.add_argument(
        "--repair",
        action="store_true",
        help="rewrite wrong current copies; delete orphans past the grace period; restore "
        "replicas (replicated backend)",
    )
    cmd.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="stored chunks younger than this are not orphans (default: storage.gc_grace_seconds)",
    )
    cmd.add_argument(
        "--no-verify",
        action="store_true",
        help="only check that referenced chunks exist (do not read them)",
    )
    cmd.add_argument(
        "--max-findings",
        type=int,
        default=0,
        metavar="N",
        help="list at most N findings (default: the server's 1000); the counts are complete",
    )
