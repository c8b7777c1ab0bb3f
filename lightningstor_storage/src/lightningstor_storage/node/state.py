"""What a storage node knows about itself: its id, its zone, whether it drains, its capacity.

The id (``{data_dir}/node-id``, made at first start) and the drain mark (``{data_dir}/DRAINING``)
live in the data directory, so they survive restarts and travel with the disk. The chunk count
and the bytes they hold come from a listing (the first one when they are first asked for), kept
up to date by the puts and deletes served since, and redone in the background when it is older
than :data:`COUNT_TTL` seconds (a put or delete racing with that listing can make it off by a
few until the next).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from lightningstor_storage.local import LocalBackend
from lightningstor_types.files import fsync_dir

__all__ = ["COUNT_TTL", "Capacity", "NodeState"]

COUNT_TTL = 600.0
NODE_ID_FILE = "node-id"
DRAINING_FILE = "DRAINING"


@dataclass(frozen=True, slots=True)
class Capacity:
    """Bytes of the filesystem holding the data directory."""

    total: int
    free: int


class NodeState:
    """Identity and drain state of one node (load with :meth:`open`)."""

    def __init__(self, data_dir: Path, node_id: str, zone: str, draining: bool) -> None:
        self.data_dir = data_dir
        self.node_id = node_id
        self.zone = zone
        self.draining = draining
        self._count: int | None = None
        self._bytes = 0
        self._counted_at = 0.0
        self._recount: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, data_dir: Path, zone: str | None) -> NodeState:
        """Create the data directory and the node id if missing; read the drain mark."""
        return await asyncio.to_thread(cls._open, data_dir, zone or "")

    @classmethod
    def _open(cls, data_dir: Path, zone: str) -> NodeState:
        data_dir.mkdir(parents=True, exist_ok=True)
        id_file = data_dir / NODE_ID_FILE
        try:
            node_id = id_file.read_text().strip()
        except FileNotFoundError:
            node_id = uuid.uuid4().hex
            _write_durably(id_file, node_id + "\n")
        return cls(data_dir, node_id, zone, (data_dir / DRAINING_FILE).exists())

    async def set_draining(self, draining: bool) -> None:
        """Mark or unmark the node as draining, durably."""
        await asyncio.to_thread(self._set_draining, draining)
        self.draining = draining

    def _set_draining(self, draining: bool) -> None:
        mark = self.data_dir / DRAINING_FILE
        if draining:
            _write_durably(mark, "draining: servers move this node's chunks away\n")
        elif mark.exists():
            mark.unlink()
            fsync_dir(self.data_dir)

    async def capacity(self) -> Capacity:
        """Size and free space of the data directory's filesystem."""
        st = await asyncio.to_thread(os.statvfs, self.data_dir)
        return Capacity(st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)

    async def chunk_count(self, backend: LocalBackend) -> int:
        """Chunks stored (see the module docstring for how fresh)."""
        return (await self.stored(backend))[0]

    async def stored(self, backend: LocalBackend) -> tuple[int, int]:
        """Chunks stored and their data bytes (see the module docstring for how fresh)."""
        if self._count is None:
            await self._list(backend)
        elif time.monotonic() - self._counted_at > COUNT_TTL and self._recount is None:
            self._recount = asyncio.create_task(self._list(backend))
            self._recount.add_done_callback(self._recounted)
        return self._count or 0, self._bytes

    def counted(self, delta: int, size: int) -> None:
        """A put (+1, its size) or delete (-1, the size it had) was served."""
        if self._count is not None:
            self._count = max(0, self._count + delta)
            self._bytes = max(0, self._bytes + delta * size)

    async def _list(self, backend: LocalBackend) -> None:
        count = size = 0
        async for stat in backend.list_chunks():
            count += 1
            size += stat.size
        self._count, self._bytes, self._counted_at = count, size, time.monotonic()

    def _recounted(self, task: asyncio.Task[None]) -> None:
        self._recount = None
        if not task.cancelled() and task.exception() is not None:
            self._counted_at = time.monotonic()  # retried after the next TTL

    async def close(self) -> None:
        """Stop a recount under way."""
        if self._recount is not None:
            self._recount.cancel()
            await asyncio.gather(self._recount, return_exceptions=True)


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fsync_dir(path.parent)
