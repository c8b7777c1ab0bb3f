"""``[server.tls]``: the gRPC listener serves TLS, and ``ca_file`` requires client certificates."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.fixtures.etcd import TlsFiles, write_test_certificates
from tests.integration.server import clean_env, server_command
from tests.wait import wait_until


def _start(
    workdir: Path, tls: TlsFiles, *, mtls: bool
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    ca_line = f'ca_file = "{tls.ca}"\n' if mtls else ""
    config = workdir / "server.toml"
    config.write_text(
        f'[server.tls]\ncert_file = "{tls.server_cert}"\nkey_file = "{tls.server_key}"\n{ca_line}'
    )
    ports_file = workdir / "ports.json"
    with (workdir / "server.log").open("ab") as log:
        proc = _popen(workdir, config, ports_file, log)
    deadline = time.monotonic() + 30
    while not ports_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError((workdir / "server.log").read_text())
        time.sleep(0.05)
    return proc, json.loads(ports_file.read_text())


def _popen(workdir: Path, config: Path, ports_file: Path, log: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        server_command("--config", str(config), "--grpc-addr", "127.0.0.1:0",
                       "--s3-addr", "127.0.0.1:0", "--data-dir", str(workdir / "data")),
        cwd=workdir, env=clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(ports_file)}),
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _check(addr: str, credentials: grpc.ChannelCredentials) -> int:
    with grpc.secure_channel(addr, credentials) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
        return int(reply.status)


@pytest.mark.parametrize("mtls", [False, True])
def test_grpc_serves_tls(tmp_path: Path, mtls: bool) -> None:
    tls = write_test_certificates(tmp_path / "certs")
    proc, ports = _start(tmp_path, tls, mtls=mtls)
    try:
        ca = tls.ca.read_bytes()
        with_cert = grpc.ssl_channel_credentials(
            ca, tls.client_key.read_bytes(), tls.client_cert.read_bytes()
        )
        without_cert = grpc.ssl_channel_credentials(ca)

        def serving() -> bool:
            try:
                return _check(ports["grpc"], with_cert) == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                return False

        wait_until(serving, 30, "gRPC health SERVING over TLS")
        if mtls:
            with pytest.raises(grpc.RpcError) as err:
                _check(ports["grpc"], without_cert)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        else:
            assert _check(ports["grpc"], without_cert) == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(ports["grpc"]) as plain, pytest.raises(grpc.RpcError):
            health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest(), timeout=2)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
