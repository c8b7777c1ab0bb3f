"""The server's allocator tuning (lightningstor_types.memory): streamed pieces are reused, not
mapped and faulted in again for every MiB, and buffers above the threshold still go back to the
system. Counted in page faults of a fresh interpreter, not in time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="mallopt is glibc's (Linux)"
)

_PROGRAM = """
import json, resource, sys
from lightningstor_types.memory import tune_allocator

applied = tune_allocator() if sys.argv[1] == "tuned" else None

def faults(make):
    make()  # the first round maps what the later rounds may reuse
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(64):
        make()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

MIB = 1024 * 1024
def piece():  # a 1 MiB body piece or chunk read, filled and dropped
    bytes(bytearray(MIB))
def blocks():  # an SSE batch: sixteen 64 KiB blocks, joined, all dropped
    b"".join([bytes(bytearray(64 * 1024)) for _ in range(16)])
def big():  # a buffer above the mmap threshold
    bytes(bytearray(4 * MIB))

print(json.dumps({"applied": applied, "piece": faults(piece), "blocks": faults(blocks),
                  "big": faults(big)}))
"""


def _faults(mode: str) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM, mode], capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(out.stdout)
    return result


def test_streamed_pieces_are_reused_and_large_buffers_returned() -> None:
    tuned = _faults("tuned")
    assert tuned["applied"] is True
    pages_per_mib = 256
    # 64 rounds of 1 MiB (and of sixteen 64 KiB blocks plus their join): reused, a fault
    # for every MiB would be 64 * 256 = 16,384.
    assert tuned["piece"] < 8 * pages_per_mib, tuned
    assert tuned["blocks"] < 8 * pages_per_mib, tuned
    # A 4 MiB buffer is mapped and unmapped each time: returned to the system, never kept.
    assert tuned["big"] >= 64 * 4 * pages_per_mib // 2, tuned
