"""Output of the admin commands: human-readable lines, or JSON with ``--json``."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
    """What ``add_subparsers`` returns (argparse gives it no public name)."""

Command = Callable[..., int | None]


def add_command(
    group: Subparsers,
    name: str,
    func: Command,
    help_text: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A leaf command with ``--json``; ``func(client, args)`` runs it."""
    cmd: argparse.ArgumentParser = group.add_parser(
        name, help=help_text, description=description or help_text
    )
    cmd.add_argument("--json", action="store_true", help="print JSON (one document per line)")
    cmd.set_defaults(func=func)
    return cmd


def add_scope_arguments(cmd: argparse.ArgumentParser, what: str) -> None:
    cmd.add_argument("--org", help=f"the org of the {what} (default: the caller's own scope)")
    cmd.add_argument("--project", help="a project of --org (default: the org itself)")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def to_json(value: Any) -> str:
    """One line of JSON for a dataclass (or anything json takes, holding dataclasses);
    datetimes in ISO 8601."""
    return json.dumps(value, default=_default, sort_keys=True)


def when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def size(n: int) -> str:
    """Bytes for a person: 512 B, 1.5 KiB, 3.0 GiB."""
    amount = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")
