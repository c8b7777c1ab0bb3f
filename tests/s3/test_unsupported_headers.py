"""Issue 12, item 7: a header that would change protection or visibility (SSE, SSE-C) of a
feature not built yet is refused with 501 NotImplemented on every write path, and nothing is
written; a value that asks for what is already the case passes. Object Lock is built
(tests/objectlock): its headers on a bucket without it are S3's InvalidRequest. ACLs are built
(tests/access/test_acl.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.rawhttp import Signer, request

KEY = b"k" * 32
SSE_C = {
    "SSECustomerAlgorithm": "AES256",
    "SSECustomerKey": KEY.decode(),
}
SOURCE_SSE_C = {
    "CopySourceSSECustomerAlgorithm": "AES256",
    "CopySourceSSECustomerKey": KEY.decode(),
}
NEW_OBJECT = [
    {"BucketKeyEnabled": True},
]
LOCK = [
    {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": "2100-01-01T00:00:00Z"},
    {"ObjectLockLegalHoldStatus": "ON"},
]
HARMLESS = [
    {"ACL": "private"},
    {"ACL": "bucket-owner-full-control"},
    {"ObjectLockLegalHoldStatus": "OFF"},
    {"BucketKeyEnabled": False},
]


def _refused(call: Callable[[], Any], code: str = "NotImplemented", status: int = 501) -> str:
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    assert (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    return str(resp["Error"].get("Header", ""))


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("extra", NEW_OBJECT, ids=lambda e: ",".join(e))
def test_new_object_paths_refuse(s3: Any, bucket: str, extra: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    header = _refused(lambda: s3.put_object(Bucket=bucket, Key="put", Body=b"data", **extra))
    assert header.startswith("x-amz-")
    _refused(lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", **extra))
    _refused(
        lambda: s3.copy_object(
            Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"}, **extra
        )
    )
    assert _keys(s3, bucket) == ["src"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


@pytest.mark.parametrize("extra", LOCK, ids=lambda e: ",".join(e))
def test_lock_headers_on_a_bucket_without_object_lock(
    s3: Any, bucket: str, extra: dict[str, Any]
) -> None:
    """Every new-object path applies Object Lock, so a bucket without it answers as S3 does
    (InvalidRequest, never the header dropped), and nothing is written."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    calls = [
        lambda: s3.put_object(Bucket=bucket, Key="put", Body=b"data", **extra),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", **extra),
        lambda: s3.copy_object(
            Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"}, **extra
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    assert _keys(s3, bucket) == ["src"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def _invalid(call: Callable[[], Any]) -> None:
    _refused(call, "InvalidRequest", 400)


def test_sse_c_on_parts_and_copy_sources_is_read_not_ignored(s3: Any, bucket: str) -> None:
    """SSE-C is served on every path (tests/s3/test_sse_paths.py); a key given for content
    that has none is S3's 400, never dropped, and nothing is written."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = {"Bucket": bucket, "Key": "mp", "UploadId": upload, "PartNumber": 1}
    _invalid(lambda: s3.upload_part(Body=b"x", **part, **SSE_C))
    source = {"Bucket": bucket, "Key": "src"}
    _invalid(lambda: s3.upload_part_copy(CopySource=source, **part, **SSE_C))
    _invalid(lambda: s3.upload_part_copy(CopySource=source, **part, **SOURCE_SSE_C))
    _invalid(lambda: s3.copy_object(Bucket=bucket, Key="c", CopySource=source, **SOURCE_SSE_C))
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload).get("Parts", []) == []
    assert _keys(s3, bucket) == ["src"]


def test_a_hoisted_parameter_is_refused_and_harmless_values_pass(
    address: str, signer: Signer, s3: Any, bucket: str
) -> None:
    hoisted = "x-amz-server-side-encryption-bucket-key-enabled"
    query = {hoisted: "true"}
    headers, _ = signer.sign("PUT", f"/{bucket}/k", query=query)
    resp = request(address, "PUT", f"/{bucket}/k?{hoisted}=true", headers, b"data")
    assert (resp.status, resp.code) == (501, "NotImplemented")
    assert _keys(s3, bucket) == []
    query = {"x-amz-acl": "private"}
    headers, _ = signer.sign("PUT", f"/{bucket}/p", query=query)
    assert request(address, "PUT", f"/{bucket}/p?x-amz-acl=private", headers, b"data").status == 200
    s3.delete_object(Bucket=bucket, Key="p")
    # values that ask for what is already the case pass, as headers and hoisted
    for i, extra in enumerate(HARMLESS):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"data", **extra)
        up = s3.create_multipart_upload(Bucket=bucket, Key=f"m{i}", **extra)
        s3.abort_multipart_upload(Bucket=bucket, Key=f"m{i}", UploadId=up["UploadId"])
        s3.copy_object(
            Bucket=bucket, Key=f"c{i}", CopySource={"Bucket": bucket, "Key": f"k{i}"}, **extra
        )
    n = len(HARMLESS)
    assert sorted(_keys(s3, bucket)) == sorted(
        [f"k{i}" for i in range(n)] + [f"c{i}" for i in range(n)]
    )
    name = f"s3-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(
        Bucket=name, ACL="private", ObjectLockEnabledForBucket=False,
        ObjectOwnership="BucketOwnerEnforced",
    )  # fmt: skip
    s3.delete_bucket(Bucket=name)


def test_mfa_delete_is_refused_and_disabled_passes(s3: Any, bucket: str) -> None:
    config = {"MFADelete": "Enabled", "Status": "Enabled"}
    _refused(lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=config))
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    config = {"MFADelete": "Disabled", "Status": "Enabled"}
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=config)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
