"""Allocator tuning for a process that streams large buffers.

glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB), after
which 8 MiB chunk buffers come from the heap arenas of whichever thread touched them and are
kept there: measured here, a 512 MiB PUT left the server 45 MiB larger and peaked 85 MiB above
its baseline. A fixed threshold keeps buffers above it in mmap, returned to the system on free.
It is 2 MiB, above the 1 MiB pieces that bodies and chunk reads move in: those are reused from
the arenas instead of being mapped, faulted in page by page and unmapped again for every MiB
(that cost 10 ms of server CPU per 64 MiB GET, and 30 ms more on an SSE GET, whose 64 KiB
blocks were given back to the system and faulted in again with every batch). Fixing the mmap
threshold also fixes the trim threshold at its 128 KiB default; 8 MiB lets an arena keep that
much free at its top for the next pieces.
glibc also gives every thread that allocates an arena of its own (up to 8 per core), and each
keeps what it once held: with dozens of I/O threads (metadata reads, chunk reads and writes)
that spread a 1 GiB transfer's peak over 20-40 MiB more; two arenas are enough here, since
the threads spend their time in system calls, not in malloc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 2 * 1024 * 1024
M_TRIM_THRESHOLD = -1
TRIM_THRESHOLD_BYTES = 8 * 1024 * 1024
M_ARENA_MAX = -8
ARENA_MAX = 2


def tune_allocator() -> bool:
    """Pin glibc's mmap and trim thresholds and its arenas (no-op elsewhere). Returns whether
    it was applied."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    results = (
        mallopt(M_ARENA_MAX, ARENA_MAX),
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
    )
    return all(results)
