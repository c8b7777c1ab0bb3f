"""Readiness of a storage node: can it write to its data directory, and is there room?

- ``data_dir``: a file created, written, fsynced and removed in ``{data_dir}/chunks/tmp/``, the
  directory every put starts in (a read-only or failed disk, a ``chunks`` that is no directory);
- ``free_space``: the filesystem has at least ``min_free_bytes`` free.

Not ready turns the ``StorageNode`` service NOT_SERVING on the gRPC health service (``""``
stays SERVING while the process runs: that is liveness) and ``/ready`` 503. Reads still work on
a node that is not ready; the servers decide where to write from ``NodeInfo``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from lightningstor_storage.node.state import NodeState
from lightningstor_types.config import StorageNodeSettings, format_size
from lightningstor_types.readiness import ReadinessChecks

__all__ = ["node_readiness"]

PROBE_DIR = Path("chunks") / "tmp"


def node_readiness(settings: StorageNodeSettings, state: NodeState) -> ReadinessChecks:
    """The node's readiness checks (cached for a second, as the server's)."""
    probe_dir = settings.data_dir / PROBE_DIR
    minimum = settings.min_free_bytes

    async def writable() -> None:
        await asyncio.to_thread(_write_probe, probe_dir)

    async def free_space() -> None:
        free = (await state.capacity()).free
        if free < minimum:
            raise OSError(f"{format_size(free)} free, below min_free_bytes {format_size(minimum)}")

    return ReadinessChecks({"data_dir": writable, "free_space": free_space})


def _write_probe(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".ready-{uuid.uuid4().hex}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, b"ready?\n")
        os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
