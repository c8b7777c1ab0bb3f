"""Issue 12, item 2: 2,000 idle connections, 500 slow-loris heads and slow bodies against one
real server, while a legitimate boto3 and gRPC client keep getting answers.

The server runs with short deadlines (2 s head, 1 s body window) and a per-address bound of
1,500, so that every kind of limit trips within seconds: of the 2,000 idle connections from
127.0.0.2, 500 are refused at accept and 1,500 closed at the head deadline; the 500 slow-loris
heads (127.0.0.3) get ``400 RequestTimeout``; so do the slow bodies (127.0.0.4); raw TCP
connections to the gRPC port that never handshake are dropped. The legitimate clients come
from 127.0.0.1. Figures (connections the server held, the legitimate client's latency) are
printed for ``pytest -s``.

Then the issue's own case: a server whose hard open-file limit is 1,024 and one address opening
1,100 idle connections, with the default limits.
"""

from __future__ import annotations

import os
import resource
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.connections.conftest import JSON_LOGS, limit_hits, limit_log_lines, s3_client
from tests.connections.sockets import close_all, connect, open_file_limit, wait_closed
from tests.connections.test_s3_limits import _signed_put

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess

IDLE, SLOW_HEADS, SLOW_BODIES, GRPC_IDLE = 2000, 500, 50, 200
PER_SOURCE = 1500
ATTACK_DEADLINE = 40.0  # only guards against hangs: every limit is 2 s or less
LIMITS = {
    "LIGHTNINGSTOR_CONNECTIONS__HEADER_TIMEOUT_SECONDS": "2",
    "LIGHTNINGSTOR_CONNECTIONS__IDLE_TIMEOUT_SECONDS": "2",
    "LIGHTNINGSTOR_CONNECTIONS__BODY_TIMEOUT_SECONDS": "1",
    "LIGHTNINGSTOR_CONNECTIONS__MIN_BODY_RATE": "1KiB",
    "LIGHTNINGSTOR_CONNECTIONS__MAX_CONNECTIONS_PER_SOURCE": str(PER_SOURCE),
    "LIGHTNINGSTOR_CONNECTIONS__GRPC_HANDSHAKE_TIMEOUT_SECONDS": "2",
}


@pytest.fixture
def attacked_server(tmp_path: Path) -> Iterator[ServerProcess]:
    from tests.integration.server import running_server

    needed = IDLE + SLOW_HEADS + SLOW_BODIES + GRPC_IDLE + 500
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 2 * needed:
        pytest.skip(f"the open-file hard limit ({hard}) is too low for the attack")
    with open_file_limit(needed), running_server(tmp_path, env=LIMITS | JSON_LOGS) as proc:
        yield proc


class Attack(threading.Thread):
    """Opens ``count`` connections from ``source`` (each sends ``first``) and waits until the
    server has closed them all (sending a byte on the open ones every ``poke`` seconds)."""

    def __init__(self, name: str, address: str, source: str, count: int, poke: float | None):
        super().__init__(name=name, daemon=True)
        self.address, self.source, self.count, self.poke = address, source, count, poke
        self.first: bytes = b""
        self.closed: dict[socket.socket, bytes] = {}
        self.socks: list[socket.socket] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(self.count):
                sock = connect(self.address, self.source)
                if self.first:
                    sock.send(self.first)
                self.socks.append(sock)
            self.closed = wait_closed(
                self.socks, time.monotonic() + ATTACK_DEADLINE, poke=self.poke
            )
        except BaseException as err:  # reported by the test
            self.error = err

    def answers(self) -> dict[bytes, int]:
        """How many closed connections got which status line (b"" for none)."""
        out: dict[bytes, int] = {}
        for got in self.closed.values():
            line = got.split(b"\r\n", 1)[0]
            out[line] = out.get(line, 0) + 1
        return out


