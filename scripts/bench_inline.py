"""Small objects inline or chunked: PUT and GET 4 KiB at concurrency 32 against two embedded
servers in one run, ``storage.inline_max_bytes = 0`` (every body a chunk file) and the default.

    uv run python scripts/bench_inline.py [--duration 10] [--rounds 2]

The two servers run side by side and the workloads alternate between them (``--rounds`` times),
so both see the same load from the rest of the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for scripts.bench

from scripts.bench import KiB, Processes, Workload, run_workload, start_lightningstor, workdir

SETTINGS = {
    "chunked (inline_max_bytes = 0)": "[storage]\ninline_max_bytes = 0\n",
    "inline (default, 4 KiB)": "",
}
WORKLOADS = (
    Workload("PUT 4 KiB", "s3", "put", 4 * KiB, 1000, 32, "small", "ops_s"),
    Workload("GET 4 KiB", "s3", "get", 4 * KiB, 1000, 32, "small", "ops_s"),
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args()
    procs = Processes()
    results: dict[tuple[str, str], list[dict[str, str]]] = {}
    with workdir(args.keep) as work:
        try:
            targets = {
                name: start_lightningstor(
                    procs, work / f"s{i}", name, '[metadata]\nbackend = "embedded"\n' + extra
                )
                for i, (name, extra) in enumerate(SETTINGS.items())
            }
            for _ in range(args.rounds):
                for w in WORKLOADS:
                    for name, target in targets.items():
                        r = run_workload(target, w, args)
                        if r:
                            results.setdefault((w.name, name), []).append(r)
        finally:
            procs.stop_all()
    print("\n| workload | setting | ops/s (median) | server CPU ms/op (median) | runs |")
    print("| --- | --- | --- | --- | --- |")
    for (workload, name), runs in results.items():
        ops = statistics.median(float(r["ops_s"]) for r in runs)
        cpu = statistics.median(float(r["server_cpu_ms_op"]) for r in runs)
        print(f"| {workload} | {name} | {ops:,.0f} | {cpu:.3f} | {len(runs)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
