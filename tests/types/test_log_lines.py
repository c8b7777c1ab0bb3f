"""``LineHandler``: log lines written in whole-line batches, once per pass of the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from lightningstor_types.logs import JsonFormatter, LineHandler, line_batches


def test_batches_split_only_between_lines_and_keep_every_byte() -> None:
    lines = [b"a" * 1000 + b"\n", b"b" * 3000 + b"\n", b"c" * 5000 + b"\n", b"d\n", b"e\n"]
    batches = list(line_batches(lines, limit=4096))
    assert b"".join(batches) == b"".join(lines)
    assert [len(b) for b in batches] == [4002, 5001, 4]  # the long line alone
    assert all(b.endswith(b"\n") for b in batches)
    assert list(line_batches([])) == []


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    yield read, write
    os.close(read)
    os.close(write)


def _logger(fd: int) -> tuple[logging.Logger, LineHandler]:
    handler = LineHandler(fd)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"test-lines-{fd}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, handler


def _available(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


def test_lines_of_one_pass_of_the_loop_are_written_when_it_ends(pipe: tuple[int, int]) -> None:
    read, write = pipe
    logger, _ = _logger(write)

    async def main() -> tuple[bytes, bytes]:
        for i in range(3):
            logger.info("line %d", i)
        during = _available(read)
        await asyncio.sleep(0)  # the pass ends: the flush scheduled before it has run
        return during, _available(read)

    during, after = asyncio.run(main())
    assert during == b""
    assert after == b"line 0\nline 1\nline 2\n"


def test_lines_outside_a_loop_are_written_at_once(pipe: tuple[int, int]) -> None:
    read, write = pipe
    logger, _ = _logger(write)
    logger.info("main thread, no loop")
    assert _available(read) == b"main thread, no loop\n"
    thread = threading.Thread(target=logger.info, args=("another thread",))
    thread.start()
    thread.join()
    assert _available(read) == b"another thread\n"


def test_held_lines_are_written_by_a_flush_and_past_the_bound(pipe: tuple[int, int]) -> None:
    """``logging.shutdown`` flushes every handler: lines of a pass cut short are not lost."""
    read, write = pipe
    logger, handler = _logger(write)

    async def main() -> tuple[bytes, bytes]:
        logger.info("held")
        handler.flush()
        flushed = _available(read)
        for _ in range(100):  # 100 KiB in one pass: past the 64 KiB held back
            logger.info("x" * 1023)
        return flushed, _available(read)

    flushed, bounded = asyncio.run(main())
    assert flushed == b"held\n"
    assert len(bounded) >= 64 * 1024


_WRITER = """
import asyncio, logging, sys
from lightningstor_types.logs import setup_logging
setup_logging(fields={"worker": int(sys.argv[1])})
log = logging.getLogger("lines")
async def main():
    for i in range(400):
        for j in range(5):
            log.info("%s", "y" * (100 + 37 * ((i + j) % 20)), extra={"n": i * 5 + j})
        await asyncio.sleep(0)
asyncio.run(main())
"""


def test_processes_sharing_a_pipe_never_interleave_inside_a_line() -> None:
    """Two processes, 2,000 lines each in batches of five, on one pipe: every line read back
    is one whole JSON object, and each process's lines are all there, in order."""
    read, write = os.pipe()
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(w)], stderr=write) for w in (0, 1)
    ]
    os.close(write)
    with os.fdopen(read, "rb") as out:
        data = out.read()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    seen: dict[int, list[int]] = {0: [], 1: []}
    for line in data.splitlines():
        entry = json.loads(line)
        seen[entry["worker"]].append(entry["n"])
    assert seen == {0: list(range(2000)), 1: list(range(2000))}


def test_json_lines_through_the_handler_are_one_object_each(pipe: tuple[int, int]) -> None:
    read, write = pipe
    logger, handler = _logger(write)
    handler.setFormatter(JsonFormatter({"worker": 3}))
    logger.info({"event": "audit", "allowed": True})
    (line,) = _available(read).splitlines()
    assert json.loads(line)["msg"] == {"event": "audit", "allowed": True}
    assert json.loads(line)["worker"] == 3
