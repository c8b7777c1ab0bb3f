"""Sending fuzz inputs and judging the answers: in process through the S3 ASGI app, over a real
socket to a server process, and through the real gRPC client.

A failure is a 5xx (other than ``503 SlowDown`` from a limit and ``501 NotImplemented``, the S3
answer for what is not built), a response head that an HTTP server would refuse to send (a
header value holding a control character: uvicorn cuts such a connection), a connection cut
without an answer, no answer within the deadline (a hang), or a logged traceback. Over sockets,
each connection starts with a PROXY header; after a malformed one, the answer must be none.
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

from tests.fuzz import documents
from tests.fuzz.documents import proxy_header
from tests.fuzz.inputs import CONF_BUCKET, LOCK_BUCKET, LOCKED, S3Fuzzer, S3Input

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


def wire_request(inp: S3Input) -> bytes:
    """The request as sent on a fresh connection."""
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
    return b"\r\n".join(lines) + b"\r\n\r\n" + inp.body


def socket_round(
    address: str, inp: S3Input, prefix: bytes = b""
) -> tuple[int, list[tuple[bytes, bytes]]] | None:
    """One request on a fresh connection, after ``prefix`` (a PROXY header): status and
    headers, None when cut without answer."""
    host, port = address.rsplit(":", 1)
    data = prefix + wire_request(inp)
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
    """``count`` inputs, each on a connection of its own that starts with a PROXY header (the
    server trusts loopback as a balancer): mostly a valid one, else garbage, after which the
    server must close the connection without a word."""
    started = time.monotonic()
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        inp = fuzzer.next()
        prefix, parsed = proxy_header(fuzzer.rng, wire_request(inp))
        try:
            got = socket_round(address, inp, prefix)
        except TimeoutError:
            tally.inputs += 1
            tally.hangs += 1
            tally.fail(f"hang: {prefix[:60]!r} {inp.describe()}")
            continue
        if parsed is None or parsed.consumed != len(prefix):
            # a malformed header: closed unanswered; one whose length ran into the request:
            # whatever is left of it is answered (never with a 5xx) or closed
            tally.inputs += 1
            if got is None:
                tally.statuses[0] += 1
            elif parsed is None:
                tally.statuses[got[0]] += 1
                tally.fail(f"{got[0]} after a malformed PROXY header {prefix[:60]!r}")
            else:
                tally.judge(inp, *got)
                tally.inputs -= 1
            continue
        if got is None:
            tally.inputs += 1
            tally.cuts += 1
            tally.fail(f"cut without an answer: {prefix[:60]!r} {inp.describe()}")
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

    from google.protobuf.timestamp_pb2 import Timestamp

    from lightningstor.v1 import bucket_pb2, common_pb2, lifecycle_pb2, objectlock_pb2
    from lightningstor_client import CorsRule
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
        op = rng.randrange(20)
        if op >= 9:
            return protection_call(op, key)
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

    def int32() -> int:
        return rng.choice([0, 1, -1, 7, 36500, 100_000, 2**31 - 1, -(2**31)])

    def timestamp() -> Timestamp:
        # past the year 9999 (and before year 1) a Timestamp is out of range on conversion
        seconds = rng.choice([0, -1, 1, 2**40, -(2**40), 253402300799, 253402300800,
                              (int(time.time()) // 86400 + 2) * 86400, -62135596800,
                              -62135596801, 2**62, 253402214400])  # fmt: skip
        return Timestamp(seconds=seconds, nanos=rng.choice([0, 0, 999_999_999]))

    def mode() -> int:
        return rng.choice([0, 1, 2, 3, 99, -1])

    def grant() -> common_pb2.Grant:
        return common_pb2.Grant(
            grantee_type=rng.choice(["CanonicalUser", "Group", "", "Foo", text()]),
            id=rng.choice(["", "arn:aws:iam::other:user/x", text()]),
            uri=rng.choice(["", "http://acs.amazonaws.com/groups/global/AllUsers", text()]),
            permission=rng.choice(["READ", "WRITE", "FULL_CONTROL", "", text()]),
        )

    def lifecycle_rule() -> lifecycle_pb2.LifecycleRule:
        """Half the time one action with a fuzzed value (so that a share is stored, and S3
        reads it back in the next turn), else every field fuzzed at once."""
        rule = lifecycle_pb2.LifecycleRule(id=text() or "r", enabled=rng.random() < 0.5)
        rule.filter.prefix = rng.choice(["", "p/", text()])
        if rng.random() < 0.5:
            action = rng.randrange(4)
            if action == 0:
                rule.expiration_days = int32()
            elif action == 1:
                rule.expiration_date.CopyFrom(timestamp())
            elif action == 2:
                rule.noncurrent_days = int32()
            else:
                rule.abort_incomplete_multipart_days = int32()
            return rule
        rule.filter.tags.append(common_pb2.Tag(key=text(), value=text()))
        rule.filter.object_size_greater_than = rng.choice([0, -1, 2**62])
        rule.expiration_days = int32()
        rule.expiration_date.CopyFrom(timestamp())
        rule.expired_object_delete_marker = rng.random() < 0.3
        rule.noncurrent_days, rule.newer_noncurrent_versions = int32(), int32()
        rule.abort_incomplete_multipart_days = int32()
        if rng.random() < 0.3:
            rule.transitions.add(storage_class=text(), days=int32(), date=timestamp())
        return rule

    canned = ["", "private", "public-read", "bucket-owner-full-control", "x"]

    def protection_call(op: int, key: str) -> Callable[[], Any]:
        """The calls of the protection features: policy, ACLs, Object Lock, lifecycle, CORS,
        public access block, ownership, encryption, SSE on a write."""
        locked_key = rng.choice([LOCKED, LOCKED, key])
        version = rng.choice([None, None, "null", text()])
        if op == 9:
            return lambda: client.put_bucket_policy(
                CONF_BUCKET, documents.policy_text(rng, CONF_BUCKET)
            )
        if op == 10:
            grants = [grant() for _ in range(rng.choice([0, 1, 2, 101]))]
            return lambda: client.put_bucket_acl(CONF_BUCKET, acl=rng.choice(canned), grants=grants)
        if op == 11:
            grants = [grant() for _ in range(rng.choice([0, 1, 2]))]
            return lambda: client.put_object_acl(
                CONF_BUCKET, rng.choice(["obj", key]), acl=rng.choice(canned), grants=grants,
                version_id=version,
            )  # fmt: skip
        if op == 12:
            config = objectlock_pb2.ObjectLockConfiguration(
                enabled=rng.random() < 0.5,
                default_retention=objectlock_pb2.DefaultRetention(
                    mode=mode(),
                    days=int32(),
                    years=int32(),  # type: ignore[arg-type]
                ),
            )
            name = rng.choice([LOCK_BUCKET, LOCK_BUCKET, CONF_BUCKET])
            return lambda: client.put_object_lock_configuration(name, config)
        if op == 13:
            retention = common_pb2.ObjectRetention(mode=mode(), retain_until=timestamp())  # type: ignore[arg-type]
            return lambda: client.put_object_retention(
                LOCK_BUCKET, locked_key, retention, version_id=version,
                bypass_governance_retention=rng.random() < 0.5,
            )  # fmt: skip
        if op == 14:
            return lambda: client.put_object_legal_hold(
                LOCK_BUCKET, locked_key, rng.random() < 0.5, version_id=version
            )
        if op == 15:
            return lambda: client.put_bucket_lifecycle(
                CONF_BUCKET, [lifecycle_rule() for _ in range(rng.choice([0, 1, 2, 1001]))]
            )
        if op == 16:
            rules = [
                CorsRule(
                    allowed_origins=(rng.choice(["*", "https://a.example", "**", text()]),),
                    allowed_methods=(rng.choice(["GET", "TRACE", text()]),),
                    allowed_headers=(text(),), expose_headers=(text(),),
                    max_age_seconds=rng.choice([None, -1, 2**31 - 1, 0]), id=text() or None,
                )
                for _ in range(rng.choice([0, 1, 101]))
            ]  # fmt: skip
            return lambda: client.put_bucket_cors(CONF_BUCKET, rules)
        if op == 17:
            if rng.random() < 0.5:
                flags = {n: rng.random() < 0.5 for n in ("block_public_acls", "ignore_public_acls",
                                                         "block_public_policy",
                                                         "restrict_public_buckets")}  # fmt: skip
                return lambda: client.put_public_access_block(CONF_BUCKET, **flags)
            ownership = rng.choice(["BucketOwnerPreferred", "ObjectWriter", "", text()])
            return lambda: client.put_bucket_ownership_controls(CONF_BUCKET, ownership)
        if op == 18:
            # no client method for bucket encryption: the stub, through the client's own call
            req = bucket_pb2.PutBucketEncryptionRequest(
                name=CONF_BUCKET,
                configuration=bucket_pb2.BucketEncryption(
                    sse_algorithm=rng.choice(["AES256", "aws:kms", "", text()]),
                    bucket_key_enabled=rng.random() < 0.5,
                    kms_master_key_id=rng.choice(["", text()]),
                ),
            )
            aio = client._aio

            def put_encryption() -> None:
                client._loop.run(aio._unary(aio._buckets.PutBucketEncryption(req, timeout=30)))

            return put_encryption
        sse = rng.choice([
            {"customer_key": bytes(rng.choice([32, 32, 0, 16, 31, 33]))},
            {"server_side_encryption": rng.choice(["AES256", "aws:kms", "x", text()]),
             "kms_key_id": rng.choice(["", text()]), "kms_context": {text(): text()}},
            {"customer_key": bytes(32), "server_side_encryption": "AES256"},
        ])  # fmt: skip
        return lambda: client.put_object(
            rng.choice([bucket, LOCK_BUCKET]), rng.choice(["ssec/g", key]), b"data", **sse
        )

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
