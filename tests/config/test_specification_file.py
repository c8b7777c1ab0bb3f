"""The platform specification's example configuration (§8.1) loads as written, and each of its
values lands in our model where it should; its names that could mislead are refused, not ignored."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightningstor_storage.local import LocalBackend
from lightningstor_types.config import Settings
from lightningstor_types.config_loader import ConfigError, load_config

# The specification's §8.1 example, verbatim (its names, its URLs, its units).
SPECIFICATION_EXAMPLE = """\
# lightningstor.toml

[server]
grpc_addr = "0.0.0.0:9001"
s3_addr = "0.0.0.0:9000"

[metadata]
backend = "chainfire"
chainfire_endpoints = ["http://chainfire-1:2379", "http://chainfire-2:2379", "http://chainfire-3:2379"]

[storage]
backend = "distributed"
data_dir = "/var/lib/lightningstor"
chunk_size_bytes = 8388608
shard_depth = 2

[storage.distributed]
replication_factor = 3
nodes = ["http://node1:9002", "http://node2:9002", "http://node3:9002"]

[iam]
endpoint = "http://aegis:9100"
service_account = "/var/run/secrets/lightningstor/token"

[s3]
region = "us-east-1"
signature_version = "v4"
presigned_url_ttl_seconds = 3600

[limits]
max_object_size_bytes = 5497558138880
max_multipart_parts = 10000
multipart_upload_timeout_hours = 24
max_keys_per_list = 1000

[logging]
level = "info"
format = "json"
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "lightningstor.toml"
    path.write_text(text)
    return load_config(Settings, config_file=path, env={})


def test_the_specification_example_loads_and_every_value_lands(tmp_path: Path) -> None:
    s = load(tmp_path, SPECIFICATION_EXAMPLE)
    assert (s.server.grpc_addr, s.server.s3_addr) == ("0.0.0.0:9001", "0.0.0.0:9000")
    assert s.metadata.backend == "etcd"
    assert s.metadata.endpoints == ["chainfire-1:2379", "chainfire-2:2379", "chainfire-3:2379"]
    assert s.metadata.tls is None
    assert s.storage.backend == "distributed"
    assert s.storage.local_dir == Path("/var/lib/lightningstor")
    assert s.storage.chunk_size == 8 * 1024 * 1024
    assert s.storage.shard_depth == 2
    assert s.storage.distributed.replication_factor == 3
    assert [n.address for n in s.storage.distributed.nodes] == [
        "node1:9002", "node2:9002", "node3:9002",
    ]  # fmt: skip
    assert s.iam.mode == "external"
    assert s.iam.endpoint == "aegis:9100"
    assert s.iam.token_path == Path("/var/run/secrets/lightningstor/token")
    assert s.s3.region == "us-east-1"
    assert s.s3.presign_default_expiry_seconds == 3600
    assert s.limits.max_object_size == 5 * 1024**4
    assert s.limits.max_parts == 10000
    assert s.limits.multipart_upload_timeout_seconds == 24 * 3600
    assert s.limits.max_keys == 1000
    assert (s.logging.level, s.logging.format) == ("info", "json")


def test_https_urls_turn_tls_on(tmp_path: Path) -> None:
    text = SPECIFICATION_EXAMPLE.replace('"http://', '"https://')
    s = load(tmp_path, text)
    assert s.metadata.tls is not None
    assert s.storage.distributed.tls is not None
    assert s.iam.tls is not None
    assert s.iam.endpoint == "aegis:9100"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('signature_version = "v4"', 'signature_version = "v2"', "only Signature Version 4"),
        ("chunk_size_bytes = 8388608", 'chunk_size_bytes = 8388608\nchunk_size = "8MiB"',
         "storage.chunk_size_bytes is storage.chunk_size"),
        ("max_keys_per_list = 1000", "max_keys_per_list = 1000\nmax_keys = 500",
         "limits.max_keys_per_list is limits.max_keys"),
    ],
)  # fmt: skip
def test_a_name_that_would_mislead_is_refused(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, SPECIFICATION_EXAMPLE.replace(old, new))


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_the_local_backend_honours_shard_depth(tmp_path: Path, depth: int) -> None:
    chunk_id = "0123456789abcdef0123456789abcdef"

    async def scenario() -> list[str]:
        backend = LocalBackend(tmp_path, shard_depth=depth)
        try:
            await backend.put_chunk(chunk_id, b"sharded")
            return [stat.chunk_id async for stat in backend.list_chunks()]
        finally:
            await backend.close()

    assert asyncio.run(scenario()) == [chunk_id]
    shards = [chunk_id[2 * i : 2 * i + 2] for i in range(depth)]
    assert tmp_path.joinpath("chunks", *shards, chunk_id).is_file()
    # Another depth would lose every stored chunk from sight: refused at start.
    with pytest.raises(ValueError, match=f"shard_depth={depth}"):
        LocalBackend(tmp_path, shard_depth=2)


def test_the_cli_presigns_with_the_configured_default_expiry(tmp_path: Path) -> None:
    path = tmp_path / "lightningstor.toml"
    path.write_text(SPECIFICATION_EXAMPLE.replace("presigned_url_ttl_seconds = 3600",
                                                  "presigned_url_ttl_seconds = 900"))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTNINGSTOR_")}
    env |= {
        "LIGHTNINGSTOR_CONFIG": str(path),
        "LIGHTNINGSTOR_ACCESS_KEY_ID": "LSEXAMPLE",
        "LIGHTNINGSTOR_SECRET_ACCESS_KEY": "secret",
    }
    cli = str(Path(sys.executable).with_name("lightningstor"))
    done = subprocess.run(
        [cli, "presign", "s3://photos/cat.jpg"], capture_output=True, text=True, env=env,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "X-Amz-Expires=900&" in done.stdout
