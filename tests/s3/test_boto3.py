"""boto3 (newest, default settings) against a real server process."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

KEYS = [
    "plain.txt",
    "with space.txt",
    "plus+sign.txt",
    "ünïcödé/日本語.txt",
    "a/b/c.txt",
    "%25.txt",
]


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


# ---- buckets ----------------------------------------------------------------------------------


def test_bucket_lifecycle(s3: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:12]}"
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"  # us-east-1: owned, 200
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert error_code(exc) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=name)
    assert error_code(exc) == ("NoSuchBucket", 404)


def test_bucket_versioning_and_tagging(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_code(exc) == ("NoSuchTagSet", 404)
    tags = [{"Key": "team", "Value": "storage"}, {"Key": "empty", "Value": ""}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert sorted(s3.get_bucket_tagging(Bucket=bucket)["TagSet"], key=str) == sorted(tags, key=str)
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=bucket)


# ---- objects ----------------------------------------------------------------------------------


def test_put_get_head(s3: Any, bucket: str) -> None:
    put = s3.put_object(
        Bucket=bucket,
        Key="doc.txt",
        Body=b"hello world",
        ContentType="text/plain",
        ContentDisposition="attachment",
        Metadata={"Color": "blue", "unicode": "ok"},
    )
    assert put["ETag"] == '"' + hashlib.md5(b"hello world").hexdigest() + '"'
    assert put["ChecksumCRC32"]  # boto3's default when_supported checksum, verified and echoed
    got = s3.get_object(Bucket=bucket, Key="doc.txt")
    assert got["Body"].read() == b"hello world"
    assert got["ContentType"] == "text/plain"
    assert got["ContentDisposition"] == "attachment"
    assert got["Metadata"] == {"color": "blue", "unicode": "ok"}
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="doc.txt", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 11
    assert head["ChecksumCRC32"] == put["ChecksumCRC32"]
    override = s3.get_object(
        Bucket=bucket, Key="doc.txt", ResponseContentType="application/x-test",
        ResponseCacheControl="no-store",
    )  # fmt: skip
    assert override["ContentType"] == "application/x-test"
    assert override["CacheControl"] == "no-store"


def test_ranges_and_conditionals(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")["ETag"]
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-5")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == "bytes 2-5/10"
    assert part["Body"].read() == b"2345"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=7-")["Body"].read() == b"789"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", IfMatch='"nope"')
    assert error_code(exc) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == b"0123456789"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="r", Body=b"other", IfNoneMatch="*")
    assert error_code(exc) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="r")["Body"].read() == b"0123456789"


def test_explicit_checksum_algorithms(s3: Any, bucket: str) -> None:
    for alg in ("SHA256", "SHA1", "CRC32C", "CRC64NVME"):
        put = s3.put_object(Bucket=bucket, Key=alg, Body=b"abc" * 1000, ChecksumAlgorithm=alg)
        head = s3.head_object(Bucket=bucket, Key=alg, ChecksumMode="ENABLED")
        assert head[f"Checksum{alg}"] == put[f"Checksum{alg}"]


def test_keys_with_spaces_unicode_and_plus(s3: Any, bucket: str) -> None:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in KEYS:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    v2 = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in v2["Contents"]] == sorted(KEYS)
    assert v2["KeyCount"] == len(KEYS)
    v1 = s3.list_objects(Bucket=bucket)
    assert [o["Key"] for o in v1["Contents"]] == sorted(KEYS)
    assert all(o["Owner"]["ID"] for o in v1["Contents"])
    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(KEYS)
    legacy = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, MaxKeys=4))
    assert [o["Key"] for p in legacy for o in p["Contents"]] == sorted(KEYS)


def test_listing_delimiter_prefix_start_after(s3: Any, bucket: str) -> None:
    for key in ("a/1", "a/2", "b/1", "c", "d e/f"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "d e/"]
    assert [o["Key"] for o in top["Contents"]] == ["c"]
    inner = s3.list_objects_v2(Bucket=bucket, Prefix="a/", FetchOwner=True)
    assert [o["Key"] for o in inner["Contents"]] == ["a/1", "a/2"]
    assert inner["Contents"][0]["Owner"]["ID"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="b/1")
    assert [o["Key"] for o in after["Contents"]] == ["c", "d e/f"]
    assert s3.list_objects_v2(Bucket=bucket, MaxKeys=0)["KeyCount"] == 0


def test_delete_objects_batch(s3: Any, bucket: str) -> None:
    keys = [f"del/{i} +x" for i in range(5)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    result = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in [*keys[:3], "missing"]]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted([*keys[:3], "missing"])
    quiet = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[3:]], "Quiet": True}
    )
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="a=1&b=two%20words")
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "two words")]
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "c", "Value": "3"}]
    assert (
        s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"][
            "x-amz-tagging-count"
        ]
        == "1"
    )
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []


# ---- copy -------------------------------------------------------------------------------------


def test_copy_object(s3: Any, bucket: str) -> None:
    src = "src dir/ü+.txt"
    s3.put_object(Bucket=bucket, Key=src, Body=b"payload", Metadata={"m": "1"}, ContentType="a/b")
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": src})
    assert copied["CopyObjectResult"]["ETag"] == s3.head_object(Bucket=bucket, Key=src)["ETag"]
    got = s3.get_object(Bucket=bucket, Key="copy")
    assert got["Body"].read() == b"payload"
    assert got["Metadata"] == {"m": "1"}
    assert got["ContentType"] == "a/b"
    s3.copy_object(
        Bucket=bucket, Key="replaced", CopySource=f"{bucket}/{src}",
        MetadataDirective="REPLACE", Metadata={"n": "2"}, ContentType="text/plain",
    )  # fmt: skip
    replaced = s3.head_object(Bucket=bucket, Key="replaced")
    assert replaced["Metadata"] == {"n": "2"}
    assert replaced["ContentType"] == "text/plain"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": src},
            CopySourceIfMatch='"0000"',
        )  # fmt: skip
    assert error_code(exc) == ("PreconditionFailed", 412)


def test_copy_versioned_source(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"two")
    copied = s3.copy_object(
        Bucket=bucket, Key="old", CopySource={"Bucket": bucket, "Key": "v", "VersionId": v1}
    )
    assert copied["CopySourceVersionId"] == v1
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"one"


# ---- versioning -------------------------------------------------------------------------------


def test_versions_and_delete_markers(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"2")["VersionId"]
    assert first != second
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    assert error_code(exc) == ("NoSuchKey", 404)
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=first)["Body"].read() == b"1"
    listing = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [second, first]
    assert listing["DeleteMarkers"][0]["VersionId"] == marker["VersionId"]
    assert listing["DeleteMarkers"][0]["IsLatest"] is True
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"2"


# ---- multipart --------------------------------------------------------------------------------


def test_upload_and_download_file_multipart(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(3 * 5 * 1024 * 1024 + 1234)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    s3.upload_file(str(source), bucket, "big file.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big file.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-4"')
    target = tmp_path / "out.bin"
    s3.download_file(bucket, "big file.bin", str(target), Config=config)
    assert target.read_bytes() == data
    part = s3.get_object(Bucket=bucket, Key="big file.bin", PartNumber=2)
    assert part["PartsCount"] == 4
    assert part["ContentLength"] == 5 * 1024 * 1024
    assert part["Body"].read() == data[5 * 1024 * 1024 : 10 * 1024 * 1024]


def test_multipart_low_level(s3: Any, bucket: str) -> None:
    key = "mp/ü +.bin"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, Metadata={"a": "b"})
    uid = upload["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [uid]
    chunk = b"x" * (5 * 1024 * 1024)
    p1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=chunk)
    p2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=b"tail")
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(chunk)), (2, 4)]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["ETag"], "ChecksumCRC32": p1["ChecksumCRC32"]},
            {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumCRC32": p2["ChecksumCRC32"]},
        ]},
    )  # fmt: skip
    assert done["ETag"].endswith('-2"')
    assert done["Key"] == key
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["ContentLength"] == len(chunk) + 4
    assert got["Metadata"] == {"a": "b"}
    # upload part copy with a range, then abort
    other = s3.create_multipart_upload(Bucket=bucket, Key="copy-mp")["UploadId"]
    copied = s3.upload_part_copy(
        Bucket=bucket, Key="copy-mp", UploadId=other, PartNumber=1,
        CopySource={"Bucket": bucket, "Key": key}, CopySourceRange="bytes=0-99",
    )  # fmt: skip
    assert copied["CopyPartResult"]["ETag"]
    assert s3.list_parts(Bucket=bucket, Key="copy-mp", UploadId=other)["Parts"][0]["Size"] == 100
    s3.abort_multipart_upload(Bucket=bucket, Key="copy-mp", UploadId=other)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="copy-mp", UploadId=other)
    assert error_code(exc) == ("NoSuchUpload", 404)


# ---- presigned URLs ---------------------------------------------------------------------------


def test_presigned_put_and_get(s3v4: Any, bucket: str) -> None:
    """SigV4 presigned URLs (boto3 presigns with SigV2 unless told ``signature_version="s3v4"``;
    LightningStor accepts SigV4 only)."""
    s3 = s3v4
    key = "pre signed/ü+.txt"
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    req = urllib.request.Request(put_url, data=b"via presigned", method="PUT")
    with urllib.request.urlopen(req) as resp:
        assert resp.status == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url) as resp:
        assert resp.read() == b"via presigned"


def test_upload_fileobj_of_unknown_size(s3: Any, bucket: str) -> None:
    body = io.BytesIO(os.urandom(256 * 1024))
    s3.upload_fileobj(body, bucket, "fileobj")
    assert s3.head_object(Bucket=bucket, Key="fileobj")["ContentLength"] == 256 * 1024


# ---- HTTPS: where boto3 sends its default CRC32 as an aws-chunked trailer ------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_uploads_send_crc32_trailers(tmp_path: Path) -> None:
    import json

    from tests.integration.server import running_server
    from tests.s3.conftest import make_client

    cert, key = _self_signed(tmp_path)
    env = {
        "LIGHTNINGSTOR_SERVER__TLS__CERT_FILE": str(cert),
        "LIGHTNINGSTOR_SERVER__TLS__KEY_FILE": str(key),
    }
    with running_server(tmp_path / "tls", env=env, tls_ca=cert) as server:
        creds = json.loads((server.data_dir / "admin-credentials.json").read_text())
        s3 = make_client(
            "https://" + server.ports["s3"],
            creds["access_key_id"],
            creds["secret_access_key"],
            verify=str(cert),
        )
        seen: list[str] = []
        s3.meta.events.register(
            "before-send.s3.*",
            lambda request, **_: seen.append(request.headers.get("x-amz-content-sha256", b"")),
        )
        s3.create_bucket(Bucket="tls-bucket")
        put = s3.put_object(Bucket="tls-bucket", Key="k", Body=b"over tls")
        data = os.urandom(6 * 1024 * 1024)
        source = tmp_path / "in.bin"
        source.write_bytes(data)
        config = TransferConfig(multipart_threshold=5 * 1024 * 1024)
        s3.upload_file(str(source), "tls-bucket", "big", Config=config)
        streamed = [v.decode() if isinstance(v, bytes) else v for v in seen]
        assert "STREAMING-UNSIGNED-PAYLOAD-TRAILER" in streamed
        head = s3.head_object(Bucket="tls-bucket", Key="k", ChecksumMode="ENABLED")
        assert head["ChecksumCRC32"] == put["ChecksumCRC32"]
        assert s3.get_object(Bucket="tls-bucket", Key="big")["Body"].read() == data
