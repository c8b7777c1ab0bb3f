"""A server whose S3 or gRPC address is taken says which address and exits 1, in one process
and as the supervisor of workers (the gateway's test: tests/s3/test_gateway.py; the storage
node's: tests/storage_nodes/test_node_ops.py)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from tests.integration.server import clean_env, server_command

RUN_TIMEOUT = 60.0  # only against a hang: the server exits as soon as the bind fails


@pytest.mark.parametrize("processes", ["1", "2"])
@pytest.mark.parametrize("listener", ["s3", "grpc"])
def test_server_says_which_address_is_in_use(tmp_path: Path, listener: str, processes: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        addrs = {"s3": "127.0.0.1:0", "grpc": "127.0.0.1:0", listener: addr}
        done = subprocess.run(
            server_command(
                "--s3-addr", addrs["s3"], "--grpc-addr", addrs["grpc"],
                "--data-dir", str(tmp_path / "data"),
            ),
            env=clean_env({
                "LIGHTNINGSTOR_PORTS_FILE": str(tmp_path / "ports.json"),
                "LIGHTNINGSTOR_SERVER__PROCESSES": processes,
            }),
            capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path,
        )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    lines = [json.loads(x) for x in output.splitlines() if "cannot run" in x]
    assert lines, output
    assert all(line["level"] == "error" for line in lines), lines
    assert any(f"cannot listen on {addr}" in str(line["msg"]) for line in lines), lines
    assert "Traceback" not in output, output
    assert not (tmp_path / "ports.json").exists()
