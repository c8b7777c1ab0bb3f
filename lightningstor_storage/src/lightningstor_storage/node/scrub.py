"""The node's own checksum scrub: every local chunk read back and checked, at a set rate.

A pass lists the node's chunks and reads each one through the local backend, which checks every
block against its CRC32C, never faster than ``scrub_rate_bytes_per_second``. A chunk that fails
is moved to ``{data_dir}/quarantine/``: from then on the node answers NOT_FOUND for it, and the
servers' repair copies a good replica back. A pass starts at most once per
:data:`MIN_PASS_INTERVAL` seconds; 0 as the rate turns the scrub off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from lightningstor_storage.backend import ChunkCorrupt, ChunkNotFound, StorageError
from lightningstor_storage.local import LocalBackend

__all__ = ["MIN_PASS_INTERVAL", "NodeScrubber", "ScrubStats"]

log = logging.getLogger(__name__)

MIN_PASS_INTERVAL = 3600.0


@dataclass(slots=True)
class ScrubStats:
    passes: int = 0
    chunks_checked: int = 0
    bytes_checked: int = 0
    chunks_quarantined: int = 0


class NodeScrubber:
    """Reads every chunk of a local backend back at ``rate`` bytes per second."""

    def __init__(self, backend: LocalBackend, rate: int) -> None:
        self.backend = backend
        self.rate = rate
        self.stats = ScrubStats()

    async def run_once(self) -> ScrubStats:
        """One pass over every chunk stored now."""
        started = time.monotonic()
        budget = 0.0  # seconds of reading the rate allows so far
        for stat in [s async for s in self.backend.list_chunks()]:
            try:
                async for piece in self.backend.get_chunk(stat.chunk_id):
                    self.stats.bytes_checked += len(piece)
                    budget += len(piece) / self.rate
                    ahead = started + budget - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            except ChunkNotFound:  # deleted since the listing
                continue
            except ChunkCorrupt as exc:
                log.error("scrub: %s; moved to quarantine", exc)
                if await self.backend.quarantine(stat.chunk_id):
                    self.stats.chunks_quarantined += 1
            self.stats.chunks_checked += 1
        self.stats.passes += 1
        log.info(
            "scrub pass done",
            extra={
                "chunks": self.stats.chunks_checked,
                "seconds": round(time.monotonic() - started, 1),
                "quarantined": self.stats.chunks_quarantined,
            },
        )
        return self.stats

    async def run_forever(self) -> None:
        """Passes, each starting at least MIN_PASS_INTERVAL after the one before."""
        while True:
            started = time.monotonic()
            try:
                await self.run_once()
            except StorageError as exc:
                log.warning("scrub pass failed: %s", exc)
            await asyncio.sleep(max(0.0, started + MIN_PASS_INTERVAL - time.monotonic()))
