"""Small durable-file helpers shared by the packages that write to disk."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["PORTS_FILE_ENV", "fsync_dir", "write_ports_file"]

PORTS_FILE_ENV = "LIGHTNINGSTOR_PORTS_FILE"


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_ports_file(ports: Mapping[str, str]) -> None:
    """Publish the bound addresses as JSON to ``$LIGHTNINGSTOR_PORTS_FILE`` (atomically)."""
    target = os.environ.get(PORTS_FILE_ENV)
    if not target:
        return
    path = Path(target)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(dict(ports), f)
        f.flush()
        os.fsync(f.fileno())
    Path(tmp).replace(path)
