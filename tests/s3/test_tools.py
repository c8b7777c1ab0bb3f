"""The real S3 tools at their default settings: the AWS CLI, s3cmd, rclone, the MinIO client.

Each does put/get/list/delete and a multipart upload of a 50 MiB file. The AWS CLI comes with
the dev dependencies; s3cmd and rclone are Debian packages (scripts/bootstrap.sh installs them),
and their tests are skipped where the binary is missing.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.awscli import AWS, aws_env

BIG = 50 * 1024 * 1024


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a 50 MiB file, a small one, and names with spaces, '+' and unicode."""
    root = tmp_path_factory.mktemp("upload")
    (root / "big.bin").write_bytes(os.urandom(BIG))
    (root / "small file.txt").write_bytes(b"small\n")
    (root / "sub dir").mkdir()
    (root / "sub dir" / "ünï+cödé.txt").write_bytes(b"unicode\n")
    return root


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def new_name(tool: str) -> str:
    return f"{tool}-{uuid.uuid4().hex[:12]}"


# ---- AWS CLI ----------------------------------------------------------------------------------


def test_aws_cli(
    s3_endpoint: str, admin_keys: dict[str, str], files: Path, tmp_path: Path, s3: Any
) -> None:
    env = aws_env(admin_keys["id"], admin_keys["secret"], tmp_path)
    aws_bin = AWS

    def aws(*args: str) -> str:
        return run(aws_bin, "--endpoint-url", s3_endpoint, *args, env=env)

    bucket = new_name("aws")
    aws("s3", "mb", f"s3://{bucket}")
    aws("s3", "cp", str(files / "big.bin"), f"s3://{bucket}/big.bin")
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-7"')  # 8 MiB parts
    aws("s3", "sync", str(files), f"s3://{bucket}/synced")
    listing = aws("s3", "ls", "--recursive", f"s3://{bucket}/")
    assert "synced/sub dir/ünï+cödé.txt" in listing
    assert "synced/small file.txt" in listing
    aws("s3", "cp", f"s3://{bucket}/big.bin", str(tmp_path / "big.out"))
    assert filecmp.cmp(files / "big.bin", tmp_path / "big.out", shallow=False)
    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/synced", str(down))
    assert (down / "sub dir" / "ünï+cödé.txt").read_bytes() == b"unicode\n"
    aws("s3api", "put-bucket-versioning", "--bucket", bucket,
        "--versioning-configuration", "Status=Enabled")  # fmt: skip
    assert "Enabled" in aws("s3api", "get-bucket-versioning", "--bucket", bucket)
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "big.bin",
        "--tagging", "TagSet=[{Key=k,Value=v}]")  # fmt: skip
    assert '"Key": "k"' in aws(
        "s3api", "get-object-tagging", "--bucket", bucket, "--key", "big.bin"
    )
    aws("s3", "rm", "--recursive", f"s3://{bucket}/synced")
    assert "synced" not in aws("s3", "ls", "--recursive", f"s3://{bucket}/")


def test_aws_cli_encryption(
    s3_endpoint: str, admin_keys: dict[str, str], files: Path, tmp_path: Path, s3: Any
) -> None:
    """Issue 15 §3: bucket default encryption and SSE-S3 uploads (multipart too) through the
    AWS CLI."""
    env = aws_env(admin_keys["id"], admin_keys["secret"], tmp_path)
    aws_bin = AWS

    def aws(*args: str) -> str:
        return run(aws_bin, "--endpoint-url", s3_endpoint, *args, env=env)

    bucket = new_name("aws-sse")
    aws("s3", "mb", f"s3://{bucket}")
    aws("s3", "cp", "--sse", "AES256", str(files / "big.bin"), f"s3://{bucket}/big.bin")
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ServerSideEncryption"] == "AES256"
    aws("s3", "cp", f"s3://{bucket}/big.bin", str(tmp_path / "big.out"))
    assert filecmp.cmp(files / "big.bin", tmp_path / "big.out", shallow=False)
    rule = '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
    aws("s3api", "put-bucket-encryption", "--bucket", bucket,
        "--server-side-encryption-configuration", rule)  # fmt: skip
    assert '"SSEAlgorithm": "AES256"' in aws("s3api", "get-bucket-encryption", "--bucket", bucket)
    aws("s3", "cp", str(files / "small file.txt"), f"s3://{bucket}/small.txt")
    assert s3.head_object(Bucket=bucket, Key="small.txt")["ServerSideEncryption"] == "AES256"
    aws("s3api", "delete-bucket-encryption", "--bucket", bucket)


