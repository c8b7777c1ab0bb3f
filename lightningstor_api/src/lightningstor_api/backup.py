"""``lightningstor-server backup --to FILE``: a consistent copy of the embedded metadata store,
taken while the server runs.

SQLite's online backup API copies the database in one step, that is inside one read
transaction: in WAL mode readers do not block the writer, so the server keeps serving, and the
copy is the database as of one commit (later commits are not in it, none half). The copy is
written to a temporary file next to ``FILE``, checked (``PRAGMA quick_check``), fsynced and
renamed, so ``FILE`` is either the old backup or a complete new one.

The chunks are not copied here: copy the chunk directory *after* this command (rsync, a
filesystem snapshot), so every chunk the backup references exists in the copy; chunks that the
copy holds but the backup does not reference are orphans, which garbage collection removes after
``storage.gc_grace_seconds``. The etcd backend is backed up with ``etcdctl snapshot save``
instead (README "Backup and restore").
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lightningstor_types.config import Settings
from lightningstor_types.config_loader import ConfigError, load_settings
from lightningstor_types.files import fsync_dir

__all__ = ["backup_embedded", "main"]

PROG = "lightningstor-server backup"


def backup_embedded(source: Path, target: Path) -> dict[str, object]:
    """Copy the SQLite database ``source`` to ``target`` atomically; what was copied."""
    if not source.is_file():
        raise FileNotFoundError(f"no embedded metadata store at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            src.execute("PRAGMA query_only = ON")  # the backup never writes to the live store
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # pages=-1: the whole database in one read transaction
                (check,) = dst.execute("PRAGMA quick_check").fetchone()
                if check != "ok":
                    raise sqlite3.DatabaseError(f"the copy failed its check: {check}")
                (keys,) = dst.execute("SELECT count(*) FROM kv").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(target)
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    size = target.stat().st_size
    return {"source": str(source), "backup": str(target), "keys": keys, "bytes": size}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Copy the embedded metadata store while the server runs (SQLite online "
        "backup). Other flags (--config, --data-dir, ...) are the server's and name the store.",
    )
    parser.add_argument("--to", required=True, type=Path, metavar="FILE", help="backup file")
    return parser


def main(argv: Sequence[str]) -> int:
    """The ``backup`` subcommand; the process's exit code."""
    args, rest = _parser().parse_known_args(argv)
    try:
        settings: Settings = load_settings(rest, prog=PROG, distribution="lightningstor-api")
    except ConfigError as err:
        print(f"{PROG}: configuration error: {err}", file=sys.stderr)
        return 2
    if settings.metadata.backend != "embedded":
        print(
            f"{PROG}: metadata.backend is {settings.metadata.backend!r}: back up etcd with "
            "`etcdctl snapshot save FILE` (see the README)",
            file=sys.stderr,
        )
        return 2
    try:
        report = backup_embedded(settings.metadata.embedded_path(settings), args.to)
    except (OSError, sqlite3.Error) as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0
