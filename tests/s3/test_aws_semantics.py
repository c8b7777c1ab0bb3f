"""Where S3 clients expect AWS's exact answer (issue 14 §2): re-created buckets, empty
continuation tokens, tag order, Content-Encoding as sent, delete markers, writes while
versioning is suspended, multi-range GETs, conditional deletes, CompleteMultipartUpload (a part
listed twice, a retry, checksums of either type), DeleteBucket with open uploads."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.s3.conftest import make_client
from tests.s3.rawhttp import Signer, request, unsigned_trailer_body
from tests.s3.test_boto3 import error_code

# ---- CreateBucket of a bucket the caller owns --------------------------------------------------


def test_recreating_an_owned_bucket_in_us_east_1_succeeds_and_changes_nothing(
    s3: Any, bucket: str
) -> None:
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    again = s3.create_bucket(Bucket=bucket)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert again["Location"] == f"/{bucket}"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "k", "Value": "v"}]


def test_recreating_an_owned_bucket_elsewhere_is_bucket_already_owned_by_you(
    tmp_path: Path,
) -> None:
    from tests.integration.server import running_server

    env = {"LIGHTNINGSTOR_S3__REGION": "eu-west-1"}
    with running_server(tmp_path / "eu", env=env) as server:
        creds = json.loads((server.data_dir / "admin-credentials.json").read_text())
        s3 = make_client(
            "http://" + server.ports["s3"],
            creds["access_key_id"],
            creds["secret_access_key"],
            region_name="eu-west-1",
        )
        config = {"LocationConstraint": "eu-west-1"}
        s3.create_bucket(Bucket="mine", CreateBucketConfiguration=config)
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket="mine", CreateBucketConfiguration=config)
        s3.close()  # its pooled connection, before the server goes
        assert error_code(exc) == ("BucketAlreadyOwnedByYou", 409)


# ---- ListObjectsV2 ----------------------------------------------------------------------------


def test_an_empty_continuation_token_is_no_token(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    query = {"list-type": "2", "continuation-token": ""}
    headers, _ = signer.sign("GET", f"/{bucket}", query=query)
    resp = request(address, "GET", f"/{bucket}?list-type=2&continuation-token=", headers)
    assert resp.status == 200, resp.body
    assert b"<Key>a</Key>" in resp.body and b"<Key>b</Key>" in resp.body


# ---- tags ---------------------------------------------------------------------------------------

UNSORTED = [
    {"Key": "zeta", "Value": "1"},
    {"Key": "Alpha", "Value": "2"},
    {"Key": "beta", "Value": ""},
]
SORTED = sorted(UNSORTED, key=lambda t: t["Key"])


def test_object_tags_come_back_sorted_by_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="zeta=1&Alpha=2&beta=")
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == SORTED
    s3.put_object_tagging(Bucket=bucket, Key="tagged", Tagging={"TagSet": UNSORTED})
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == SORTED


def test_bucket_tags_come_back_sorted_by_key(s3: Any, bucket: str) -> None:
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": UNSORTED})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == SORTED


# ---- Content-Encoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("aws-chunked, deflate, gzip", "deflate, gzip"),
        ("deflate, aws-chunked, gzip", "deflate, gzip"),
        ("deflate, gzip", "deflate, gzip"),
    ],
)
def test_content_encoding_is_kept_as_sent_without_aws_chunked(
    signer: Signer, address: str, s3: Any, bucket: str, sent: str, stored: str
) -> None:
    data = b"framed"
    framed = "aws-chunked" in sent
    extra = {"x-amz-decoded-content-length": str(len(data))} if framed else {}
    headers, _ = signer.sign("PUT", f"/{bucket}/enc", headers={"content-encoding": sent, **extra})
    body = unsigned_trailer_body([data], None) if framed else data
    resp = request(address, "PUT", f"/{bucket}/enc", headers, body)
    assert resp.status == 200, resp.body
    got = s3.get_object(Bucket=bucket, Key="enc")
    assert got["Body"].read() == data
    assert got["ContentEncoding"] == stored


def new_name() -> str:
    return f"sem-{uuid.uuid4().hex[:12]}"


# ---- delete markers -------------------------------------------------------------------------


def _headers(exc: pytest.ExceptionInfo[ClientError]) -> dict[str, str]:
    headers: dict[str, str] = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    return headers


def test_a_key_under_a_delete_marker_answers_404_naming_the_marker(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="gone")["VersionId"]
    for read in (s3.head_object, s3.get_object):
        with pytest.raises(ClientError) as exc:
            read(Bucket=bucket, Key="gone")
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert _headers(exc)["x-amz-delete-marker"] == "true"
        assert _headers(exc)["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="gone", VersionId=marker)
    assert error_code(exc) == ("MethodNotAllowed", 405)
    assert _headers(exc)["x-amz-delete-marker"] == "true"
    assert _headers(exc)["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as exc:  # a key that never existed: a plain 404
        s3.head_object(Bucket=bucket, Key="never")
    assert "x-amz-delete-marker" not in _headers(exc)


def test_a_null_delete_marker_is_named_null(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="gone", Body=b"y")
    s3.delete_object(Bucket=bucket, Key="gone")  # the null marker replaces the null version
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="gone")
    assert _headers(exc)["x-amz-delete-marker"] == "true"
    assert _headers(exc)["x-amz-version-id"] == "null"


def test_grpc_names_the_delete_marker_a_key_is_under(client: Any) -> None:
    from lightningstor_types.errors import NoSuchKey

    name = new_name()
    client.create_bucket(name)
    client.put_bucket_versioning(name, "Enabled")
    client.put_object(name, "k", b"x")
    marker = client.delete_object(name, "k")
    with pytest.raises(NoSuchKey) as exc:
        client.head_object(name, "k")
    assert exc.value.details["DeleteMarker"] == "true"
    assert exc.value.details["VersionId"] == marker.version_id


# ---- writes while versioning is suspended ---------------------------------------------------


def test_writes_in_a_suspended_bucket_report_no_version_id(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.put_object(Bucket=bucket, Key="v", Body=b"x")["VersionId"] not in ("", "null")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert "VersionId" not in put
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert "VersionId" not in done
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert "VersionId" not in copied
    for key in ("k", "mp", "copy"):
        assert s3.head_object(Bucket=bucket, Key=key)["VersionId"] == "null"


# ---- multi-range GET ----------------------------------------------------------------------------


def test_a_multi_range_get_answers_the_whole_object(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    """S3 serves one range only and ignores a list of ranges (not multipart/byteranges)."""
    data = b"0123456789"
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    headers, _ = signer.sign("GET", f"/{bucket}/r", headers={"range": "bytes=0-1,5-9"})
    resp = request(address, "GET", f"/{bucket}/r", headers)
    assert (resp.status, resp.body) == (200, data)
    assert "content-range" not in resp.headers
    headers, _ = signer.sign("GET", f"/{bucket}/r", headers={"range": "bytes=5-9"})
    resp = request(address, "GET", f"/{bucket}/r", headers)
    assert (resp.status, resp.body, resp.headers["content-range"]) == (
        206,
        b"56789",
        "bytes 5-9/10",
    )


# ---- conditional deletes --------------------------------------------------------------------


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_delete_object_if_match_is_enforced(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert error_code(exc) == ("PreconditionFailed", 412)
    assert _keys(s3, bucket) == ["k"]
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="missing", IfMatch="*")
    assert error_code(exc) == ("NoSuchKey", 404)
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    assert _keys(s3, bucket) == []


def test_delete_object_size_and_time_conditions_are_enforced(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"four")
    modified = s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"][
        "last-modified"
    ]
    refused = [
        {"x-amz-if-match-size": "5"},
        {"x-amz-if-match-last-modified-time": "Mon, 01 Jan 2001 00:00:00 GMT"},
        {"x-amz-if-match-size": "4", "if-match": '"0123456789abcdef0123456789abcdef"'},
    ]
    for headers in refused:
        signed, _ = signer.sign("DELETE", f"/{bucket}/k", headers=headers)
        assert request(address, "DELETE", f"/{bucket}/k", signed).status == 412, headers
    for headers in ({"x-amz-if-match-size": "four"}, {"x-amz-if-match-last-modified-time": "x"}):
        signed, _ = signer.sign("DELETE", f"/{bucket}/k", headers=headers)
        resp = request(address, "DELETE", f"/{bucket}/k", signed)
        assert (resp.status, resp.code) == (400, "InvalidArgument"), headers
    assert _keys(s3, bucket) == ["k"]
    headers = {"x-amz-if-match-size": "4", "x-amz-if-match-last-modified-time": modified}
    signed, _ = signer.sign("DELETE", f"/{bucket}/k", headers=headers)
    assert request(address, "DELETE", f"/{bucket}/k", signed).status == 204
    assert _keys(s3, bucket) == []


def test_delete_objects_entries_with_a_wrong_etag_are_kept(s3: Any, bucket: str) -> None:
    etags = {k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode())["ETag"] for k in "abc"}
    objects = [
        {"Key": "a", "ETag": etags["a"]},
        {"Key": "b", "ETag": etags["a"]},  # not b's
        {"Key": "c", "ETag": etags["c"], "Size": 2},  # c is one byte
    ]
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    assert [d["Key"] for d in resp["Deleted"]] == ["a"]
    assert sorted((e["Key"], e["Code"]) for e in resp["Errors"]) == [
        ("b", "PreconditionFailed"),
        ("c", "PreconditionFailed"),
    ]
    assert _keys(s3, bucket) == ["b", "c"]


def test_a_conditional_delete_in_a_versioned_bucket_checks_the_current_version(
    s3: Any, bucket: str
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["ETag"]
    new = s3.put_object(Bucket=bucket, Key="k", Body=b"new")["ETag"]
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="k", IfMatch=old)
    assert error_code(exc) == ("PreconditionFailed", 412)
    assert len(s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", [])) == 0
    assert s3.delete_object(Bucket=bucket, Key="k", IfMatch=new)["DeleteMarker"] is True
    with pytest.raises(ClientError) as exc:  # the current version is a delete marker now
        s3.delete_object(Bucket=bucket, Key="k", IfMatch="*")
    assert error_code(exc) == ("NoSuchKey", 404)


def test_grpc_delete_object_conditions(client: Any) -> None:
    from lightningstor_types.errors import PreconditionFailed

    name = new_name()
    client.create_bucket(name)
    put = client.put_object(name, "k", b"abc")
    with pytest.raises(PreconditionFailed):
        client.delete_object(name, "k", if_match_size=4)
    with pytest.raises(PreconditionFailed):
        client.delete_object(name, "k", if_match='"00000000000000000000000000000000"')
    assert client.head_object(name, "k").size == 3
    client.delete_object(name, "k", if_match=put.etag, if_match_size=3)
    assert [o.key for o in client.list_objects(name).objects] == []


# ---- CompleteMultipartUpload ------------------------------------------------------------------


def test_a_part_number_listed_twice_is_the_part_its_last_entry_names(s3: Any, bucket: str) -> None:
    """A client that re-sent part 1 and kept both answers lists it twice; S3 takes the part
    once, as the last entry names it (the part as stored: the last upload)."""
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=body)["ETag"]
        for body in (b"first", b"again")
    ]
    parts = [{"PartNumber": 1, "ETag": etag} for etag in etags]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"again"
    assert s3.head_object(Bucket=bucket, Key="mp")["ETag"].endswith('-1"')


def test_a_retried_complete_answers_the_same_result(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts
    )
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts
    )
    for field in ("Bucket", "Key", "ETag", "VersionId", "Location"):
        assert again[field] == first[field], field
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 1
    with pytest.raises(ClientError) as exc:
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)
    assert error_code(exc) == ("NoSuchUpload", 404)


# ---- DeleteBucket ---------------------------------------------------------------------------


def test_delete_bucket_with_only_open_uploads_discards_them(s3: Any) -> None:
    name = new_name()
    s3.create_bucket(Bucket=name)
    upload = s3.create_multipart_upload(Bucket=name, Key="big")["UploadId"]
    s3.upload_part(Bucket=name, Key="big", UploadId=upload, PartNumber=1, Body=b"p" * 1000)
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=name, Key="big", UploadId=upload, PartNumber=2, Body=b"q")
    assert error_code(exc)[1] == 404
    s3.create_bucket(Bucket=name)  # a new bucket of that name has no upload
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)


# ---- multipart checksums --------------------------------------------------------------------

MP_PARTS = [b"a" * (5 * 1024 * 1024), b"tail of the object"]


def _b64(digest: bytes) -> str:
    import base64

    return base64.b64encode(digest).decode()


def _digest(alg: str, data: bytes) -> bytes:
    from lightningstor_types.checksums import ChecksumAlgorithm, new_hasher

    h = new_hasher(ChecksumAlgorithm(alg))
    h.update(data)
    return h.digest()


def _upload_with_checksums(
    s3: Any, bucket: str, key: str, alg: str, kind: str, bodies: list[bytes]
) -> tuple[str, list[dict[str, Any]]]:
    """An upload of ``bodies`` as parts, each sent with its ``alg`` checksum."""
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key=key, ChecksumAlgorithm=alg, ChecksumType=kind
    )["UploadId"]
    parts = []
    for n, body in enumerate(bodies, 1):
        r = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=body,
            ChecksumAlgorithm=alg,
        )  # fmt: skip
        parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{alg}": r[f"Checksum{alg}"]})
    return upload, parts


@pytest.mark.parametrize(
    ("alg", "kind"),
    [(a, "FULL_OBJECT") for a in ("CRC32", "CRC32C", "CRC64NVME")]
    + [(a, "COMPOSITE") for a in ("CRC32", "CRC32C", "SHA1", "SHA256")],
)
def test_multipart_checksums_of_either_type_complete(
    s3: Any, bucket: str, alg: str, kind: str
) -> None:
    """FULL_OBJECT CRCs (what the AWS CLI v2 and the SDKs send for large uploads) and
    COMPOSITE checksums (``<base64>-N``) given at Complete."""
    upload, parts = _upload_with_checksums(s3, bucket, "mp", alg, kind, MP_PARTS)
    if kind == "FULL_OBJECT":
        whole = _b64(_digest(alg, b"".join(MP_PARTS)))
    else:
        digests = b"".join(_digest(alg, body) for body in MP_PARTS)
        whole = f"{_b64(_digest(alg, digests))}-{len(MP_PARTS)}"
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts},
        ChecksumType=kind, **{f"Checksum{alg}": whole},
    )  # fmt: skip
    assert (done[f"Checksum{alg}"], done["ChecksumType"]) == (whole, kind)
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert (head[f"Checksum{alg}"], head["ChecksumType"]) == (whole, kind)


def test_complete_with_another_checksum_type_than_the_upload_is_refused(
    s3: Any, bucket: str
) -> None:
    upload, parts = _upload_with_checksums(s3, bucket, "k", "CRC32", "COMPOSITE", [b"x"])
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": parts},
            ChecksumType="FULL_OBJECT", ChecksumCRC32=parts[0]["ChecksumCRC32"],
        )  # fmt: skip
    assert error_code(exc) == ("InvalidRequest", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload)
