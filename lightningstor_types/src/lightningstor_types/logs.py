"""Structured logs of every process (server, storage node, IAM server, S3 gateway): one JSON
object per line (default), or plain text for people (``logging.format``).

Fields passed with ``extra={...}`` become keys of the JSON object (or ``key=value`` in text). A
message that is a mapping (the audit log's lines) is written as a JSON object under ``msg``.
Lines go to stderr's descriptor in writes of whole lines (:class:`LineHandler`), so the
processes of a multi-process server, which share it, never interleave inside a line; their
records carry a ``worker`` field.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with ANSI colours: not for a log file
}
# One encoder: json.dumps(..., default=str) builds a new JSONEncoder on every call.
_ENCODE = json.JSONEncoder(default=str).encode


_second: tuple[int, str] = (-1, "")


def log_time(seconds: float, zone: str = "+00:00") -> str:
    """``seconds`` (the epoch's) as RFC 3339 in UTC to the millisecond, ending in ``zone``
    (``+00:00`` or ``Z``). The part to the second is formatted once a second, not per line:
    ``datetime``'s formatting was several microseconds of each of a request's log lines."""
    global _second
    whole = int(seconds)
    micros = round((seconds - whole) * 1_000_000)  # as datetime rounds: to the microsecond
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached, prefix = _second
    if cached != whole:
        prefix = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, prefix)  # one tuple: threads never see a second with another's text
    return f"{prefix}.{micros // 1000:03d}{zone}"


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


class JsonFormatter(logging.Formatter):
    def __init__(self, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": log_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.msg if _is_document(record) else record.getMessage(),
            **self._fields,
            **_extra(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _ENCODE(entry)


def _is_document(record: logging.LogRecord) -> bool:
    return isinstance(record.msg, Mapping) and not record.args


class TextFormatter(logging.Formatter):
    def __init__(self, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self._fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = {**self._fields, **_extra(record)}
        extra = " ".join(f"{k}={v}" for k, v in pairs.items())
        if not extra:
            return text
        head, sep, tail = text.partition("\n")  # keep a traceback below the fields
        return f"{head} {extra}{sep}{tail}"


_WRITE_MAX = select.PIPE_BUF
"""Bytes of whole lines per write: a pipe never splits a write up to PIPE_BUF (4 KiB on
Linux), so processes sharing one never interleave inside a line."""
_PENDING_MAX = 64 * 1024
"""Bytes of lines a pass of the loop may hold back before they are written at once."""


def line_batches(lines: list[bytes], limit: int = _WRITE_MAX) -> Iterator[bytes]:
    """``lines`` joined into writes of at most ``limit`` bytes each, split only between lines
    (a longer line is a write of its own)."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if batch and size + len(line) > limit:
            yield b"".join(batch)
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    if batch:
        yield b"".join(batch)


class LineHandler(logging.Handler):
    """Writes records as lines to a file descriptor, whole lines per ``write``.

    The lines that an event loop's thread logs during one pass of the loop are written
    together when the pass ends, in writes of up to PIPE_BUF bytes: ``os.write`` releases the
    GIL, and taking it back from whichever thread took it cost the loop more than the write
    (two lines per request, issue 17). Other threads' lines, and a process's last ones
    (``logging.shutdown`` flushes), are written at once."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._pending: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        self._size += len(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or self._size >= _PENDING_MAX:
            self._write_pending()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        with self.lock or contextlib.nullcontext():
            self._scheduled = False
            self._write_pending()

    def _write_pending(self) -> None:
        lines, self._pending, self._size = self._pending, [], 0
        try:
            for data in line_batches(lines):
                while data:  # a pipe may take a long line in pieces
                    data = data[os.write(self._fd, data) :]
        except OSError:
            pass  # stderr closed (the reader went away): nowhere left to say so


def _stderr_handler() -> logging.Handler:
    try:
        return LineHandler(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # a replaced stderr (a test's capture)
        return logging.StreamHandler(sys.stderr)


def setup_logging(
    level: str = "info",
    fmt: str = "json",
    *,
    fields: Mapping[str, Any] | None = None,
) -> None:
    """Send every log record to stderr, as JSON lines or as text; ``fields`` are added to every
    record."""
    handler = _stderr_handler()
    handler.setFormatter(TextFormatter(fields) if fmt == "text" else JsonFormatter(fields))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Neither format writes the caller's file/line, thread or process, so records need not
    # look them up: a stack walk and three lookups per line, two lines per request (issue 9).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
