"""One progress bar per command, however many files it moves."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

PROGRESS_MIN_BYTES = 4 * 1024 * 1024


class ProgressBar:
    """A one-line progress bar, redrawn at most ten times a second."""

    def __init__(self, label: str, out: TextIO, width: int = 30) -> None:
        self._label, self._out, self._width = label, out, width
        self._start = self._drawn = time.monotonic()
        self._ended = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._ended or (now - self._drawn < 0.1 and done < total):
            return
        self._drawn = now
        filled = self._width * done // total if total else self._width
        rate = done / max(now - self._start, 1e-6) / 2**20
        bar = "#" * filled + "." * (self._width - filled)
        self._out.write(
            f"\r{self._label} [{bar}] {done / 2**20:8.1f}/{total / 2**20:.1f} MiB {rate:7.1f} MiB/s"
        )
        if done >= total:
            self._out.write("\n")
            self._ended = True  # the line is finished: a later report must not start another
        self._out.flush()


class Tally:
    """The bytes of many transfers summed into one bar: ``for_file()`` is each file's
    ``progress`` callback."""

    def __init__(self, label: str, total: int, out: TextIO | None = None) -> None:
        stream = out if out is not None else sys.stderr
        show = out is not None or (total >= PROGRESS_MIN_BYTES and stream.isatty())
        self._bar = ProgressBar(label, stream) if show else None
        self.total = total
        self._finished = 0

    def for_file(self) -> Callable[[int, int], None] | None:
        if self._bar is None:
            return None
        base = self._finished
        bar = self._bar

        def report(done: int, _size: int) -> None:
            bar(min(base + done, self.total), self.total)

        return report

    def file_done(self, size: int) -> None:
        self._finished += size
        if self._bar is not None:
            self._bar(min(self._finished, self.total), self.total)
