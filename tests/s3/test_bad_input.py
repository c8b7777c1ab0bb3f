"""The bad input of issue 5: each gets the code and status AWS answers, and changes nothing."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.s3.rawhttp import (
    STREAMING,
    STREAMING_UNSIGNED_TRAILER,
    Signer,
    expect_continue,
    later,
    request,
    unsigned_trailer_body,
)


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def assert_error(exc: pytest.ExceptionInfo[ClientError], code: str, status: int) -> None:
    resp = exc.value.response
    assert (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)


# ---- authentication ---------------------------------------------------------------------------


def test_missing_authorization(address: str, s3: Any, bucket: str) -> None:
    resp = request(address, "PUT", f"/{bucket}/anon", {"Host": address}, b"data")
    assert (resp.status, resp.code) == (403, "AccessDenied")
    assert resp.headers["x-amz-request-id"]
    assert request(address, "GET", "/", {"Host": address}).code == "AccessDenied"
    assert keys(s3, bucket) == []


@pytest.mark.parametrize(
    ("authorization", "code", "status"),
    [
        ("AWS4-HMAC-SHA256 Credential=garbage", "AuthorizationHeaderMalformed", 400),
        ("AWS4-HMAC-SHA256 nonsense", "AuthorizationHeaderMalformed", 400),
        ("Bearer abc", "InvalidArgument", 400),
    ],
)
def test_garbled_authorization(
    address: str, s3: Any, bucket: str, authorization: str, code: str, status: int
) -> None:
    headers = {"Host": address, "Authorization": authorization, "x-amz-date": "20240101T000000Z"}
    resp = request(address, "PUT", f"/{bucket}/garbled", headers, b"data")
    assert (resp.status, resp.code) == (status, code)
    assert keys(s3, bucket) == []


def test_wrong_secret(address: str, admin_keys: dict[str, str], s3: Any, bucket: str) -> None:
    bad = Signer(address, admin_keys["id"], "not-the-secret")
    headers, _ = bad.sign("PUT", f"/{bucket}/k")
    resp = request(address, "PUT", f"/{bucket}/k", headers, b"data")
    assert (resp.status, resp.code) == (403, "SignatureDoesNotMatch")
    assert keys(s3, bucket) == []


def test_unknown_access_key(address: str, s3: Any, bucket: str) -> None:
    headers, _ = Signer(address, "AKIDUNKNOWN0000000000", "x").sign("PUT", f"/{bucket}/k")
    resp = request(address, "PUT", f"/{bucket}/k", headers, b"data")
    assert (resp.status, resp.code) == (403, "InvalidAccessKeyId")
    assert keys(s3, bucket) == []


def test_clock_skew(signer: Signer, address: str, s3: Any, bucket: str) -> None:
    headers, _ = signer.sign("PUT", f"/{bucket}/k", when=later(-20 * 60))
    resp = request(address, "PUT", f"/{bucket}/k", headers, b"data")
    assert (resp.status, resp.code) == (403, "RequestTimeTooSkewed")
    assert b"<ServerTime>" in resp.body
    assert keys(s3, bucket) == []


@pytest.mark.parametrize("when", [-3600, 3600], ids=["expired", "future"])
def test_presigned_outside_its_validity(
    signer: Signer, address: str, s3: Any, bucket: str, when: int
) -> None:
    target = signer.presign("PUT", f"/{bucket}/pre", expires=60, when=later(when))
    resp = request(address, "PUT", target, {"Host": address}, b"data")
    assert (resp.status, resp.code) == (403, "AccessDenied")
    assert keys(s3, bucket) == []
    fresh = signer.presign("PUT", f"/{bucket}/pre", expires=60)
    assert request(address, "PUT", fresh, {"Host": address}, b"data").status == 200


def test_expect_continue_is_answered_after_authentication(
    signer: Signer, admin_keys: dict[str, str], address: str, s3: Any, bucket: str
) -> None:
    bad = Signer(address, admin_keys["id"], "wrong")
    headers, _ = bad.sign("PUT", f"/{bucket}/e")
    statuses = expect_continue(address, f"/{bucket}/e", headers, b"body")
    assert statuses == [b"HTTP/1.1 403 Forbidden"]
    headers, _ = signer.sign("PUT", f"/{bucket}/e")
    statuses = expect_continue(address, f"/{bucket}/e", headers, b"body")
    assert statuses == [b"HTTP/1.1 100 Continue", b"HTTP/1.1 200 OK"]
    assert keys(s3, bucket) == ["e"]


# ---- aws-chunked bodies -----------------------------------------------------------------------


def _streaming_put(
    signer: Signer, address: str, bucket: str, chunks: list[bytes], **kw: Any
) -> Any:
    size = sum(map(len, chunks))
    headers, seed = signer.sign(
        "PUT",
        f"/{bucket}/chunked",
        headers={"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(size)},
        payload_hash=STREAMING,
    )
    body = signer.chunked_body(chunks, seed, headers["x-amz-date"], **kw)
    return request(address, "PUT", f"/{bucket}/chunked", headers, body)


def test_chunk_signatures(signer: Signer, address: str, s3: Any, bucket: str) -> None:
    chunks = [b"a" * 8192, b"b" * 100]
    ok = _streaming_put(signer, address, bucket, chunks)
    assert ok.status == 200
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == b"".join(chunks)
    s3.delete_object(Bucket=bucket, Key="chunked")
    bad = _streaming_put(signer, address, bucket, chunks, corrupt_chunk=1)
    assert (bad.status, bad.code) == (403, "SignatureDoesNotMatch")
    assert keys(s3, bucket) == []


def test_truncated_chunk(signer: Signer, address: str, s3: Any, bucket: str) -> None:
    headers, seed = signer.sign(
        "PUT",
        f"/{bucket}/chunked",
        headers={"content-encoding": "aws-chunked", "x-amz-decoded-content-length": "9000"},
        payload_hash=STREAMING,
    )
    body = signer.chunked_body([b"a" * 9000], seed, headers["x-amz-date"])
    cut = body[: body.index(b"\r\n") + 2 + 4000]  # the chunk header, then 4000 of its 9000 bytes
    resp = request(address, "PUT", f"/{bucket}/chunked", headers, cut)
    assert (resp.status, resp.code) == (400, "IncompleteBody")
    assert keys(s3, bucket) == []


@pytest.mark.parametrize(
    ("trailer", "code"),
    [("x-amz-checksum-crc32:AAAAAA==", "BadDigest"), (None, "MalformedTrailerError")],
    ids=["wrong", "missing"],
)
def test_trailer_checksum(
    signer: Signer, address: str, s3: Any, bucket: str, trailer: str | None, code: str
) -> None:
    data = b"trailer body"
    headers, _ = signer.sign(
        "PUT",
        f"/{bucket}/t",
        headers={
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-trailer": "x-amz-checksum-crc32",
        },
        payload_hash=STREAMING_UNSIGNED_TRAILER,
    )
    resp = request(address, "PUT", f"/{bucket}/t", headers, unsigned_trailer_body([data], trailer))
    assert (resp.status, resp.code) == (400, code)
    assert keys(s3, bucket) == []


# ---- request documents ------------------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Delete [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""


@pytest.mark.parametrize(
    "document", [b"<Delete><Object><Key>k</Key>", XXE, b"<Delete></Delete>"], ids=str
)
def test_malformed_and_hostile_xml(
    signer: Signer, address: str, s3: Any, bucket: str, document: bytes
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"keep")
    md5 = base64.b64encode(hashlib.md5(document).digest()).decode()
    headers, _ = signer.sign(
        "POST",
        f"/{bucket}",
        query={"delete": ""},
        headers={"content-md5": md5},
        payload_hash=hashlib.sha256(document).hexdigest(),
    )
    resp = request(address, "POST", f"/{bucket}?delete=", headers, document)
    assert (resp.status, resp.code) == (400, "MalformedXML")
    assert keys(s3, bucket) == ["k"]


def test_malformed_tagging_changes_nothing(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    document = b"<Tagging><TagSet><Tag><Key>b</Key>"
    headers, _ = signer.sign(
        "PUT", f"/{bucket}", query={"tagging": ""},
        payload_hash=hashlib.sha256(document).hexdigest(),
    )  # fmt: skip
    resp = request(address, "PUT", f"/{bucket}?tagging=", headers, document)
    assert (resp.status, resp.code) == (400, "MalformedXML")
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "a", "Value": "1"}]


def test_delete_objects_without_integrity_header(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"keep")
    document = b"<Delete><Object><Key>k</Key></Object></Delete>"
    headers, _ = signer.sign(
        "POST", f"/{bucket}", query={"delete": ""},
        payload_hash=hashlib.sha256(document).hexdigest(),
    )  # fmt: skip
    resp = request(address, "POST", f"/{bucket}?delete=", headers, document)
    assert (resp.status, resp.code) == (400, "InvalidRequest")
    assert keys(s3, bucket) == ["k"]


def test_oversized_delete_objects(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k0", Body=b"keep")
    objects = [{"Key": f"k{i}"} for i in range(1001)]
    with pytest.raises(ClientError) as exc:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    assert_error(exc, "MalformedXML", 400)
    assert keys(s3, bucket) == ["k0"]


# ---- objects, buckets, routing ----------------------------------------------------------------


def test_invalid_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=100-200")
    assert_error(exc, "InvalidRange", 416)


def test_copy_source_missing(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})
    assert_error(exc, "NoSuchKey", 404)
    assert keys(s3, bucket) == []
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": "no-such-b", "Key": "x"})
    assert_error(exc, "NoSuchBucket", 404)


@pytest.mark.parametrize("name", ["ab", "Upper_Case", "-leading", "a..b", "192.168.1.1"])
def test_invalid_bucket_name(s3: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert_error(exc, "InvalidBucketName", 400)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize(
    ("method", "query"),
    [("GET", "logging"), ("PUT", "notification"), ("GET", "website")],
)
def test_unimplemented_subresource(
    signer: Signer, address: str, bucket: str, method: str, query: str
) -> None:
    headers, _ = signer.sign(method, f"/{bucket}", query={query: ""})
    resp = request(
        address, method, f"/{bucket}?{query}=", headers, b"" if method == "PUT" else None
    )
    assert (resp.status, resp.code) == (501, "NotImplemented")
    assert resp.headers["content-type"] == "application/xml"


def test_method_not_allowed(signer: Signer, address: str, bucket: str) -> None:
    headers, _ = signer.sign("PATCH", f"/{bucket}/k")
    resp = request(address, "PATCH", f"/{bucket}/k", headers)
    assert (resp.status, resp.code) == (405, "MethodNotAllowed")


def test_error_document_shape(signer: Signer, address: str, bucket: str) -> None:
    key = "missing key+ü"
    path = f"/{bucket}/{quote(key)}"
    headers, _ = signer.sign("GET", path)
    resp = request(address, "GET", path, headers)
    assert (resp.status, resp.code) == (404, "NoSuchKey")
    assert b"<RequestId>" + resp.headers["x-amz-request-id"].encode() in resp.body
    assert resp.headers["x-amz-id-2"]
    assert b"<Resource>" in resp.body
