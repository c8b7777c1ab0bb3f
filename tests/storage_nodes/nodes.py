"""Real ``lightningstor-storage-node`` processes for tests, on free loopback ports.

:func:`running_nodes` starts N nodes at once (each on ``127.0.0.1:0``, its address read from
``$LIGHTNINGSTOR_PORTS_FILE``), waits until each answers SERVING on the health service, and on
every way out resumes any stopped node and stops them all (SIGTERM, then SIGKILL). A node can be
killed, paused (SIGSTOP), resumed and restarted on its old port with its old data in a test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.ports import PortHold

START_TIMEOUT = 120.0
"""Only against a hang: a loaded machine with parallel workers can take tens of seconds."""
STOP_TIMEOUT = 10.0


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment without the developer's LIGHTNINGSTOR_* variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTNINGSTOR_")}
    return {**env, **extra}


@dataclass
class NodeProcess:
    """One storage node: its process (while running), address, data directory and log."""

    name: str
    workdir: Path
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    address: str = ""
    paused: bool = False
    credentials: grpc.ChannelCredentials | None = None  # for the health check of a TLS node
    port_hold: PortHold = field(default_factory=PortHold, repr=False)
    """The port while the node is killed: a restart finds it free (see tests/ports.py)."""

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "node.log"

    @property
    def ports_file(self) -> Path:
        return self.workdir / "ports.json"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict[str, object]]:
        records = []
        for line in self.logs().splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    def chunk_files(self) -> dict[str, Path]:
        """Chunk id → file, for every chunk file on the node's disk."""
        root = self.data_dir / "chunks"
        if not root.exists():
            return {}
        return {p.name: p for p in root.glob("??/??/*") if p.is_file()}

    # ---- lifetime ----

    def launch(self) -> None:
        """Start the process (on the old port if it ran before) without waiting."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports_file.unlink(missing_ok=True)
        listen = self.address or "127.0.0.1:0"
        self.port_hold.release()
        command = [
            sys.executable, "-m", "lightningstor_storage.node.main",
            "--listen-addr", listen, "--data-dir", str(self.data_dir), *self.args,
        ]  # fmt: skip
        env = clean_env(
            {
                "LIGHTNINGSTOR_PORTS_FILE": str(self.ports_file),
                "LIGHTNINGSTOR_SCRUB_RATE_BYTES_PER_SECOND": "0",  # unless a test turns it on
                **self.env,
            }
        )
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.paused = False

    def wait_serving(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        assert self.proc is not None
        while not self.ports_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.logs()}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not report its port:\n{self.logs()}")
            time.sleep(0.02)
        self.address = json.loads(self.ports_file.read_text())["storage"]
        wait_healthy(self.address, deadline, self, self.credentials)

    def start(self) -> None:
        self.launch()
        try:
            self.wait_serving()
        except BaseException:
            self.stop(timeout=5)
            raise

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the node dies at once, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.resume()
            self.proc.kill()
            self.proc.wait()
            if self.address:
                self.port_hold.hold(int(self.address.rsplit(":", 1)[1]))

    def pause(self) -> None:
        """SIGSTOP: the node hangs (its sockets stay open, nothing answers)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM (after SIGCONT if stopped), wait, SIGKILL if need be; the exit code."""
        self.port_hold.release()
        if self.proc is None:
            return None
        self.resume()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def restart(self) -> None:
        """Start again on the same address with the same data."""
        self.stop()
        self.start()


def wait_healthy(
    address: str,
    deadline: float,
    node: NodeProcess | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    channel = (
        grpc.insecure_channel(address)
        if credentials is None
        else grpc.secure_channel(address, credentials)
    )
    with channel:
        stub: Any = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            dead = node is not None and not node.running
            if dead or time.monotonic() > deadline:
                logs = node.logs() if node is not None else ""
                raise RuntimeError(f"storage node {address} never became SERVING:\n{logs}")
            time.sleep(0.05)


def start_nodes(
    workdir: Path,
    count: int,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> list[NodeProcess]:
    """Start ``count`` nodes in parallel under ``workdir/node-{i}``; all serving on return."""
    nodes = [
        NodeProcess(
            f"node-{i}",
            workdir / f"node-{i}",
            tuple(args),
            dict(env or {}),
            credentials=credentials,
        )
        for i in range(count)
    ]
    try:
        for node in nodes:
            node.launch()
        for node in nodes:
            node.wait_serving()
    except BaseException:
        for node in nodes:
            node.stop(timeout=5)
        raise
    return nodes


def restore(nodes: Sequence[NodeProcess]) -> None:
    """Resume stopped nodes and restart dead ones (old address, old data), in parallel."""
    dead = []
    for node in nodes:
        node.resume()
        if not node.running:
            node.launch()
            dead.append(node)
    for node in dead:
        node.wait_serving()


@contextlib.contextmanager
def running_nodes(
    workdir: Path,
    count: int,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> Iterator[list[NodeProcess]]:
    """``count`` nodes for the duration of the block; all stopped on every way out."""
    nodes = start_nodes(workdir, count, args=args, env=env, credentials=credentials)
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()
