"""Servers with short connection limits, so that the tests see them trip in seconds.

quick_server    short deadlines (1 s head, keep-alive idle, body window; gRPC handshake, idle)
bounded_server  small connection bounds and long deadlines (the bounds alone are seen);
                started with this process's soft open-file limit at 1,024, to see it raised
ping_server     gRPC pings allowed every 0.5 s (its TOML): closer ones are strikes
aging_server    gRPC connections live 1 s, then calls get a 3 s grace (its TOML)
"""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess

QUICK = {
    "LIGHTNINGSTOR_CONNECTIONS__HEADER_TIMEOUT_SECONDS": "1",
    "LIGHTNINGSTOR_CONNECTIONS__IDLE_TIMEOUT_SECONDS": "1",
    "LIGHTNINGSTOR_CONNECTIONS__BODY_TIMEOUT_SECONDS": "1",
    "LIGHTNINGSTOR_CONNECTIONS__MIN_BODY_RATE": "1KiB",
    "LIGHTNINGSTOR_CONNECTIONS__GRPC_HANDSHAKE_TIMEOUT_SECONDS": "1",
    "LIGHTNINGSTOR_CONNECTIONS__GRPC_MAX_CONNECTION_IDLE_SECONDS": "1",
}
BOUNDED = {
    "LIGHTNINGSTOR_CONNECTIONS__MAX_CONNECTIONS": "40",
    "LIGHTNINGSTOR_CONNECTIONS__MAX_CONNECTIONS_PER_SOURCE": "10",
    "LIGHTNINGSTOR_CONNECTIONS__GRPC_MAX_CONNECTIONS": "5",
    "LIGHTNINGSTOR_CONNECTIONS__HEADER_TIMEOUT_SECONDS": "60",
    "LIGHTNINGSTOR_CONNECTIONS__GRPC_HANDSHAKE_TIMEOUT_SECONDS": "60",
}
JSON_LOGS = {"LIGHTNINGSTOR_LOGGING__FORMAT": "json", "LIGHTNINGSTOR_LOGGING__ACCESS_LOG": "false"}


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.integration.server import running_server

    with running_server(tmp_path_factory.mktemp("quick"), env=QUICK | JSON_LOGS) as proc:
        yield proc


@pytest.fixture(scope="module")
def bounded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.integration.server import start_server

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, soft), hard))
    try:  # the server inherits the low soft limit
        proc = start_server(tmp_path_factory.mktemp("bounded"), env=BOUNDED | JSON_LOGS)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        yield proc
    finally:
        proc.stop()


PING_TOML = """
[connections]
grpc_min_ping_interval_seconds = 0.5
"""
AGING_TOML = """
[connections]
grpc_max_connection_age_seconds = 1
grpc_max_connection_age_grace_seconds = 3
"""


def _server_with_toml(workdir: Path, toml: str) -> Iterator[ServerProcess]:
    from tests.integration.server import running_server

    config = workdir / "server.toml"
    config.write_text(toml)
    with running_server(workdir, args=["--config", str(config)], env=JSON_LOGS) as proc:
        yield proc


@pytest.fixture(scope="module")
def ping_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server_with_toml(tmp_path_factory.mktemp("ping"), PING_TOML)


@pytest.fixture(scope="module")
def aging_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server_with_toml(tmp_path_factory.mktemp("aging"), AGING_TOML)


def s3_client(server: ServerProcess, **config: Any) -> Any:
    """boto3 with the admin key (``config``: botocore ``Config`` options)."""
    from tests.s3.conftest import make_client

    keys = json.loads((server.data_dir / "admin-credentials.json").read_text())
    return make_client(
        "http://" + server.ports["s3"], keys["access_key_id"], keys["secret_access_key"], **config
    )


def limit_hits(server: ServerProcess, listener: str, reason: str) -> float:
    """``lightningstor_connection_limits_total{listener,reason}`` on the server's page."""
    from tests.ops.test_observability import get, sample

    status, page, _ = get(f"http://{server.ports['s3']}/metrics")
    assert status == 200
    return sample(
        page.decode(), "lightningstor_connection_limits_total", listener=listener, reason=reason
    )


def limit_log_lines(server: ServerProcess, reason: str) -> list[dict[str, object]]:
    return [
        r
        for r in server.log_records()
        if r.get("msg") == "S3 connection limit hit" and r.get("reason") == reason
    ]
