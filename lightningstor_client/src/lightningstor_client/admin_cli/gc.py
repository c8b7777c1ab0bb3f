"""``lightningstor admin gc status|run``: the garbage collector's backlog, and a run now."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lightningstor_client.admin_cli.output import add_command, size, to_json, when

if TYPE_CHECKING:
    from lightningstor_client._admin_models import GcRunResult
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_client.admin_cli.output import Subparsers


def _result(run: GcRunResult) -> str:
    line = (
        f"{run.entries} journal entries, {run.references_released} references released, "
        f"{run.chunks_deleted} chunks ({size(run.bytes_freed)}) deleted, "
        f"{run.uploads_aborted} expired uploads aborted, "
        f"{run.temp_files_removed} leftover temporary files removed"
    )
    return line + (f"; failed: {run.error}" if run.error else "")


def cmd_status(client: LightningStorClient, args: argparse.Namespace) -> None:
    status = client.gc_status()
    if args.json:
        print(to_json(status))
        return
    print(f"journal entries:  {status.journal_entries}")
    print(f"oldest entry age: {status.oldest_entry_age_seconds:.0f} s")
    print(f"interval / grace: {status.interval_seconds:g} s / {status.grace_seconds:g} s")
    last = status.last_run
    print(f"last run:         {when(last.finished_at) + ': ' + _result(last) if last else 'none'}")


def cmd_run(client: LightningStorClient, args: argparse.Namespace) -> int:
    run = client.run_gc()
    print(to_json(run) if args.json else f"gc: {_result(run)}")
    return 1 if run.error else 0


def add_gc_commands(groups: Subparsers) -> None:
    gc = groups.add_parser("gc", help="garbage collection: status, run")
    sub = gc.add_subparsers(dest="gc_command", required=True, metavar="COMMAND")
    add_command(sub, "status", cmd_status, "the GC backlog and this server's last run")
    add_command(sub, "run", cmd_run, "collect now (journal, expired uploads); exit 1 on failure")