def test_idle_and_slow_connections_do_not_starve_a_legitimate_client(
    attacked_server: ServerProcess,
) -> None:
    from lightningstor_client import LightningStorClient

    server = attacked_server
    s3 = s3_client(server)
    bucket = f"legit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    put_head = _signed_put(server, bucket, "slow", 1_000_000)
    attacks = [
        Attack("idle", server.ports["s3"], "127.0.0.2", IDLE, None),
        Attack("slow-heads", server.ports["s3"], "127.0.0.3", SLOW_HEADS, 0.5),
        Attack("slow-bodies", server.ports["s3"], "127.0.0.4", SLOW_BODIES, 0.3),
        Attack("grpc-idle", server.grpc_addr, "127.0.0.2", GRPC_IDLE, None),
    ]
    attacks[1].first = b"PUT /b/k HTTP/1.1\r\nHost: x\r\nx-slow: "
    attacks[2].first = put_head + b"0123456789"
    fd_dir = Path(f"/proc/{server.proc.pid}/fd")
    s3_latency: list[float] = []
    grpc_latency: list[float] = []
    held: list[int] = []
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
        for attack in attacks:
            attack.start()
        n = 0
        while any(a.is_alive() for a in attacks):
            n += 1
            body = f"object {n}".encode()
            start = time.monotonic()
            s3.put_object(Bucket=bucket, Key=f"k{n}", Body=body)
            assert s3.get_object(Bucket=bucket, Key=f"k{n}")["Body"].read() == body
            s3_latency.append((time.monotonic() - start) / 2)
            start = time.monotonic()
            assert client.head_object(bucket, f"k{n}").size == len(body)
            grpc_latency.append(time.monotonic() - start)
            held.append(len(os.listdir(fd_dir)))
            time.sleep(0.05)
    for attack in attacks:
        assert attack.error is None, f"{attack.name}: {attack.error!r}"
        assert len(attack.closed) == attack.count, f"{attack.name}: still open"
    close_all(s for a in attacks for s in a.socks)

    idle, heads, bodies, _ = attacks
    assert idle.answers() == {b"": IDLE}  # refused or timed out, never answered
    assert heads.answers() == {b"HTTP/1.1 400 Bad Request": SLOW_HEADS}
    assert bodies.answers() == {b"HTTP/1.1 400 Bad Request": SLOW_BODIES}
    assert all(b"<Code>RequestTimeout</Code>" in got for got in bodies.closed.values())
    refused = limit_hits(server, "s3", "max_connections_per_source")
    assert refused >= IDLE - PER_SOURCE
    assert limit_hits(server, "s3", "header_timeout") >= PER_SOURCE - 50 + SLOW_HEADS
    assert limit_hits(server, "s3", "body_timeout") == SLOW_BODIES
    for reason in ("max_connections_per_source", "header_timeout", "body_timeout"):
        assert limit_log_lines(server, reason), reason
    assert len(s3_latency) >= 3
    print(
        f"\nattack: {IDLE} idle + {SLOW_HEADS} slow heads + {SLOW_BODIES} slow bodies + "
        f"{GRPC_IDLE} gRPC idle; server descriptors at most {max(held)}; "
        f"{len(s3_latency)} legitimate rounds; S3 latency median "
        f"{statistics.median(s3_latency) * 1000:.1f} ms, max {max(s3_latency) * 1000:.1f} ms; "
        f"gRPC median {statistics.median(grpc_latency) * 1000:.1f} ms, "
        f"max {max(grpc_latency) * 1000:.1f} ms; refused per source {refused:.0f}"
    )


def test_one_client_cannot_take_a_server_of_1024_descriptors(tmp_path: Path) -> None:
    """The issue's case: an open-file limit of 1,024 (hard, so not raised) and 1,100 idle
    connections from one address used to stop S3 and gRPC alike. With the defaults the
    address holds a quarter of the S3 bound (half the descriptors): 128 connections."""
    from lightningstor_client import LightningStorClient
    from tests.integration.server import running_server

    env = {"LIGHTNINGSTOR_LOGGING__ACCESS_LOG": "false"}
    socks: list[socket.socket] = []
    with running_server(tmp_path, env=env, open_files=1024) as server, open_file_limit(4096):
        s3_client(server).create_bucket(Bucket="legit")
        socks = [connect(server.ports["s3"], "127.0.0.2") for _ in range(1100)]
        try:  # clients whose connections are opened during the attack
            s3 = s3_client(server, connect_timeout=5, read_timeout=5)
            with LightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
                s3.put_object(Bucket="legit", Key="k", Body=b"still served")
                assert s3.get_object(Bucket="legit", Key="k")["Body"].read() == b"still served"
                assert client.head_object("legit", "k").size == len(b"still served")
            refused = wait_closed(socks, time.monotonic() + 5.0)  # the refused close at once
            assert len(refused) == 1100 - 128
        finally:
            close_all(socks)
        assert limit_hits(server, "s3", "max_connections_per_source") == 1100 - 128
