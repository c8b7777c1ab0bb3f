"""``lightningstor admin sse rewrap`` (issue 15 §3, rotation): data keys written under master
key A are rewrapped under B, after which A can leave the key file and every object (versions,
a completed multipart upload, a part of an upload in progress, SSE-KMS, SSE-C) still reads;
what was not rewrapped does not."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError

from lightningstor_client import ConsistencySummary, LightningStorClient
from lightningstor_types.errors import AccessDenied, InvalidArgument
from lightningstor_types.scope import Scope
from tests.admin.cli import Run, run_cli
from tests.integration.server import ServerProcess, start_server
from tests.s3.conftest import make_client

pytestmark = pytest.mark.timeout(180)

KEY_A = "key-a " + base64.b64encode(os.urandom(32)).decode()
KEY_B = "key-b " + base64.b64encode(os.urandom(32)).decode()
KMS_CONTEXT = {
    "ServerSideEncryption": "aws:kms",
    "SSEKMSKeyId": "key-a",
    "SSEKMSEncryptionContext": base64.b64encode(b'{"team":"blue"}').decode(),
}
CUSTOMER = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "c" * 32}
MIB = 1024 * 1024


class Store:
    """One server's work directory across restarts, and its key file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.key_file = root / "sse.keys"
        self.server: ServerProcess | None = None

    def start(self, *key_lines: str) -> ServerProcess:
        self.stop()
        self.key_file.write_text("".join(line + "\n" for line in key_lines))
        env = {
            "LIGHTNINGSTOR_ENCRYPTION__KEY_FILE": str(self.key_file),
            # Small chunks and parts: objects of several chunks and parts stay small.
            "LIGHTNINGSTOR_STORAGE__CHUNK_SIZE": "1MiB",
            "LIGHTNINGSTOR_LIMITS__MIN_PART_SIZE": "1MiB",
        }
        self.server = start_server(self.root / "srv", env=env)
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def s3(self) -> Any:
        assert self.server is not None
        keys = self.server.admin_keys()
        return make_client(
            "http://" + self.server.ports["s3"], keys["access_key"], keys["secret_key"]
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def _chunk_files(server: ServerProcess) -> dict[Path, bytes]:
    root = server.data_dir / "chunks"
    return {p: hashlib.sha256(p.read_bytes()).digest() for p in root.rglob("*") if p.is_file()}


def _rewrap(monkeypatch: pytest.MonkeyPatch, server: ServerProcess, *args: str) -> Run:
    return run_cli(monkeypatch, server, server.admin_keys(), "admin", "sse", "rewrap", *args)


def _totals(run: Run) -> dict[str, Any]:
    lines = run.json_lines()
    assert lines and lines[-1]["done"], run.out + run.err
    return lines[-1]  # type: ignore[no-any-return]


def test_rewrap_lets_the_old_key_go_and_everything_stays_readable(
    monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    store.start(KEY_A)
    s3 = store.s3()
    bodies: dict[tuple[str, str], bytes] = {}
    for bucket in ("rotated", "left"):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for key, size in (("small", 100_000), ("two-chunks", 3 * MIB // 2)):
            bodies[bucket, key] = os.urandom(size)
            s3.put_object(
                Bucket=bucket, Key=key, Body=bodies[bucket, key], ServerSideEncryption="AES256"
            )
    old_version = s3.put_object(
        Bucket="rotated", Key="versioned", Body=b"old" * 30_000, ServerSideEncryption="AES256"
    )["VersionId"]
    s3.put_object(
        Bucket="rotated", Key="versioned", Body=b"new" * 30_000, ServerSideEncryption="AES256"
    )
    s3.copy_object(Bucket="rotated", Key="copy", CopySource={"Bucket": "rotated", "Key": "small"})
    s3.put_object(
        Bucket="rotated",
        Key="kms",
        Body=b"k" * 5000,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="key-a",
    )
    s3.put_object(Bucket="rotated", Key="kms-ctx", Body=b"x" * 5000, **KMS_CONTEXT)
    s3.put_object(Bucket="rotated", Key="customer", Body=b"c" * 5000, **CUSTOMER)
    parts = [os.urandom(3 * MIB // 2), os.urandom(70_000)]
    done = s3.create_multipart_upload(Bucket="rotated", Key="mp", ServerSideEncryption="AES256")
    etags = [
        s3.upload_part(Bucket="rotated", Key="mp", UploadId=done["UploadId"], PartNumber=n, Body=p)
        for n, p in enumerate(parts, 1)
    ]
    listed = [{"PartNumber": n, "ETag": e["ETag"]} for n, e in enumerate(etags, 1)]
    s3.complete_multipart_upload(
        Bucket="rotated", Key="mp", UploadId=done["UploadId"], MultipartUpload={"Parts": listed}
    )
    pending = s3.create_multipart_upload(
        Bucket="rotated", Key="pending", ServerSideEncryption="AES256"
    )
    first = s3.upload_part(
        Bucket="rotated", Key="pending", UploadId=pending["UploadId"], PartNumber=1, Body=parts[0]
    )
    pending_kms = s3.create_multipart_upload(Bucket="rotated", Key="pending-kms", **KMS_CONTEXT)
    first_kms = s3.upload_part(
        Bucket="rotated", Key="pending-kms", UploadId=pending_kms["UploadId"], PartNumber=1,
        Body=parts[0],
    )  # fmt: skip
    s3.close()

    # Key B becomes active (the key file's last line); A stays for reading.
    server = store.start(KEY_A, KEY_B)
    s3 = store.s3()
    s3.put_object(Bucket="rotated", Key="after", Body=b"b" * 5000, ServerSideEncryption="AES256")
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as admin:
        with pytest.raises(InvalidArgument):  # the target must exist
            list(admin.rewrap_keys(to_key="key-z"))
        with pytest.raises(InvalidArgument):
            list(admin.rewrap_keys(from_key="key-b", to_key="key-b"))
    stored = _chunk_files(server)
    human = _rewrap(monkeypatch, server, "--bucket", "rotated")
    assert human.code == 0, human.err
    assert _chunk_files(server) == stored  # chunk data neither read nor written
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as admin:
        summary = list(admin.check_consistency())[-1]
    assert isinstance(summary, ConsistencySummary)  # each current copy still equals its version
    assert (summary.current_copy_mismatches, summary.corrupt, summary.missing) == (0, 0, 0)
    assert "default/_/rotated:" in human.out and "/left:" not in human.out
    first_run = _totals(_rewrap(monkeypatch, server, "--bucket", "rotated", "--json"))
    assert first_run["chunks_rewrapped"] == 0 and first_run["records_updated"] == 0  # idempotent
    assert first_run["chunks_unchanged"] > 0 and first_run["chunks_customer"] >= 1
    assert first_run["chunks_failed"] == 0 and first_run["buckets"] == 1
    s3.close()

    # A leaves the key file: "rotated" reads whole, "left" (never rewrapped) does not.
    store.start(KEY_B)
    s3 = store.s3()

    def read(bucket: str, key: str, **extra: Any) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()  # type: ignore[no-any-return]

    for key in ("small", "two-chunks"):
        assert read("rotated", key) == bodies["rotated", key]
        with pytest.raises((ClientError, ResponseStreamingError)):  # an error, or a cut body
            read("left", key)
    assert read("rotated", "copy") == bodies["rotated", "small"]
    assert read("rotated", "versioned") == b"new" * 30_000
    assert read("rotated", "versioned", VersionId=old_version) == b"old" * 30_000
    assert read("rotated", "mp") == b"".join(parts)
    edge = len(parts[0])  # a range across the parts' boundary
    assert (
        read("rotated", "mp", Range=f"bytes={edge - 10}-{edge + 10}")
        == b"".join(parts)[edge - 10 : edge + 11]
    )
    assert read("rotated", "after") == b"b" * 5000
    assert read("rotated", "customer", **CUSTOMER) == b"c" * 5000
    kms = s3.get_object(Bucket="rotated", Key="kms")
    assert kms["Body"].read() == b"k" * 5000 and kms["SSEKMSKeyId"] == "key-b"
    second = s3.upload_part(
        Bucket="rotated", Key="pending", UploadId=pending["UploadId"], PartNumber=2, Body=b"tail"
    )
    s3.complete_multipart_upload(
        Bucket="rotated", Key="pending", UploadId=pending["UploadId"],
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": first["ETag"]}, {"PartNumber": 2, "ETag": second["ETag"]},
        ]},
    )  # fmt: skip
    assert read("rotated", "pending") == parts[0] + b"tail"
    # SSE-KMS data keys are bound to the encryption context: rewrapped under it
    assert read("rotated", "kms-ctx") == b"x" * 5000
    s3.complete_multipart_upload(
        Bucket="rotated", Key="pending-kms", UploadId=pending_kms["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first_kms["ETag"]}]},
    )  # fmt: skip
    assert read("rotated", "pending-kms") == parts[0]
    s3.close()

    # What A alone wrapped cannot be rewrapped any more: counted, exit code 1, nothing changed.
    failed = _rewrap(monkeypatch, store.server, "--bucket", "left", "--json")  # type: ignore[arg-type]
    assert failed.code == 1 and _totals(failed)["chunks_failed"] > 0


def test_rewrap_needs_its_own_permission(store: Store) -> None:
    server = store.start(KEY_A)
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as admin:
        made = admin.create_access_key(principal_id="reader", scope=Scope("default"))
        progress = list(admin.rewrap_keys())  # an empty store: only the totals
    assert [p.done for p in progress] == [True] and progress[0].to_key == "key-a"
    with (
        LightningStorClient(
            server.grpc_addr, access_key=made.access_key_id, secret_key=made.secret_access_key
        ) as other,
        pytest.raises(AccessDenied),
    ):
        list(other.rewrap_keys())
