"""Malformed input of issue 12 that used to answer 500: ranges past int64, XML in an encoding
Python does not know, a non-ASCII Content-MD5, control characters in ``response-*`` overrides.
Each gets the S3 error and changes nothing."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from tests.s3.rawhttp import Response, Signer, request

BODY = b"0123456789"
HUGE = "99999999999999999999"  # > 2**64


def send(
    signer: Signer,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    unsigned: dict[str, str] | None = None,
    body: bytes = b"",
    payload: str = "UNSIGNED-PAYLOAD",
) -> Response:
    signed, _ = signer.sign(method, path, query=query, headers=headers, payload_hash=payload)
    signed |= unsigned or {}
    target = path + ("?" + Signer.canonical_query(query) if query else "")
    return request(signer.address, method, target, signed, body)


# ---- Range ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "body"),
    [
        (f"bytes=0-{HUGE}", 206, BODY),  # a last byte past the end is the end
        (f"bytes=3-{2**63}", 206, BODY[3:]),
        (f"bytes=-{HUGE}", 206, BODY),  # a suffix longer than the object is all of it
        ("bytes=18446744073709551616-", 416, None),  # a first byte past the end
        (f"bytes={2**63 - 1}-", 416, None),
        (f"bytes={HUGE}-{HUGE}", 416, None),
    ],
)
def test_range_offsets_past_int64(
    s3: Any, bucket: str, signer: Signer, value: str, status: int, body: bytes | None
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    for method in ("GET", "HEAD"):
        resp = send(signer, method, f"/{bucket}/k", headers={"Range": value})
        assert resp.status == status, (method, resp.status, resp.body)
        if method == "GET":
            if body is None:
                assert resp.code == "InvalidRange"
            else:
                assert resp.body == body
                last = 9
                assert resp.headers["content-range"] == f"bytes {10 - len(body)}-{last}/10"


def test_copy_source_range_past_int64(s3: Any, bucket: str, signer: Signer) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=BODY)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    for value in (f"bytes=0-{HUGE}", f"bytes={HUGE}-{HUGE}"):
        resp = send(
            signer,
            "PUT",
            f"/{bucket}/dst",
            query={"partNumber": "1", "uploadId": upload},
            headers={"x-amz-copy-source": f"{bucket}/src", "x-amz-copy-source-range": value},
        )
        assert (resp.status, resp.code) in {(400, "InvalidArgument"), (416, "InvalidRange")}
    assert s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload).get("Parts", []) == []


# ---- XML in an unknown encoding ---------------------------------------------------------------


def _md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


@pytest.mark.parametrize(
    "encoding", ["ebcdic", "unicode_escape", "rot13", "utf-7", "\xe9", "utf-8\x00"]
)
def test_xml_in_an_unknown_encoding_is_malformed(
    s3: Any, bucket: str, signer: Signer, encoding: str
) -> None:
    """An encoding Python does not know, or a codec that is no character set."""
    s3.put_object(Bucket=bucket, Key="k", Body=BODY, Tagging="a=1")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "b", "Value": "2"}]})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"x")["ETag"]
    documents = {
        ("POST", f"/{bucket}/mp", "uploadId", upload): (
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
            f"<ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        ),
        ("POST", f"/{bucket}", "delete", ""): "<Delete><Object><Key>k</Key></Object></Delete>",
        ("PUT", f"/{bucket}/k", "tagging", ""): (
            "<Tagging><TagSet><Tag><Key>c</Key><Value>3</Value></Tag></TagSet></Tagging>"
        ),
        ("PUT", f"/{bucket}", "tagging", ""): (
            "<Tagging><TagSet><Tag><Key>c</Key><Value>3</Value></Tag></TagSet></Tagging>"
        ),
        ("PUT", f"/{bucket}", "versioning", ""): (
            "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
        ),
    }
    for (method, path, param, value), doc in documents.items():
        body = f'<?xml version="1.0" encoding="{encoding}"?>{doc}'.encode("latin-1")
        resp = send(
            signer, method, path, query={param: value}, headers={"Content-MD5": _md5(body)},
            body=body,
        )  # fmt: skip
        assert (resp.status, resp.code) == (400, "MalformedXML"), (method, path, param)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "a", "Value": "1"}]
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "b", "Value": "2"}]
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"] == upload


# ---- Content-MD5 ------------------------------------------------------------------------------


def test_a_non_ascii_content_md5_is_an_invalid_digest(s3: Any, bucket: str, signer: Signer) -> None:
    digest = {"Content-MD5": "é" * 22 + "=="}  # latin-1 on the wire; left unsigned
    resp = send(signer, "PUT", f"/{bucket}/k", unsigned=digest, body=BODY)
    assert (resp.status, resp.code) == (400, "InvalidDigest")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    resp = send(
        signer, "PUT", f"/{bucket}/mp", query={"partNumber": "1", "uploadId": upload},
        unsigned=digest, body=BODY,
    )  # fmt: skip
    assert (resp.status, resp.code) == (400, "InvalidDigest")
    doc = b"<Delete><Object><Key>k</Key></Object></Delete>"
    resp = send(
        signer, "POST", f"/{bucket}", query={"delete": ""}, unsigned=digest,
        body=doc,
    )  # fmt: skip
    assert (resp.status, resp.code) == (400, "InvalidDigest")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload).get("Parts", []) == []


# ---- response-* overrides ---------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f", "\r", "\n"])
@pytest.mark.parametrize(
    "param",
    [
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
    ],
)
def test_a_control_character_in_an_override_is_refused(
    s3: Any, bucket: str, signer: Signer, param: str, char: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    for method in ("GET", "HEAD"):
        resp = send(signer, method, f"/{bucket}/k", query={param: f"a{char}b"})
        assert resp.status == 400, (method, resp.status)
        if method == "GET":
            assert resp.code == "InvalidArgument"
    resp = send(signer, "GET", f"/{bucket}/k", query={param: "a\tb é"})
    assert resp.status == 200
    assert resp.body == BODY


# ---- lengths ----------------------------------------------------------------------------------


def test_a_decoded_content_length_past_int64_is_too_large(
    s3: Any, bucket: str, signer: Signer
) -> None:
    body = b"0\r\n\r\n"  # an unsigned-trailer aws-chunked body with no data
    resp = send(
        signer, "PUT", f"/{bucket}/k", body=body,
        headers={
            "x-amz-decoded-content-length": str(2**63),
            "content-encoding": "aws-chunked",
        },
        payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )  # fmt: skip
    assert (resp.status, resp.code) == (400, "EntityTooLarge")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


# ---- numbers that are digits to str.isdigit but not to int -------------------------------------


def test_superscript_digits_and_numbers_past_int32(s3: Any, bucket: str, signer: Signer) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    resp = send(signer, "GET", f"/{bucket}/k", query={"partNumber": "²"})
    assert (resp.status, resp.code) == (400, "InvalidArgument")
    resp = send(signer, "GET", f"/{bucket}", query={"list-type": "2", "max-keys": "³"})
    assert (resp.status, resp.code) == (400, "InvalidArgument")
    for value in ("²", "99999999999"):
        resp = send(signer, "GET", "/", query={"max-buckets": value})
        assert resp.status == 200, (value, resp.body)
        assert f"<Name>{bucket}</Name>".encode() in resp.body
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    doc = b"<CompleteMultipartUpload><Part><PartNumber>\xc2\xb2</PartNumber><ETag>x</ETag>"
    doc += b"</Part></CompleteMultipartUpload>"
    resp = send(signer, "POST", f"/{bucket}/mp", query={"uploadId": upload}, body=doc)
    assert (resp.status, resp.code) == (400, "InvalidPart")
    assert s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"] == upload
