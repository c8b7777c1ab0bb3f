"""Sending fuzz inputs and judging the answers: in process through the S3 ASGI app, over a real
socket to a server process, and through the real gRPC client.

A failure is a 5xx (other than ``503 SlowDown`` from a limit and ``501 NotImplemented``, the S3
answer for what is not built), a response head that an HTTP server would refuse to send (a
header value holding a control character: uvicorn cuts such a connection), a connection cut
without an answer, no answer within the deadline (a hang), or a logged traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.inputs import S3Fuzzer, S3Input

DEADLINE = 30.0
"""Seconds an answer may take before it counts as a hang (a guard, not a timing)."""
ALLOWED_5XX = frozenset({501, 503})
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass
class Tally:
    """What a run saw: inputs, statuses, and the failures (the first few kept whole)."""

    inputs: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    hangs: int = 0
    cuts: int = 0
    tracebacks: int = 0
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, what: str) -> None:
        self.failures += 1
        if len(self.examples) < 20:
            self.examples.append(what)

    def judge(self, inp: S3Input, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.inputs += 1
        self.statuses[status] += 1
        if status >= 500 and status not in ALLOWED_5XX:
            self.fail(f"{status} for {inp.describe()}")
        for name, value in headers:
            if _BAD_VALUE.search(value):
                self.cuts += 1
                self.fail(f"unsendable header {name!r}: {value[:60]!r} for {inp.describe()}")

    def merge(self, other: Tally) -> None:
        self.inputs += other.inputs
        self.statuses.update(other.statuses)
        self.failures += other.failures
        self.hangs += other.hangs
        self.cuts += other.cuts
        self.tracebacks += other.tracebacks
        self.examples.extend(other.examples[: max(0, 20 - len(self.examples))])
        self.seconds += other.seconds

    def summary(self) -> str:
        fives = sum(n for s, n in self.statuses.items() if s >= 500 and s not in ALLOWED_5XX)
        return (
            f"{self.inputs} inputs in {self.seconds:.0f} s: {fives} 5xx (501/503 excluded: "
            f"{self.statuses[501]}/{self.statuses[503]}), {self.hangs} hangs, {self.cuts} cut, "
            f"{self.tracebacks} tracebacks, {self.failures} failures"
        )


class TracebackCounter(logging.Handler):
    """Counts log records that carry an exception (a traceback in the log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            self.count += 1
            if len(self.first) < 5:
                self.first.append(f"{record.name}: {record.getMessage()} ({record.exc_info[1]!r})")


# ---- in process ---------------------------------------------------------------------------


async def asgi_round(app: Any, inp: S3Input) -> tuple[int, list[tuple[bytes, bytes]]]:
    """One request through the ASGI app: the status (0 if none was sent) and the headers."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": inp.method,
        "scheme": "http",
        "path": inp.path.decode("latin-1"),
        "raw_path": inp.path,
        "query_string": inp.query,
        "root_path": "",
        "headers": inp.headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 9000),
    }
    sent = False
    result: list[Any] = [0, []]

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(DEADLINE * 2)  # a well-behaved app never asks again
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": inp.body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result[0] = message["status"]
            result[1] = list(message.get("headers", []))

    await app(scope, receive, send)
    return result[0], result[1]


def _progress(tally: Tally, what: str, started: float) -> None:
    if tally.inputs and tally.inputs % 50_000 == 0:
        print(f"  {what}: {tally.inputs} after {time.monotonic() - started:.0f} s, "
              f"{tally.failures} failures", file=sys.stderr, flush=True)  # fmt: skip


async def run_asgi(
    app: Any, fuzzer: S3Fuzzer, count: int, tally: Tally, deadline: float = math.inf
) -> None:
    """``count`` inputs through ``app``, or fewer if ``deadline`` (monotonic) passes first."""
    started = time.monotonic()
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        _progress(tally, "in process", started)
        inp = fuzzer.next()
        try:
            status, headers = await asyncio.wait_for(asgi_round(app, inp), DEADLINE)
        except TimeoutError:
            tally.inputs += 1
            tally.hangs += 1
            tally.fail(f"hang: {inp.describe()}")
            continue
        except Exception as exc:
            tally.inputs += 1
            tally.cuts += 1
            tally.fail(f"cut ({exc!r}): {inp.describe()}")
            continue
        if status == 0:
            tally.inputs += 1
            tally.cuts += 1
            tally.fail(f"no response: {inp.describe()}")
            continue
        tally.judge(inp, status, headers)
    tally.seconds += time.monotonic() - started


# ---- over a socket ------------------------------------------------------------------------


def socket_round(address: str, inp: S3Input) -> tuple[int, list[tuple[bytes, bytes]]] | None:
    """One request on a fresh connection: status and headers, None when cut without answer."""
    host, port = address.rsplit(":", 1)
    lines = [
        f"{inp.method} ".encode()
        + inp.path
        + (b"?" + inp.query if inp.query else b"")
        + b" HTTP/1.1"
    ]
    # A Content-Length longer than the body would make the server wait for the rest, rightly:
    # over a socket the length sent is the body's (in process, the mismatch is fuzzed).
    lines += [n + b": " + v for n, v in inp.headers if n != b"content-length"]
    lines.append(b"content-length: " + str(len(inp.body)).encode())
    lines.append(b"connection: close")
    data = b"\r\n".join(lines) + b"\r\n\r\n" + inp.body
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as sock:
        with contextlib.suppress(OSError):  # it may answer and close before reading it all
            sock.sendall(data)
        chunks = []
        while True:
            try:
                piece = sock.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            chunks.append(piece)
            if b"\r\n\r\n" in b"".join(chunks[-2:]) and inp.method == "HEAD":
                break
    raw = b"".join(chunks)
    head, _, _ = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        return None
    status_line, *header_lines = head.split(b"\r\n")
    headers = [tuple(h.split(b": ", 1)) for h in header_lines if b": " in h]
    return int(status_line.split()[1]), headers  # type: ignore[return-value]


def run_socket(
    address: str, fuzzer: S3Fuzzer, count: int, tally: Tally, deadline: float = math.inf
) -> None:
    started = time.monotonic()
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        inp = fuzzer.next()
        try:
            got = socket_round(address, inp)
        except TimeoutError:
            tally.inputs += 1
            tally.hangs += 1
            tally.fail(f"hang: {inp.describe()}")
            continue
        if got is None:
            tally.inputs += 1
            tally.cuts += 1
            tally.fail(f"cut without an answer: {inp.describe()}")
            continue
        tally.judge(inp, *got)
    tally.seconds += time.monotonic() - started


def log_tracebacks(log_path: Path, offset: int = 0) -> list[str]:
    """Lines of a server log (from ``offset``) that start or carry a traceback."""
    with log_path.open("rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return [line[:300] for line in text.splitlines() if "Traceback" in line]


# ---- gRPC ---------------------------------------------------------------------------------


def run_grpc(
    client: Any,
    bucket: str,
    objects: list[str],
    seed: int,
    count: int,
    tally: Tally,
    deadline: float = math.inf,
) -> None:
    """Fuzzed calls through the real client: every refusal must be a catalog error that is
    not InternalError; anything else (UNKNOWN, INTERNAL, a hang) is a failure."""
    import random

    from lightningstor_types.errors import InternalError, LightningStorError

    rng = random.Random(seed)
    texts = ["", "a", "é", "\x01", "\x7f", "\t", "\r\n", "\x00", "日本", "k" * 1100, "../x", "%ff"]

    def text() -> str:
        return "".join(rng.choice(texts) for _ in range(rng.randint(0, 3)))

    def number() -> int:
        return rng.choice([0, 1, 5, -1, -(2**63), 2**63 - 1, 2**31, 10**12])

    def call() -> Callable[[], Any]:
        key = rng.choice(objects) if rng.random() < 0.5 else text()
        headers = {
            rng.choice(
                [
                    "content_type",
                    "content_encoding",
                    "content_disposition",
                    "content_language",
                    "cache_control",
                    "expires",
                ]
            ): text()
        }
        op = rng.randrange(9)
        if op == 0:
            return lambda: client.put_object(
                bucket,
                key,
                b"data",
                metadata={text() or "m": text()},
                tags={text(): text()},
                storage_class=rng.choice(["", "STANDARD", "X", text()]),
                content_md5=rng.choice([None, text(), "é" * 24]),
                **headers,
            )
        if op == 1:
            first, last = number(), rng.choice([None, number()])

            def get() -> None:
                with client.get_object(
                    bucket, key, range=(first, last), part_number=rng.choice([None, 0, 1, 10001])
                ) as s:
                    s.read()

            return get
        if op == 2:
            return lambda: client.head_object(bucket, key, version_id=rng.choice([None, text()]))
        if op == 3:
            return lambda: client.copy_object(
                bucket,
                text() or "c",
                source_bucket=rng.choice([bucket, text()]),
                source_key=key,
                metadata=rng.choice([None, {"m": text()}]),
                **headers,
            )
        if op == 4:
            return lambda: client.create_multipart_upload(
                bucket, key, metadata={"m": text()}, **headers
            )
        if op == 5:
            return lambda: client.list_objects(
                bucket,
                prefix=text(),
                delimiter=text(),
                max_keys=rng.choice([0, 1, 1001, -1]),
                start_after=text(),
            )
        if op == 6:
            return lambda: client.delete_objects(bucket, [text() for _ in range(rng.randint(0, 3))])
        if op == 7:
            return lambda: client.put_object_tagging(bucket, key, {text(): text()})
        return lambda: client.head_bucket(text() or bucket)

    started = time.monotonic()
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        fn = call()
        tally.inputs += 1
        try:
            fn()
            tally.statuses[200] += 1
        except InternalError as exc:
            tally.statuses[500] += 1
            tally.fail(f"gRPC InternalError: {exc}")
        except LightningStorError as exc:
            tally.statuses[exc.http_status] += 1
        except (ValueError, TypeError):
            tally.statuses[0] += 1  # refused by the client before sending
        except Exception as exc:
            tally.fail(f"gRPC {exc!r}")
    tally.seconds += time.monotonic() - started
