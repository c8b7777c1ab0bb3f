"""Real ``lightningstor-server`` processes for tests, on free loopback ports.

:func:`start_server` launches the server as a subprocess with ``--grpc-addr 127.0.0.1:0`` (and
S3 on port 0), reads the bound addresses from ``$LIGHTNINGSTOR_PORTS_FILE`` and waits until the
gRPC health service answers SERVING. :meth:`ServerProcess.stop` sends SIGTERM, waits, and
SIGKILLs if it must; :func:`running_server` guarantees that on every way out.
"""

from __future__ import annotations

import collections
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

START_TIMEOUT = 120.0
"""Only against a hang: a loaded machine with parallel workers can take tens of seconds."""
STOP_TIMEOUT = 20.0


@dataclass
class ServerProcess:
    """A running server: its process, its gRPC address, its data and its log."""

    proc: subprocess.Popen[bytes]
    workdir: Path
    data_dir: Path
    log_path: Path
    ports: dict[str, str] = field(default_factory=dict)

    @property
    def grpc_addr(self) -> str:
        return self.ports["grpc"]

    def admin_keys(self) -> dict[str, str]:
        """The first-start admin key as ``LightningStorClient`` kwargs (access_key, secret_key)."""
        data = json.loads((self.data_dir / "admin-credentials.json").read_text())
        return {"access_key": data["access_key_id"], "secret_key": data["secret_access_key"]}

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, object]]:
        """The JSON log lines (other lines skipped)."""
        records = []
        for line in self.logs().splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    def terminate(self) -> None:
        """Send SIGTERM (the start of a graceful shutdown) without waiting."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; the exit code (negative if killed)."""
        self.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def server_command(*args: str, open_files: int | None = None) -> list[str]:
    """The server's command line; ``open_files``: its soft and hard open-file limit, set before
    it starts (a process may lower its hard limit, never raise it)."""
    if open_files is None:
        return [sys.executable, "-m", "lightningstor_api.main", *args]
    boot = (
        "import resource, runpy; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({open_files}, {open_files})); "
        "runpy.run_module('lightningstor_api.main', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", boot, *args]


ONE_PROCESS = {"LIGHTNINGSTOR_SERVER__PROCESSES": "1"}
"""Servers in tests are one process unless a test asks for more (``extra`` overrides it): the
default (one per CPU) would double the suite's processes on two cores, and tests that count
metrics or log lines expect the one process they talk to."""


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without any LIGHTNINGSTOR_* of the developer's shell, with
    :data:`ONE_PROCESS`, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTNINGSTOR_")}
    env.update(ONE_PROCESS)
    env.update(extra or {})
    return env


def _channel(addr: str, tls_ca: Path | None, tls_client: tuple[Path, Path] | None) -> grpc.Channel:
    if tls_ca is None:
        return grpc.insecure_channel(addr)
    cert, key = tls_client or (None, None)
    credentials = grpc.ssl_channel_credentials(
        tls_ca.read_bytes(),
        key.read_bytes() if key else None,
        cert.read_bytes() if cert else None,
    )
    return grpc.secure_channel(addr, credentials)


def _wait_serving(
    server: ServerProcess,
    deadline: float,
    tls_ca: Path | None,
    tls_client: tuple[Path, Path] | None = None,
) -> None:
    ports_file = server.workdir / "ports.json"
    while not ports_file.exists():
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}:\n{server.logs()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"server did not report its ports:\n{server.logs()}")
        time.sleep(0.02)
    server.ports = json.loads(ports_file.read_text())
    with _channel(server.grpc_addr, tls_ca, tls_client) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server never became SERVING:\n{server.logs()}")
            time.sleep(0.05)


def start_server(
    workdir: Path,
    *,
    data_dir: Path | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
    tls_ca: Path | None = None,
    tls_client: tuple[Path, Path] | None = None,
    open_files: int | None = None,
) -> ServerProcess:
    """Start a server whose files live in ``workdir`` and wait until it serves.

    ``tls_ca``: the server's gRPC listener serves TLS with a certificate this CA signed;
    ``tls_client``: (cert, key) of a client certificate it accepts (mutual TLS).
    ``open_files``: the server's open-file limit, soft and hard (default: this process's).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or workdir / "data"
    ports_file = workdir / "ports.json"
    ports_file.unlink(missing_ok=True)
    log_path = workdir / "server.log"
    command = server_command(
        "--grpc-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0", "--data-dir", str(data_dir),
        *args, open_files=open_files,
    )  # fmt: skip
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=workdir,
            env=clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(ports_file), **(env or {})}),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(proc, workdir, data_dir, log_path)
    try:
        _wait_serving(server, time.monotonic() + timeout, tls_ca, tls_client)
    except BaseException:
        server.stop(timeout=5)
        raise
    return server


@contextlib.contextmanager
def running_server(
    workdir: Path,
    *,
    data_dir: Path | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    tls_ca: Path | None = None,
    tls_client: tuple[Path, Path] | None = None,
    open_files: int | None = None,
) -> Iterator[ServerProcess]:
    """A server for the duration of the block; stopped (killed if need be) on every exit."""
    server = start_server(
        workdir,
        data_dir=data_dir,
        args=args,
        env=env,
        tls_ca=tls_ca,
        tls_client=tls_client,
        open_files=open_files,
    )
    try:
        yield server
    finally:
        server.stop()


class _Details(
    collections.namedtuple(
        "_Details",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class AdminSigner(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Signs every call of a raw (blocking) channel with an access key: ``grpc.intercept_channel
    (channel, AdminSigner(**server.admin_keys()))``."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self._key, self._secret = access_key, secret_key

    def _details(self, d: Any) -> _Details:
        from lightningstor_types.signing import signed_metadata

        signed = signed_metadata(self._key, self._secret, d.method)
        metadata = [*(d.metadata or ()), *signed]
        return _Details(d.method, d.timeout, metadata, d.credentials, d.wait_for_ready,
                        getattr(d, "compression", None))  # fmt: skip

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)
