"""Our own clients over TLS (the client, the CLI, the S3 gateway's upstream), mTLS principals."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied, LightningStorError
from tests.client.test_bench import _bench
from tests.fixtures.etcd import TlsFiles, write_client_certificate, write_test_certificates
from tests.integration.server import ServerProcess, clean_env, running_server
from tests.s3.conftest import make_client
from tests.s3.test_gateway import _start_gateway

BILLING_CN = "billing.services.test"
REPORTS_SAN = "spiffe://lightningstor.test/reports"


def _tls_config(tls: TlsFiles, *, mtls: bool) -> str:
    lines = [
        "[server.tls]",
        f'cert_file = "{tls.server_cert}"',
        f'key_file = "{tls.server_key}"',
    ]
    if mtls:
        lines.append(f'ca_file = "{tls.ca}"')
        lines += [
            "[[server.tls.principals]]",
            f'subject_cn = "{BILLING_CN}"',
            'principal = "default/billing"',
            "[[server.tls.principals]]",
            f'san = "{REPORTS_SAN}"',
            'principal = "default/reports"',
            "[iam.roles]",
            'service = ["lightningstor:buckets:*", "lightningstor:credentials:*"]',
            "[[iam.bindings]]",
            'principal = "default/billing"',
            'role = "service"',
            'org = "default"',
            "[[iam.bindings]]",
            'principal = "default/reports"',
            'role = "viewer"',
            'org = "default"',
        ]
    return "\n".join(lines) + "\n"


def _server(workdir: Path, tls: TlsFiles, *, mtls: bool) -> Iterator[ServerProcess]:
    config = workdir / "server.toml"
    workdir.mkdir(parents=True, exist_ok=True)
    config.write_text(_tls_config(tls, mtls=mtls))
    client = (tls.client_cert, tls.client_key) if mtls else None
    with running_server(
        workdir, args=("--config", str(config)), tls_ca=tls.ca, tls_client=client
    ) as server:
        yield server


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return write_test_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def tls_server(tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory.mktemp("tls-server"), tls, mtls=False)


@pytest.fixture(scope="module")
def mtls_server(tls: TlsFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from _server(tmp_path_factory.mktemp("mtls-server"), tls, mtls=True)


def test_client_over_tls_with_a_ca_file(tls_server: ServerProcess, tls: TlsFiles) -> None:
    keys = tls_server.admin_keys()
    for scheme in ("https", "grpcs"):
        with LightningStorClient(
            f"{scheme}://{tls_server.grpc_addr}", ca_file=tls.ca, **keys
        ) as client:
            client.create_bucket(f"tls-{scheme}")
            client.put_object(f"tls-{scheme}", "k", b"over tls")
            with client.get_object(f"tls-{scheme}", "k") as stream:
                assert stream.read() == b"over tls"
    # A CA file alone turns TLS on for a bare HOST:PORT.
    with LightningStorClient(tls_server.grpc_addr, ca_file=str(tls.ca), **keys) as client:
        assert {"tls-https", "tls-grpcs"} <= {b.name for b in client.list_buckets()}


def test_client_verifies_the_server(tls_server: ServerProcess, tls: TlsFiles) -> None:
    keys = tls_server.admin_keys()
    # The system trust store does not know the test CA: the handshake fails, nothing is sent.
    with (
        LightningStorClient(f"https://{tls_server.grpc_addr}", timeout=5, **keys) as client,
        pytest.raises(LightningStorError),
    ):
        client.list_buckets()
    # A plaintext endpoint with TLS files is refused, never silently plaintext.
    with pytest.raises(ValueError, match="plaintext"):
        LightningStorClient(f"http://{tls_server.grpc_addr}", ca_file=tls.ca, **keys)
    with pytest.raises(ValueError, match="cert_file and key_file"):
        LightningStorClient(f"https://{tls_server.grpc_addr}", cert_file=tls.client_cert, **keys)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lightningstor_client.cli", *args],
        env=clean_env(env), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_cli_over_tls(tls_server: ServerProcess, tls: TlsFiles, tmp_path: Path) -> None:
    keys = tls_server.admin_keys()
    env = {
        "LIGHTNINGSTOR_ACCESS_KEY_ID": keys["access_key"],
        "LIGHTNINGSTOR_SECRET_ACCESS_KEY": keys["secret_key"],
        "LIGHTNINGSTOR_ENDPOINT": f"grpcs://{tls_server.grpc_addr}",
    }
    made = _cli("--ca-file", str(tls.ca), "mb", "cli-tls", env=env)
    assert made.returncode == 0, made.stderr
    (tmp_path / "f").write_bytes(b"cli over tls")
    put = _cli(
        "put", str(tmp_path / "f"), "cli-tls/f", env={**env, "LIGHTNINGSTOR_CA_FILE": str(tls.ca)}
    )
    assert put.returncode == 0, put.stderr
    got = _cli("--ca-file", str(tls.ca), "get", "cli-tls/f", "-", env=env)
    assert got.returncode == 0, got.stderr
    assert got.stdout == "cli over tls"
    plain = _cli(
        "--endpoint", f"http://{tls_server.grpc_addr}", "--ca-file", str(tls.ca), "ls", env=env
    )
    assert plain.returncode == 2
    assert "plaintext" in plain.stderr


def test_bench_over_tls(tls_server: ServerProcess, tls: TlsFiles) -> None:
    fields = _bench(
        tls_server, "--api", "grpc", "--endpoint", f"grpcs://{tls_server.grpc_addr}",
        "--ca-file", str(tls.ca), "--op", "put", "--bucket", "bench-tls",
    )  # fmt: skip
    assert fields["api"] == "grpc"


def test_mtls_certificates_map_to_principals(mtls_server: ServerProcess, tls: TlsFiles) -> None:
    endpoint = f"https://{mtls_server.grpc_addr}"
    billing = write_client_certificate(tls, "billing", BILLING_CN)
    reports = write_client_certificate(tls, "reports", "reports", sans=[REPORTS_SAN])
    stranger = write_client_certificate(tls, "stranger", "stranger", sans=["stranger.test"])
    # No token, no access key: the certificate is the caller.
    with LightningStorClient(
        endpoint, ca_file=tls.ca, cert_file=billing[0], key_file=billing[1]
    ) as client:
        client.create_bucket("billed")  # role service in org default
        assert [b.name for b in client.list_buckets()] == ["billed"]
        assert client.create_access_key().principal_id == "billing"
    with LightningStorClient(
        endpoint, ca_file=tls.ca, cert_file=reports[0], key_file=reports[1]
    ) as client:
        assert "billed" in [b.name for b in client.list_buckets()]  # viewer
        with pytest.raises(AccessDenied):
            client.create_bucket("reported")
    with (
        LightningStorClient(
            endpoint, ca_file=tls.ca, cert_file=stranger[0], key_file=stranger[1]
        ) as client,
        pytest.raises(AccessDenied, match="no credentials"),
    ):
        client.list_buckets()  # an unmapped certificate names nobody
    # Credentials in the call win over the certificate.
    with LightningStorClient(
        endpoint,
        ca_file=tls.ca,
        cert_file=reports[0],
        key_file=reports[1],
        **mtls_server.admin_keys(),
    ) as client:
        client.create_bucket("by-admin")
        client.delete_bucket("by-admin")


def test_gateway_upstream_over_mtls(
    mtls_server: ServerProcess, tls: TlsFiles, tmp_path: Path
) -> None:
    upstream = (
        "--grpc-endpoint", f"https://{mtls_server.grpc_addr}", "--grpc-ca-file", str(tls.ca),
        "--grpc-cert-file", str(tls.client_cert), "--grpc-key-file", str(tls.client_key),
    )  # fmt: skip
    keys = json.loads((mtls_server.data_dir / "admin-credentials.json").read_text())
    for endpoint in _start_gateway(mtls_server, tmp_path / "gw", workers=1, upstream=upstream):
        s3 = make_client(endpoint, keys["access_key_id"], keys["secret_access_key"])
        s3.create_bucket(Bucket="via-mtls")
        s3.put_object(Bucket="via-mtls", Key="k", Body=b"gateway over mtls")
        assert s3.get_object(Bucket="via-mtls", Key="k")["Body"].read() == b"gateway over mtls"


def test_gateway_refuses_tls_files_with_a_plaintext_endpoint(tls: TlsFiles, tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text('{"access_key_id": "k", "secret_access_key": "s"}')
    proc = subprocess.run(
        [sys.executable, "-m", "lightningstor_s3.gateway", "--grpc-endpoint", "grpc://127.0.0.1:1",
         "--grpc-ca-file", str(tls.ca), "--credentials-file", str(creds)],
        env=clean_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "plaintext" in proc.stderr
