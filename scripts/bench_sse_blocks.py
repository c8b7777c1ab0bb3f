"""CPU of sealing and opening 64 MiB in the SSE block format, in process (no server, no I/O):
what each change to ``encryption/blocks.py`` and ``chunks.py`` bought, apart from the noise of a
shared machine that the side-by-side rows of ``make bench`` carry.

    uv run python scripts/bench_sse_blocks.py [--rounds 5] [--old PATH]

``--old`` is a copy of an earlier ``blocks.py`` (e.g. ``git show <rev>:…/blocks.py > old.py``),
measured the way the earlier ``chunks.py`` called it: per piece (PUT) and per 1 MiB joined
batch (GET). The figures are the best of ``--rounds``, CPU milliseconds per 64 MiB, in one
thread (the worker-thread hops the server adds are not counted). Each row runs in a process of
its own, with the server's allocator settings (``lightningstor_types.memory``): the allocator's
state after one row (glibc moves its mmap threshold) changed the next row's figure by a factor
of three.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from types import ModuleType

from lightningstor_api.encryption.blocks import (
    BLOCK_SIZE,
    TAG_SIZE,
    BlockOpener,
    BlockSealer,
    sealed_size,
)
from lightningstor_api.encryption.chunks import BATCH
from lightningstor_types.memory import tune_allocator

SIZE = 64 * 1024 * 1024
PIECE = 100_000
"""Request body pieces as they come off the socket: any size, not block-aligned."""
FETCH = 1024 * 1024
"""Pieces of a stored chunk as the local backend reads them."""


def _cpu_ms(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        fn()
        best = min(best, (time.process_time() - start) * 1000)
    return best


def _batches(pieces: list[bytes], size: int) -> list[list[bytes]]:
    out: list[list[bytes]] = [[]]
    held = 0
    for piece in pieces:
        out[-1].append(piece)
        held += len(piece)
        if held >= size:
            out.append([])
            held = 0
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--old", help="an earlier blocks.py to compare with")
    p.add_argument("--row", type=int, help=argparse.SUPPRESS)  # run this row alone, print it
    args = p.parse_args()
    if args.row is None:
        print("| op | how | CPU ms per 64 MiB |")
        print("| --- | --- | ---: |")
        for row in range(6 if args.old else 4):
            cmd = [sys.executable, __file__, "--rounds", str(args.rounds), "--row", str(row)]
            cmd += ["--old", args.old] if args.old else []
            print(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout, end="")
        return 0
    tune_allocator()  # as the server does: the allocator's settings decide the copies' cost
    key, plain = os.urandom(32), os.urandom(SIZE)
    pieces = [plain[i : i + PIECE] for i in range(0, SIZE, PIECE)]
    sealer = BlockSealer(key)
    sealed = sealer.seal(plain) + sealer.finish()
    assert len(sealed) == sealed_size(SIZE, BLOCK_SIZE)
    fetched = [sealed[i : i + FETCH] for i in range(0, len(sealed), FETCH)]
    step = BLOCK_SIZE + TAG_SIZE
    rows: list[tuple[str, str, Callable[[], object]]] = []

    def copy_only() -> None:
        for batch in _batches(pieces, BATCH):
            b"".join(batch)

    rows.append(("floor", "one join of every byte (a copy of 64 MiB)", copy_only))

    if args.old:
        spec = importlib.util.spec_from_file_location("old_blocks", args.old)
        assert spec is not None and spec.loader is not None
        old: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)

        def old_put() -> None:
            s = old.BlockSealer(key)
            for piece in pieces:
                s.seal(piece)
            s.finish()

        def old_get() -> None:
            held: list[bytes] = []
            size, index = 0, 0
            for piece in fetched:  # the earlier read_sealed: join, cut at a block, open
                held.append(piece)
                size += len(piece)
                if size >= FETCH:
                    joined = b"".join(held)
                    whole = size - size % step
                    held, size = ([joined[whole:]], size - whole) if whole < size else ([], 0)
                    old.open_blocks(
                        key, BLOCK_SIZE, index, joined[:whole] if whole < len(joined) else joined
                    )
                    index += whole // step
            if held:
                old.open_blocks(key, BLOCK_SIZE, index, b"".join(held))

        rows.append(
            (
                "PUT",
                "before: a piece at a time, a bytes copy per block",
                old_put,
            )
        )
        rows.append(
            (
                "GET",
                "before: 1 MiB joined and cut, a bytes copy per block",
                old_get,
            )
        )

    def new_put_pieces() -> None:
        s = BlockSealer(key)
        for piece in pieces:
            s.seal(piece)
        s.finish()

    def new_put_batched() -> None:
        s = BlockSealer(key)
        for batch in _batches(pieces, BATCH):
            s.seal_pieces(batch)
        s.finish()

    def new_get() -> None:
        o = BlockOpener(key, BLOCK_SIZE, 0)
        batches = _batches(fetched, BATCH)
        for batch in batches[:-1]:
            o.open_pieces(batch)
        o.open_pieces(batches[-1], last=True)

    rows.append(("PUT", "blocks as memoryviews, a piece at a time", new_put_pieces))
    rows.append(
        (
            "PUT",
            "blocks as memoryviews, 1 MiB batches, one join",
            new_put_batched,
        )
    )
    rows.append(
        (
            "GET",
            "blocks as memoryviews of the fetched pieces, 1 MiB batches, one join",
            new_get,
        )
    )
    op, how, fn = rows[args.row]
    print(f"| {op} | {how} | {_cpu_ms(fn, args.rounds):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
