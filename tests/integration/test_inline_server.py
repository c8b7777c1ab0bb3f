"""Small objects kept inline (``storage.inline_max_bytes``) through a real server: boto3, the
gRPC client's streaming GET, and ``lightningstor admin check``; then the same puts with the
threshold at 0, where every non-empty body is a chunk file."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor_client import LightningStorClient
from tests.admin.cli import run_cli
from tests.integration.server import ServerProcess, running_server
from tests.s3.conftest import make_client

pytestmark = pytest.mark.timeout(180)
LIMIT = 4096
SIZES = [0, 1, LIMIT - 1, LIMIT, LIMIT + 1]


def chunk_files(server: ServerProcess) -> set[str]:
    root = server.data_dir / "chunks"
    return {p.name for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@contextlib.contextmanager
def s3_client(server: ServerProcess) -> Iterator[Any]:
    """A boto3 client of the server's admin key, closed (its pooled sockets too) at the end."""
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    try:
        yield s3
    finally:
        s3.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("inline")) as proc:
        yield proc


def test_sizes_round_trip_and_only_the_large_one_is_a_chunk(server: ServerProcess) -> None:
    with s3_client(server) as s3:
        s3.create_bucket(Bucket="sizes")
        bodies = {size: os.urandom(size) for size in SIZES}
        for size, body in bodies.items():
            before = chunk_files(server)
            put = s3.put_object(Bucket="sizes", Key=f"k{size}", Body=body)
            assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
            new = chunk_files(server) - before
            assert len(new) == (1 if size > LIMIT else 0), size
        for size, body in bodies.items():
            got = s3.get_object(Bucket="sizes", Key=f"k{size}")
            assert got["Body"].read() == body and got["ContentLength"] == size
        body = bodies[LIMIT]
        ranged = s3.get_object(Bucket="sizes", Key=f"k{LIMIT}", Range="bytes=100-199")
        assert ranged["Body"].read() == body[100:200] and ranged["ContentRange"].endswith(
            f"/{LIMIT}"
        )
        suffix = s3.get_object(Bucket="sizes", Key=f"k{LIMIT}", Range="bytes=-10")
        assert suffix["Body"].read() == body[-10:]
        with pytest.raises(ClientError) as err:
            s3.get_object(Bucket="sizes", Key=f"k{LIMIT}", Range=f"bytes={LIMIT}-")
        assert err.value.response["Error"]["Code"] == "InvalidRange"
        head = s3.head_object(Bucket="sizes", Key=f"k{LIMIT - 1}")
        assert head["ContentLength"] == LIMIT - 1


def test_checksums_and_bad_digests(server: ServerProcess) -> None:
    with s3_client(server) as s3:
        s3.create_bucket(Bucket="sums")
        body = os.urandom(1000)
        s3.put_object(Bucket="sums", Key="k", Body=body, ChecksumAlgorithm="SHA256")
        got = s3.get_object(Bucket="sums", Key="k", ChecksumMode="ENABLED")
        assert got["Body"].read() == body
        assert got["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
        before = chunk_files(server)
        wrong = base64.b64encode(hashlib.md5(b"not the body").digest()).decode()
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket="sums", Key="bad", Body=b"small", ContentMD5=wrong)
        assert err.value.response["Error"]["Code"] == "BadDigest"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="sums")["Contents"]] == ["k"]
        assert chunk_files(server) == before


def test_copy_outlives_its_source_and_grpc_streams_it(server: ServerProcess) -> None:
    with s3_client(server) as s3:
        s3.create_bucket(Bucket="copies")
        body = os.urandom(3000)
        s3.put_object(Bucket="copies", Key="src", Body=body)
        s3.copy_object(Bucket="copies", Key="dst", CopySource={"Bucket": "copies", "Key": "src"})
        s3.delete_object(Bucket="copies", Key="src")
        assert s3.get_object(Bucket="copies", Key="dst")["Body"].read() == body
        with LightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
            assert client.get_object("copies", "dst").read() == body
            assert client.get_object("copies", "dst", range=(-5, None)).read() == body[-5:]
            client.put_object("copies", "grpc", b"through grpc")
            assert client.get_object("copies", "grpc").read() == b"through grpc"


def test_admin_check_is_clean(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inline records name no chunk: nothing is missing, and no chunk is an orphan."""
    with s3_client(server) as s3:
        s3.create_bucket(Bucket="checked")
        s3.put_object(Bucket="checked", Key="inline", Body=b"small")
        s3.put_object(Bucket="checked", Key="chunked", Body=os.urandom(LIMIT + 1))
        run = run_cli(monkeypatch, server, server.admin_keys(), "admin", "check", "--json")
        assert run.code == 0, run.err
        (summary,) = [line["summary"] for line in run.json_lines() if "summary" in line]
        assert summary["consistent"] is True and summary["remaining"] == 0
        assert summary["referenced_chunks"] == summary["stored_chunks"] >= 1
        assert summary["data_records"] > summary["referenced_chunks"]  # the inline ones


def test_threshold_zero_chunks_every_body(tmp_path: Path) -> None:
    env = {"LIGHTNINGSTOR_STORAGE__INLINE_MAX_BYTES": "0"}
    with running_server(tmp_path / "off", env=env) as server, s3_client(server) as s3:
        s3.create_bucket(Bucket="off")
        for size in SIZES:
            s3.put_object(Bucket="off", Key=f"k{size}", Body=b"x" * size)
        assert len(chunk_files(server)) == len(SIZES) - 1  # the empty body has no chunk
        assert s3.get_object(Bucket="off", Key="k1")["Body"].read() == b"x"
