"""``lightningstor-server keygen``: the key file a cluster's servers share, and what a server says
when the file it is told to use is missing; the programs' --help name what they are."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from pathlib import Path

from lightningstor_client import LightningStorClient
from tests.integration.server import clean_env, running_server, server_command


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=clean_env(env), check=False
    )


def test_keygen_writes_a_private_key_once_and_a_server_uses_it(tmp_path: Path) -> None:
    key = tmp_path / "etc" / "secret.key"
    made = _run(server_command("keygen", str(key)))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    text = key.read_text()
    assert text.endswith("\n")
    assert len(base64.b64decode(text.strip(), validate=True)) == 32

    again = _run(server_command("keygen", str(key)))
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert key.read_text() == text

    env = {"LIGHTNINGSTOR_IAM__SECRET_KEY_FILE": str(key)}
    with running_server(tmp_path / "server", env=env) as server:
        with LightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
            client.create_bucket("keyed")
            assert client.create_access_key().secret_access_key
        assert not (server.data_dir / "secret.key").exists()
    assert key.read_text() == text


def test_a_missing_secret_key_file_stops_the_server_saying_how_to_make_it(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "nowhere" / "secret.key"
    done = _run(
        server_command(
            "--grpc-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0",
            "--data-dir", str(tmp_path / "data"),
        ),
        env={"LIGHTNINGSTOR_IAM__SECRET_KEY_FILE": str(missing)},
    )  # fmt: skip
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert f"lightningstor-server keygen {missing}" in output
    assert not missing.exists()


def test_each_program_s_help_names_it_and_its_own_commands() -> None:
    server = _run(server_command("--help")).stdout
    assert "backup --to FILE" in server
    assert "keygen FILE" in server
    node = _run([sys.executable, "-m", "lightningstor_storage.node.main", "--help"]).stdout
    assert "storage node" in node
    assert "STORAGE__CHUNK_SIZE" not in node  # a server setting, not the node's
    gateway = _run([sys.executable, "-m", "lightningstor_s3.gateway", "--help"]).stdout
    assert "S3 gateway" in gateway
    assert "object store server" not in gateway
    assert "--grpc-addr" not in gateway
    assert "--data-dir" not in gateway
