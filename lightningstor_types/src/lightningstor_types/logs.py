"""Structured logs of every process (server, storage node, IAM server, S3 gateway): one JSON
object per line (default), or plain text for people (``logging.format``).

Fields passed with ``extra={...}`` become keys of the JSON object (or ``key=value`` in text). A
message that is a mapping (the audit log's lines) is written as a JSON object under ``msg``.
The processes of a multi-process server share stderr: each record is then one ``write`` of its
whole line (never interleaved with another process's line) and carries a ``worker`` field.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
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


class LineHandler(logging.Handler):
    """Writes each record to a file descriptor with one ``write`` of its line (plus a newline):
    several processes sharing the descriptor never interleave inside a line (on a pipe, lines
    up to PIPE_BUF bytes, 4 KiB on Linux; on a file opened for appending, every line)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
            while data:  # a pipe may take a long line in pieces
                data = data[os.write(self._fd, data) :]
        except Exception:
            self.handleError(record)


def setup_logging(
    level: str = "info",
    fmt: str = "json",
    *,
    fields: Mapping[str, Any] | None = None,
    shared: bool = False,
) -> None:
    """Send every log record to stderr, as JSON lines or as text; ``fields`` are added to every
    record, and ``shared`` (stderr shared with other processes) writes each line at once."""
    handler: logging.Handler = (
        LineHandler(sys.stderr.fileno()) if shared else logging.StreamHandler(sys.stderr)
    )
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
