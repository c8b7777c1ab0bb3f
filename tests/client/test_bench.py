"""``lightningstor-bench`` against a real server: every operation, both APIs, briefly.

A smoke test: each run lasts about a second at low concurrency, and only the shape of the
report is checked (a parseable ``RESULT`` line, no errors, some operations). Speed is never
asserted here; ``make bench`` measures it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lightningstor_client.bench.cli import parse_size
from lightningstor_client.bench.stats import percentile
from lightningstor_client.sigv4 import Signer, canonical_query, uri_path
from tests.integration.server import ServerProcess

S3_OPS = ("put", "get", "head", "list", "delete", "mixed")


def _bench(server: ServerProcess, *args: str) -> dict[str, str]:
    creds = server.data_dir / "admin-credentials.json"
    cmd = [
        sys.executable, "-m", "lightningstor_client.bench", "--credentials-file", str(creds),
        "--duration", "1", "--warmup", "0.2", "--concurrency", "2", "--objects", "20",
        "--server-pid", str(server.proc.pid), *args,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, done.stdout
    fields = dict(part.split("=", 1) for part in lines[0].split()[1:])
    assert fields["errors"] == "0", done.stderr
    assert int(fields["ops"]) > 0
    float(fields["ops_s"]), float(fields["p99_ms"]), float(fields["server_cpu_ms_op"])
    return fields


@pytest.mark.parametrize("op", S3_OPS)
def test_s3_workloads_report_results_without_errors(module_server: ServerProcess, op: str) -> None:
    fields = _bench(
        module_server, "--api", "s3", "--endpoint", module_server.ports["s3"], "--op", op,
        "--bucket", f"bench-s3-{op}",
    )  # fmt: skip
    assert fields["api"] == "s3" and fields["op"] == op
    if op == "list":
        assert float(fields["keys_s"]) > 0


@pytest.mark.parametrize("op", ["put", "get", "head", "list", "delete"])
def test_grpc_workloads_report_results_without_errors(
    module_server: ServerProcess, op: str
) -> None:
    fields = _bench(
        module_server, "--api", "grpc", "--endpoint", module_server.grpc_addr, "--op", op,
        "--bucket", f"bench-grpc-{op}", "--size", "64KiB",
    )  # fmt: skip
    assert fields["api"] == "grpc"
    if op in ("put", "get"):
        assert float(fields["mb_s"]) > 0


def test_sizes_parse_in_binary_units() -> None:
    assert parse_size("4096") == 4096
    assert parse_size("4KiB") == 4096
    assert parse_size("64MiB") == 64 * 1024 * 1024
    assert parse_size("1g") == 1024**3


def test_percentiles_are_nearest_rank() -> None:
    sample = list(range(1, 101))
    assert percentile(sample, 0.5) == 50
    assert percentile(sample, 0.99) == 99
    assert percentile(sample, 1.0) == 100
    assert percentile([], 0.5) == 0


def test_the_signer_matches_the_aws_example() -> None:
    """The GET Object example of the SigV4 documentation (examplebucket, 2013-05-24)."""
    signer = Signer(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        clock=lambda: 1369353600.0,  # 2013-05-24T00:00:00Z
    )
    query = canonical_query({"list-type": "2", "max-keys": "2", "prefix": "J"})
    assert query == "list-type=2&max-keys=2&prefix=J"
    assert uri_path("examplebucket", "a b/c~") == "/examplebucket/a%20b/c~"
    presigned = signer.presign("GET", "/test.txt", "examplebucket.s3.amazonaws.com", expires=86400)
    assert presigned.endswith(
        "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