# ---- s3cmd ------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("s3cmd") is None, reason="s3cmd is not installed")
def test_s3cmd(
    s3_endpoint: str, admin_keys: dict[str, str], files: Path, tmp_path: Path, s3: Any
) -> None:
    host = s3_endpoint.removeprefix("http://")
    config = tmp_path / "s3cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {admin_keys['id']}\n"
        f"secret_key = {admin_keys['secret']}\n"
        f"host_base = {host}\n"
        f"host_bucket = {host}\n"
        "use_https = False\n"
    )

    def s3cmd(*args: str) -> str:
        return run("s3cmd", "-c", str(config), *args, env={**os.environ, "HOME": str(tmp_path)})

    bucket = new_name("s3cmd")
    s3cmd("mb", f"s3://{bucket}")
    s3cmd("put", str(files / "big.bin"), f"s3://{bucket}/big.bin")
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-4"')  # 15 MiB parts
    s3cmd("put", str(files / "small file.txt"), f"s3://{bucket}/dir/small file.txt")
    s3cmd("sync", str(files / "sub dir") + "/", f"s3://{bucket}/sub/")
    listing = s3cmd("ls", "--recursive", f"s3://{bucket}")
    assert "dir/small file.txt" in listing
    assert "sub/ünï+cödé.txt" in listing
    s3cmd("get", f"s3://{bucket}/big.bin", str(tmp_path / "big.out"))
    assert filecmp.cmp(files / "big.bin", tmp_path / "big.out", shallow=False)
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}")
    s3cmd("rb", f"s3://{bucket}")
    assert bucket not in s3cmd("ls")


# ---- rclone -----------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed")
def test_rclone(
    s3_endpoint: str, admin_keys: dict[str, str], files: Path, tmp_path: Path, s3: Any
) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
        "RCLONE_CONFIG_LS_TYPE": "s3",
        "RCLONE_CONFIG_LS_PROVIDER": "Other",
        "RCLONE_CONFIG_LS_ACCESS_KEY_ID": admin_keys["id"],
        "RCLONE_CONFIG_LS_SECRET_ACCESS_KEY": admin_keys["secret"],
        "RCLONE_CONFIG_LS_ENDPOINT": s3_endpoint,
        "RCLONE_CONFIG_LS_REGION": "us-east-1",
    }

    def rclone(*args: str) -> str:
        return run("rclone", *args, env=env)

    bucket = new_name("rclone")
    rclone("mkdir", f"ls:{bucket}")
    # rclone's default cutoff is 200 MiB; 10 MiB makes the 50 MiB file a multipart upload
    rclone("copy", "--s3-upload-cutoff", "10M", "--s3-chunk-size", "10M",
           str(files), f"ls:{bucket}/tree")  # fmt: skip
    assert s3.head_object(Bucket=bucket, Key="tree/big.bin")["ETag"].endswith('-5"')
    rclone("check", str(files), f"ls:{bucket}/tree")  # exits non-zero on any difference
    listing = rclone("ls", f"ls:{bucket}")
    assert "tree/sub dir/ünï+cödé.txt" in listing
    rclone("copy", f"ls:{bucket}/tree", str(tmp_path / "back"))
    assert filecmp.cmp(files / "big.bin", tmp_path / "back" / "big.bin", shallow=False)
    rclone("delete", f"ls:{bucket}/tree/sub dir")
    assert "ünï" not in rclone("ls", f"ls:{bucket}")
    rclone("purge", f"ls:{bucket}")


# ---- MinIO Python client ----------------------------------------------------------------------


def test_minio_client(
    s3_endpoint: str, admin_keys: dict[str, str], files: Path, tmp_path: Path, s3: Any
) -> None:
    from minio import Minio
    from minio.deleteobjects import DeleteObject

    client = Minio(
        s3_endpoint.removeprefix("http://"),
        access_key=admin_keys["id"],
        secret_key=admin_keys["secret"],
        secure=False,
    )
    bucket = new_name("minio")
    client.make_bucket(bucket)
    assert client.bucket_exists(bucket)
    client.fput_object(bucket, "big.bin", str(files / "big.bin"), part_size=10 * 1024 * 1024)
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-5"')
    client.fput_object(bucket, "sub dir/ünï+cödé.txt", str(files / "sub dir" / "ünï+cödé.txt"))
    names = sorted(o.object_name for o in client.list_objects(bucket, recursive=True))
    assert names == ["big.bin", "sub dir/ünï+cödé.txt"]
    assert client.stat_object(bucket, "big.bin").size == BIG
    client.fget_object(bucket, "big.bin", str(tmp_path / "big.out"))
    assert filecmp.cmp(files / "big.bin", tmp_path / "big.out", shallow=False)
    errors = list(client.remove_objects(bucket, [DeleteObject(n) for n in names]))
    assert errors == []
    assert list(client.list_objects(bucket)) == []
    client.remove_bucket(bucket)
    assert not client.bucket_exists(bucket)
