"""``lightningstor-server`` with ``[server] processes = N > 1``: N worker processes, one address.

The supervisor resolves each configured address once (a port 0 is chosen by binding a
placeholder socket with SO_REUSEPORT, kept open, never listening, for the supervisor's life,
so the port stays ours while a worker restarts), then re-executes the server N times with
``$LIGHTNINGSTOR_WORKER`` (:mod:`lightningstor_api.workers`). Worker 0 starts first and alone;
the others start once it listens. The ports file is written when every worker listens.

It holds no thread, event loop or gRPC object (workers are started by fork + exec). SIGTERM or
SIGINT is forwarded to every worker as SIGTERM (each shuts down gracefully, as a single-process
server does); a worker still running ``shutdown_grace_seconds`` + 10 s later is killed.

A worker that dies after the start is logged and restarted, after 1 s doubling to 30 s while
restarts keep failing within a minute: the other workers keep serving meanwhile, which an exit
(and a restart of everything by the init system) would not allow. A worker that dies during the
start stops the whole server with exit code 1, as a single process that cannot start does.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

from lightningstor_api.workers import (
    WorkerRole,
    make_run_dir,
    ports_path,
    socket_path,
    worker_environment,
)
from lightningstor_types.config import Settings, split_address
from lightningstor_types.files import write_ports_file

log = logging.getLogger(__name__)

_POLL = 0.05
_STOP_MARGIN = 10.0
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0
_STABLE = 60.0
"""A worker that ran this long before dying is restarted after the first back-off again."""


def reserve(addr: str) -> tuple[str, socket.socket | None]:
    """``addr`` with its port chosen (and held by a placeholder socket) when it is 0."""
    host, port = split_address(addr)
    if port != 0:
        return addr, None
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)  # as the S3 listener
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, 0))
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {addr}: {err}") from None
    port = sock.getsockname()[1]
    return (f"[{host}]:{port}" if ":" in host else f"{host}:{port}"), sock


@dataclass
class _Worker:
    role: WorkerRole
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    ports: dict[str, str] = field(default_factory=dict)


class Supervisor:
    """Starts, watches, restarts and stops the workers of one server."""

    def __init__(self, settings: Settings, argv: Sequence[str]) -> None:
        self._settings = settings
        self._argv = list(argv)
        self._count = settings.server.processes
        self._stopping = False
        self._placeholders: list[socket.socket] = []
        self._addresses: dict[str, str | None] = {}
        self._workers = [
            _Worker(WorkerRole(i, self._count, os.getpid())) for i in range(self._count)
        ]

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit code of the whole server."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        started = False
        try:
            self._resolve()
            make_run_dir(self._settings)
            started = self._start_all()
            if started:
                write_ports_file(self._workers[0].ports)
                pids = [proc.pid for proc in self._live()]
                log.info("server processes listening", extra={"pids": pids})
            while started and not self._stopping:
                self._watch()
                time.sleep(_POLL)
        finally:
            code = self._stop_all()
            for sock in self._placeholders:
                sock.close()
            log.info("stopped")
        return code if started or self._stopping else 1

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _resolve(self) -> None:
        server, metrics = self._settings.server, self._settings.metrics
        wanted = {"grpc_addr": server.grpc_addr, "s3_addr": server.s3_addr}
        if metrics.enabled and metrics.addr is not None:
            wanted["metrics_addr"] = metrics.addr
        for name, addr in wanted.items():
            resolved, placeholder = reserve(addr)
            self._addresses[name] = resolved
            if placeholder is not None:
                self._placeholders.append(placeholder)
        self._addresses.setdefault("metrics_addr", metrics.addr)

    def _start_all(self) -> bool:
        """Worker 0, then the others once it listens; False if one failed or we were stopped."""
        first, rest = self._workers[0], self._workers[1:]
        self._spawn(first)
        if not self._await_listening([first]):
            return False
        for worker in rest:
            self._spawn(worker)
        return self._await_listening(rest)

    def _spawn(self, worker: _Worker) -> None:
        ports = ports_path(self._settings, worker.role.index)
        ports.unlink(missing_ok=True)
        socket_path(self._settings, worker.role.index).unlink(missing_ok=True)
        env = dict(os.environ)
        env.update(worker_environment(worker.role, self._addresses, ports))
        worker.proc = subprocess.Popen(
            [sys.executable, "-m", "lightningstor_api.main", *self._argv],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        worker.started = time.monotonic()
        worker.restart_at = None
        worker.ports = {}
        log.info("worker started", extra={"worker": worker.role.index, "pid": worker.proc.pid})

    def _await_listening(self, workers: Sequence[_Worker]) -> bool:
        waiting = list(workers)
        while waiting:
            if self._stopping:
                return False
            for worker in list(waiting):
                assert worker.proc is not None
                code = worker.proc.poll()
                if code is not None:
                    log.error(
                        "worker exited while starting",
                        extra={"worker": worker.role.index, "code": code},
                    )
                    return False
                if self._read_ports(worker):
                    waiting.remove(worker)
            time.sleep(_POLL)
        return True

    def _read_ports(self, worker: _Worker) -> bool:
        path = ports_path(self._settings, worker.role.index)
        try:
            worker.ports = json.loads(path.read_text())
        except FileNotFoundError:
            return False
        return True

    def _watch(self) -> None:
        """Restart workers that died, after their back-off."""
        now = time.monotonic()
        for worker in self._workers:
            if worker.restart_at is not None:
                if now >= worker.restart_at:
                    self._spawn(worker)
                continue
            assert worker.proc is not None
            code = worker.proc.poll()
            if code is None:
                if not worker.ports:
                    self._read_ports(worker)
                continue
            worker.failures = 1 if now - worker.started >= _STABLE else worker.failures + 1
            delay = min(_BACKOFF_FIRST * 2 ** (worker.failures - 1), _BACKOFF_MAX)
            worker.restart_at = now + delay
            log.error(
                "worker exited unexpectedly",
                extra={
                    "worker": worker.role.index,
                    "pid": worker.proc.pid,
                    "code": code,
                    "restart_in_seconds": delay,
                },
            )

    def _live(self) -> list[subprocess.Popen[bytes]]:
        return [w.proc for w in self._workers if w.proc is not None and w.proc.poll() is None]

    def _stop_all(self) -> int:
        """SIGTERM every worker, wait for them (killing stragglers); 0 if all exited cleanly."""
        live = self._live()
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._settings.server.shutdown_grace_seconds + _STOP_MARGIN
        code = 0
        for proc in live:
            try:
                returned = proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.error("worker did not stop in time; killing it", extra={"pid": proc.pid})
                proc.kill()
                returned = proc.wait()
            if returned != 0:
                code = 1
        return code


def supervise(settings: Settings, argv: Sequence[str]) -> int:
    """Run the server as ``settings.server.processes`` workers until SIGTERM/SIGINT; the exit
    code (0: every worker stopped cleanly)."""
    return Supervisor(settings, argv).run()
