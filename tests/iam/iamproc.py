"""A real ``lightningstor-iam serve`` process for tests, on a free (or given) loopback port."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from tests.integration.server import clean_env

START_TIMEOUT = 120.0
"""Only against a hang: a loaded machine with parallel workers can take tens of seconds."""


def write_config(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


@dataclass
class IamProcess:
    proc: subprocess.Popen[bytes]
    workdir: Path
    addr: str

    @property
    def audit_path(self) -> Path:
        return self.workdir / "audit.log"

    def audit_lines(self) -> list[dict[str, object]]:
        if not self.audit_path.exists():
            return []
        text = self.audit_path.read_text()
        # a line still being written (no newline yet) is not a record
        return [json.loads(x) for x in text[: text.rfind("\n") + 1].splitlines() if x]

    def wait_audit_lines(self, count: int, timeout: float = 10.0) -> list[dict[str, object]]:
        """The audit records once there are at least ``count`` (the IAM writes them after
        answering), or whatever there is at the deadline."""
        deadline = time.monotonic() + timeout
        while len(lines := self.audit_lines()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return lines

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_iam(
    workdir: Path,
    config: Path,
    *,
    addr: str = "127.0.0.1:0",
    service_token_file: Path | None = None,
) -> IamProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    ports = workdir / "iam-ports.json"
    ports.unlink(missing_ok=True)
    args = [sys.executable, "-m", "lightningstor_api.iam.server", "serve", "--addr", addr,
            "--config", str(config), "--key-file", str(workdir / "signing-key.json"),
            "--audit-file", str(workdir / "audit.log")]  # fmt: skip
    if service_token_file is not None:
        args += ["--service-token-file", str(service_token_file)]
    log = (workdir / "iam.log").open("ab")
    proc = subprocess.Popen(
        args,
        env=clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(ports)}),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=workdir,
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while not ports.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError((workdir / "iam.log").read_text())
        time.sleep(0.02)
    iam = IamProcess(proc, workdir, json.loads(ports.read_text())["iam"])
    # Serving, not just bound: the first test call must not race the listener (a refused first
    # connection is an UNAVAILABLE, which the client rightly turns into a denial).
    with grpc.insecure_channel(iam.addr) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=max(deadline - time.monotonic(), 1))
        except grpc.FutureTimeoutError:
            iam.kill()
            raise RuntimeError((workdir / "iam.log").read_text()) from None
    return iam


@contextmanager
def running_iam(workdir: Path, config: Path, **kwargs: object) -> Iterator[IamProcess]:
    iam = start_iam(workdir, config, **kwargs)  # type: ignore[arg-type]
    try:
        yield iam
    finally:
        iam.stop()
