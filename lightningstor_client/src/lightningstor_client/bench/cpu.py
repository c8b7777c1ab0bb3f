"""CPU time and memory of server processes, read from ``/proc`` (Linux).

A server may be several processes (uvicorn workers, gRPC server processes): every pid given and
all of its descendants count, each read from ``/proc/{pid}/stat`` (utime + stime, in clock
ticks) and ``/proc/{pid}/status`` (VmRSS).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

__all__ = ["ProcessSampler", "cpu_seconds", "rss_bytes"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


def _descendants(pids: list[int]) -> list[int]:
    seen: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        with contextlib.suppress(OSError):
            for task in (_PROC / str(pid) / "task").iterdir():
                with contextlib.suppress(OSError):
                    children = (task / "children").read_text().split()
                    todo.extend(int(c) for c in children)
    return seen


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` and their descendants (alive ones)."""
    ticks = 0
    for pid in _descendants(pids):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (_PROC / str(pid) / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / _TICK


def rss_bytes(pids: list[int]) -> int:
    """Resident memory of ``pids`` and their descendants."""
    total = 0
    for pid in _descendants(pids):
        with contextlib.suppress(OSError, ValueError):
            for line in (_PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


class ProcessSampler:
    """CPU seconds between :meth:`start` and :meth:`stop`, and the peak RSS in between."""

    def __init__(self, pids: list[int], interval: float = 0.25) -> None:
        self.pids = pids
        self.interval = interval
        self.cpu = 0.0
        self.rss_start = 0
        self.rss_peak = 0
        self._cpu0 = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if not self.pids:
            return
        self._cpu0 = cpu_seconds(self.pids)
        self.rss_start = self.rss_peak = rss_bytes(self.pids)
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.rss_peak = max(self.rss_peak, rss_bytes(self.pids))

    async def stop(self) -> None:
        if not self.pids:
            return
        self.cpu = cpu_seconds(self.pids) - self._cpu0
        self.rss_peak = max(self.rss_peak, rss_bytes(self.pids))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
