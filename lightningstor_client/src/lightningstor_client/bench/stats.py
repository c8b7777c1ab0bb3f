"""Latency percentiles from the whole sample (sorted once at the end of a run)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["percentile", "summary_ms"]


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """The ``q``-quantile (0..1) of an ascending sample, nearest rank; 0 for an empty one."""
    if not sorted_ns:
        return 0.0
    rank = min(len(sorted_ns) - 1, max(0, math.ceil(q * len(sorted_ns)) - 1))
    return float(sorted_ns[rank])


def summary_ms(latencies_ns: list[int]) -> dict[str, float]:
    """p50, p90, p99 and max of a sample of nanosecond latencies, in milliseconds."""
    latencies_ns.sort()
    return {
        f"{name}_ms": percentile(latencies_ns, q) / 1e6
        for name, q in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))
    }
