"""GetObjectAttributes over S3: boto3, the AWS CLI and raw HTTP (bad input), and the gRPC
client's counterpart, on a server whose minimum part size is lowered so parts stay small."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.awscli import AWS, aws_env
from tests.s3 import rawhttp

if TYPE_CHECKING:
    from lightningstor_client import LightningStorClient
    from tests.integration.server import ServerProcess

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.integration.server import running_server

    env = {"LIGHTNINGSTOR_LIMITS__MIN_PART_SIZE": "1"}
    with running_server(tmp_path_factory.mktemp("server"), env=env) as proc:
        yield proc


def multipart(s3: Any, bucket: str, key: str, bodies: list[bytes], **create: Any) -> list[Any]:
    """A completed upload of ``bodies``; the UploadPart responses."""
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    algorithm = create.get("ChecksumAlgorithm")
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    parts = [
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=b, **extra)
        for n, b in enumerate(bodies, 1)
    ]
    done = [
        {"PartNumber": n, "ETag": p["ETag"]}
        | ({f"Checksum{algorithm}": p[f"Checksum{algorithm}"]} if algorithm else {})
        for n, p in enumerate(parts, 1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done}
    )
    return parts


def test_simple_object(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello world", ChecksumAlgorithm="SHA256")
    got = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=ALL)
    assert got["ETag"] == put["ETag"].strip('"')  # unquoted, as S3 writes it here
    assert got["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert got["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    assert got["ObjectSize"] == 11 and got["StorageClass"] == "STANDARD"
    assert "ObjectParts" not in got  # not uploaded in parts
    assert "LastModified" in got
    # Only what was asked for.
    only = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert only["ObjectSize"] == 11
    assert not {"ETag", "Checksum", "StorageClass"} & set(only)


def test_parts_checksums_and_pages(s3: Any, bucket: str) -> None:
    bodies = [os.urandom(1000 + n) for n in range(5)]
    parts = multipart(s3, bucket, "mp", bodies, ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    seen: list[dict[str, Any]] = []
    marker = 0
    pages = 0
    while True:
        got = s3.get_object_attributes(
            Bucket=bucket, Key="mp", ObjectAttributes=ALL, MaxParts=2, PartNumberMarker=marker
        )
        pages += 1
        assert got["ETag"] == head["ETag"].strip('"')
        assert got["Checksum"]["ChecksumCRC32"] == head["ChecksumCRC32"]
        assert got["Checksum"]["ChecksumType"] == "COMPOSITE"
        assert got["ObjectSize"] == sum(map(len, bodies))
        op = got["ObjectParts"]
        assert op["TotalPartsCount"] == 5 and op["MaxParts"] == 2
        assert op["PartNumberMarker"] == marker
        seen.extend(op["Parts"])
        if not op["IsTruncated"]:
            break
        marker = op["NextPartNumberMarker"]
        assert marker == seen[-1]["PartNumber"]
    assert pages == 3
    assert [p["PartNumber"] for p in seen] == [1, 2, 3, 4, 5]
    assert [p["Size"] for p in seen] == [len(b) for b in bodies]
    assert [p["ChecksumCRC32"] for p in seen] == [p["ChecksumCRC32"] for p in parts]


def test_parts_without_checksums_give_only_the_count(module_server: ServerProcess) -> None:
    # S3 lists parts only for an upload made with a checksum algorithm; the gRPC client
    # uploads without one (boto3 always sends a CRC32 now).
    from lightningstor_client import LightningStorClient

    bucket = f"a-{uuid.uuid4().hex[:12]}"
    with LightningStorClient(module_server.grpc_addr, **module_server.admin_keys()) as c:
        c.create_bucket(bucket)
        up = c.create_multipart_upload(bucket, "plain")
        parts = [c.upload_part(bucket, "plain", up.upload_id, n, b"x" * n) for n in (1, 2)]
        c.complete_multipart_upload(bucket, "plain", up.upload_id, parts)
    keys = json.loads((module_server.data_dir / "admin-credentials.json").read_text())
    signer = rawhttp.Signer(
        module_server.ports["s3"], keys["access_key_id"], keys["secret_access_key"]
    )
    headers, _ = signer.sign(
        "GET",
        f"/{bucket}/plain",
        query={"attributes": ""},
        headers={"x-amz-object-attributes": "ObjectParts,ObjectSize"},
    )
    resp = rawhttp.request(
        module_server.ports["s3"], "GET", f"/{bucket}/plain?attributes=", headers
    )
    assert resp.status == 200, resp.body
    assert b"<ObjectParts><PartsCount>2</PartsCount></ObjectParts>" in resp.body
    assert b"<ObjectSize>3</ObjectSize>" in resp.body


def test_grpc_client_pages_parts(client: LightningStorClient, s3: Any, bucket: str) -> None:
    bodies = [b"a" * 10, b"b" * 20, b"c" * 30]
    parts = multipart(s3, bucket, "g", bodies, ChecksumAlgorithm="CRC32C")
    first = client.get_object_attributes(bucket, "g", max_parts=2)
    assert first.object.parts_count == 3 and first.object.checksums.crc32c
    assert [p.part_number for p in first.parts] == [1, 2]
    assert first.next_part_number_marker == 2
    rest = client.get_object_attributes(bucket, "g", part_number_marker=2)
    assert [(p.part_number, p.size) for p in rest.parts] == [(3, 30)]
    assert rest.next_part_number_marker is None
    assert rest.parts[0].checksums.crc32c == parts[2]["ChecksumCRC32C"]


@pytest.mark.parametrize(
    ("attributes", "status", "code"),
    [
        (None, 400, "InvalidRequest"),
        ("", 400, "InvalidRequest"),
        ("ETag,Colour", 400, "InvalidArgument"),
    ],
)
def test_bad_attribute_headers(
    s3_endpoint: str,
    admin_keys: dict[str, str],
    s3: Any,
    bucket: str,
    attributes: str | None,
    status: int,
    code: str,
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    address = s3_endpoint.removeprefix("http://")
    signer = rawhttp.Signer(address, admin_keys["id"], admin_keys["secret"])
    extra = {} if attributes is None else {"x-amz-object-attributes": attributes}
    headers, _ = signer.sign("GET", f"/{bucket}/k", query={"attributes": ""}, headers=extra)
    resp = rawhttp.request(address, "GET", f"/{bucket}/k?attributes=", headers)
    assert (resp.status, resp.code) == (status, code), resp.body


def test_other_methods_on_attributes_change_nothing(
    s3_endpoint: str, admin_keys: dict[str, str], s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"kept")
    address = s3_endpoint.removeprefix("http://")
    signer = rawhttp.Signer(address, admin_keys["id"], admin_keys["secret"])
    for method in ("PUT", "DELETE", "POST"):
        headers, _ = signer.sign(method, f"/{bucket}/k", query={"attributes": ""})
        resp = rawhttp.request(address, method, f"/{bucket}/k?attributes=", headers, b"")
        assert (resp.status, resp.code) == (405, "MethodNotAllowed"), method
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"


def test_aws_cli(
    s3_endpoint: str, admin_keys: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    multipart(s3, bucket, "cli", [b"1" * 100, b"2" * 50], ChecksumAlgorithm="SHA256")
    env = aws_env(admin_keys["id"], admin_keys["secret"], tmp_path)
    aws = AWS
    proc = subprocess.run(
        [aws, "--endpoint-url", s3_endpoint, "s3api", "get-object-attributes",
         "--bucket", bucket, "--key", "cli", "--object-attributes", *ALL, "--max-parts", "1"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ObjectSize"] == 150 and out["StorageClass"] == "STANDARD"
    assert out["Checksum"]["ChecksumType"] == "COMPOSITE"
    parts = out["ObjectParts"]
    assert parts["TotalPartsCount"] == 2 and parts["IsTruncated"] is True
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, 100)]
    assert parts["Parts"][0]["ChecksumSHA256"]
