"""The long fuzz mode: ``python -m tests.fuzz [--inputs N] [--seed S]`` (``make fuzz``).

Most inputs go through the S3 app in process; ``--socket-share`` of them go over real sockets to
a server process, and ``--grpc-share`` of the total are gRPC calls through the real client.
Prints progress every 50,000 in-process inputs, then the figures; exits 1 if anything failed.
``--max-seconds`` bounds the run on a busy machine (it reports how far it got).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

from tests.fuzz.run import fuzz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--inputs", type=int, default=1_000_000, help="total inputs")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--socket-share", type=float, default=0.03)
    parser.add_argument("--grpc-share", type=float, default=0.02)
    parser.add_argument(
        "--max-seconds", type=float, default=math.inf, help="stop early, and report, after this"
    )
    args = parser.parse_args(argv)
    socket = int(args.inputs * args.socket_share)
    grpc = int(args.inputs * args.grpc_share)
    asgi = args.inputs - socket - grpc
    print(f"seed {args.seed}: {asgi} in process, {socket} over sockets, {grpc} gRPC", flush=True)
    # tmpfs when there is one: the fsyncs of every accepted PUT are then cheap
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(
        prefix="lightningstor-fuzz-", dir=shm if shm.is_dir() else None
    ) as tmp:
        inproc, wire = fuzz(
            Path(tmp), seed=args.seed, asgi=asgi, socket=socket, grpc=grpc,
            seconds=args.max_seconds,
        )  # fmt: skip
    print("in process:    ", inproc.summary())
    print("over the wire: ", wire.summary())
    statuses = inproc.statuses + wire.statuses
    print("statuses:", dict(sorted(statuses.items())))
    for example in (inproc.examples + wire.examples)[:20]:
        print("  ", example)
    return 1 if inproc.failures or wire.failures or inproc.hangs or wire.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
