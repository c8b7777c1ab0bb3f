"""The S3 listener's deadlines and bounds, on a real server process over loopback."""

from __future__ import annotations

import json
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.connections.conftest import limit_hits, limit_log_lines, s3_client
from tests.connections.sockets import close_all, closed_by_peer, connect, open_many, wait_closed
from tests.s3.rawhttp import Signer

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess

DEADLINE = 15.0  # only guards against hangs: the limits under test are 1 s


def _error_code(response: bytes) -> str | None:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    return ET.fromstring(body).findtext("Code")


def test_silent_connections_are_closed_at_the_header_timeout(
    quick_server: ServerProcess,
) -> None:
    before = limit_hits(quick_server, "s3", "header_timeout")
    socks = open_many(quick_server.ports["s3"], 20, "127.0.0.5")
    try:
        closed = wait_closed(socks, time.monotonic() + DEADLINE)
        assert len(closed) == len(socks)
        assert set(closed.values()) == {b""}  # nothing to answer: no request began
    finally:
        close_all(socks)
    assert limit_hits(quick_server, "s3", "header_timeout") >= before + len(socks)
    assert limit_log_lines(quick_server, "header_timeout")


def test_a_head_sent_byte_by_byte_gets_request_timeout(quick_server: ServerProcess) -> None:
    sock = connect(quick_server.ports["s3"], "127.0.0.5")
    try:
        sock.send(b"GET /some-bucket/key HTTP/1.1\r\nHost: x\r\nx-slow: ")
        # One byte every 0.2 s: the connection is never quiet, the head never ends.
        closed = wait_closed([sock], time.monotonic() + DEADLINE, poke=0.2)
        assert _error_code(closed[sock]) == "RequestTimeout"
    finally:
        sock.close()


def _signed_put(server: ServerProcess, bucket: str, key: str, size: int) -> bytes:
    keys = json.loads((server.data_dir / "admin-credentials.json").read_text())
    signer = Signer(server.ports["s3"], keys["access_key_id"], keys["secret_access_key"])
    headers, _ = signer.sign("PUT", f"/{bucket}/{key}", headers={"content-length": str(size)})
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"PUT /{bucket}/{key} HTTP/1.1\r\n{lines}\r\n".encode()


def test_a_slow_body_gets_request_timeout_and_a_steady_one_is_stored(
    quick_server: ServerProcess,
) -> None:
    s3 = s3_client(quick_server)
    bucket = f"slow-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    address = quick_server.ports["s3"]
    before = limit_hits(quick_server, "s3", "body_timeout")

    # Steady: 2 KiB every 0.5 s (4 KiB/s against 1 KiB/s), over three windows of 1 s.
    steady = connect(address)
    try:
        steady.setblocking(True)
        steady.send(_signed_put(quick_server, bucket, "steady", 12 * 1024))
        for _ in range(6):
            steady.send(b"s" * 2048)
            time.sleep(0.5)
        steady.settimeout(DEADLINE)
        assert steady.recv(65536).startswith(b"HTTP/1.1 200")
    finally:
        steady.close()
    assert s3.head_object(Bucket=bucket, Key="steady")["ContentLength"] == 12 * 1024

    # Slow: 10 bytes, then 10 bytes every 0.3 s, far under 1 KiB a second.
    slow = connect(address)
    try:
        slow.setblocking(True)
        slow.send(_signed_put(quick_server, bucket, "slow", 100_000) + b"0123456789")
        slow.setblocking(False)
        closed = wait_closed([slow], time.monotonic() + DEADLINE, poke=0.03)
        assert _error_code(closed[slow]) == "RequestTimeout"
    finally:
        slow.close()
    with pytest.raises(s3.exceptions.ClientError, match="404"):
        s3.head_object(Bucket=bucket, Key="slow")
    assert limit_hits(quick_server, "s3", "body_timeout") == before + 1


def test_idle_keep_alive_connections_are_closed(quick_server: ServerProcess) -> None:
    sock = connect(quick_server.ports["s3"])
    try:
        sock.setblocking(True)
        sock.settimeout(DEADLINE)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.setblocking(False)
        assert closed_by_peer(sock) is None  # kept alive after the response
        closed = wait_closed([sock], time.monotonic() + DEADLINE)
        assert closed == {sock: b""}
    finally:
        sock.close()
    assert limit_hits(quick_server, "s3", "idle_timeout") >= 1


def test_a_source_past_its_bound_is_refused_and_others_are_served(
    bounded_server: ServerProcess,
) -> None:
    address = bounded_server.ports["s3"]
    held = open_many(address, 10, "127.0.0.6")
    extra = connect(address, "127.0.0.6")
    try:
        assert wait_closed([extra], time.monotonic() + DEADLINE) == {extra: b""}
        assert all(closed_by_peer(sock) is None for sock in held)  # the 60 s deadline is far
        assert s3_client(bounded_server).list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        close_all([*held, extra])
    assert limit_hits(bounded_server, "s3", "max_connections_per_source") >= 1
    lines = limit_log_lines(bounded_server, "max_connections_per_source")
    assert lines and lines[0]["source"] == "127.0.0.6"


def test_past_the_global_bound_connections_are_refused_until_one_closes(
    bounded_server: ServerProcess,
) -> None:
    address = bounded_server.ports["s3"]
    held = [s for i in range(7, 11) for s in open_many(address, 10, f"127.0.0.{i}")]
    extra = connect(address, "127.0.0.11")
    try:
        assert wait_closed([extra], time.monotonic() + DEADLINE) == {extra: b""}
        close_all(held[:5])
        s3 = s3_client(bounded_server)
        deadline = time.monotonic() + DEADLINE
        while True:  # the server sees the five close a moment later
            try:
                s3.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        close_all([*held, extra])
    assert limit_hits(bounded_server, "s3", "max_connections") >= 1


def test_the_open_file_limit_is_raised_to_the_hard_limit(bounded_server: ServerProcess) -> None:
    # The fixture started the server with a soft limit of 1,024.
    limits = Path(f"/proc/{bounded_server.proc.pid}/limits").read_text()
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard


def test_the_descriptor_watch_reports_exhaustion() -> None:
    import os
    import resource

    from lightningstor_api.connections import DescriptorWatch
    from lightningstor_api.metrics import Metrics

    metrics = Metrics()
    watch = DescriptorWatch(metrics=metrics)
    assert watch.probe()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    try:
        filler = []
        with pytest.raises(OSError):  # take whatever descriptors are still free
            while True:
                filler.append(socket.socket())
        exhausted = watch.probe()
    finally:
        close_all(filler)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not exhausted
    assert metrics.connection_limits == {("process", "open_files"): 1}
    assert watch.probe()
