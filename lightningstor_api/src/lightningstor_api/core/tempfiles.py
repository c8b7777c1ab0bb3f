"""Leftover temporary chunk files: what a put killed mid-write leaves in ``chunks/tmp/``.

The local backend writes each chunk to a temporary file before renaming it into place; a crash
(``kill -9``) leaves those files behind, invisible to the chunk listing, so neither the GC's
orphan sweep nor the consistency check would see them. The server removes them at start (all of
them when it is the only process on the data directory: its own puts in flight are known to the
backend and kept), in each GC run (those older than ``storage.gc_grace_seconds``), and the
consistency check counts them (deleting them with ``repair``). Backends without temporary files
(the distributed ones: the storage node sweeps its own at start) have nothing here.
"""

from __future__ import annotations

from lightningstor_api import tracing
from lightningstor_storage import LocalBackend, StorageBackend


def _local(storage: StorageBackend) -> LocalBackend | None:
    backend = tracing.unwrapped(storage)
    return backend if isinstance(backend, LocalBackend) else None


async def sweep(storage: StorageBackend, older_than: float) -> int:
    """Remove temporary files not in use, older than ``older_than`` seconds; how many."""
    local = _local(storage)
    return await local.sweep_temp(older_than) if local is not None else 0


async def count(storage: StorageBackend, older_than: float) -> tuple[int, int]:
    """Temporary files not in use, older than ``older_than`` seconds: (files, bytes)."""
    local = _local(storage)
    return await local.temp_files(older_than) if local is not None else (0, 0)
