"""POST Object: browser form uploads signed with a SigV4 POST policy (boto3's
generate_presigned_post), posted as multipart/form-data over raw HTTP; each policy violation
answers AWS's error and writes nothing."""

from __future__ import annotations

import base64
import hmac
import json
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import pytest
from urllib3.filepost import encode_multipart_formdata

from tests.s3 import rawhttp

Field = tuple[str, Any]


def post(
    endpoint: str,
    bucket: str,
    fields: dict[str, str] | Sequence[Field],
    file: bytes | None = b"hello form",
    filename: str = "hello.txt",
) -> rawhttp.Response:
    """The form posted as a browser does: the fields in order, the file last."""
    parts: list[Field] = list(fields.items()) if isinstance(fields, dict) else list(fields)
    if file is not None:
        parts.append(("file", (filename, file, "text/plain")))
    body, content_type = encode_multipart_formdata(parts)
    address = endpoint.removeprefix("http://")
    headers = {"content-type": content_type, "content-length": str(len(body))}
    return rawhttp.request(address, "POST", f"/{bucket}", headers, body)


def presigned(s3: Any, bucket: str, key: str, **kw: Any) -> dict[str, str]:
    form = s3.generate_presigned_post(bucket, key, **kw)
    return dict(form["fields"])


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_upload_with_fields_and_201(s3v4: Any, s3_endpoint: str, bucket: str) -> None:
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>"
    extra = {
        "success_action_status": "201",
        "x-amz-meta-colour": "blue",
        "Content-Type": "text/plain; charset=utf-8",
        "tagging": tagging,
    }
    fields = presigned(
        s3v4,
        bucket,
        "uploads/${filename}",
        Fields=extra,
        Conditions=[
            {"success_action_status": "201"},
            ["starts-with", "$x-amz-meta-colour", ""],
            ["starts-with", "$Content-Type", "text/"],
            ["eq", "$tagging", tagging],
            ["starts-with", "$key", "uploads/"],
            ["content-length-range", 1, 1000],
        ],
    )
    resp = post(s3_endpoint, bucket, fields, b"form body", "C:\\Users\\me\\report.txt")
    assert resp.status == 201, resp.body
    doc = ET.fromstring(resp.body)
    ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    assert doc.findtext("s3:Key", namespaces=ns) == "uploads/report.txt"
    assert doc.findtext("s3:Bucket", namespaces=ns) == bucket
    etag = doc.findtext("s3:ETag", namespaces=ns)
    got = s3v4.get_object(Bucket=bucket, Key="uploads/report.txt")
    assert got["Body"].read() == b"form body"
    assert got["ETag"] == etag == resp.headers["etag"]
    assert got["Metadata"] == {"colour": "blue"}
    assert got["ContentType"] == "text/plain; charset=utf-8"
    tags = s3v4.get_object_tagging(Bucket=bucket, Key="uploads/report.txt")["TagSet"]
    assert tags == [{"Key": "team", "Value": "web"}]


def test_default_204_and_redirect(s3v4: Any, s3_endpoint: str, bucket: str) -> None:
    fields = presigned(s3v4, bucket, "plain.txt")
    resp = post(s3_endpoint, bucket, fields)
    assert resp.status == 204 and resp.headers["etag"]
    back = "https://app.example.test/done?x=1"
    fields = presigned(
        s3v4,
        bucket,
        "redirected.txt",
        Fields={"success_action_redirect": back},
        Conditions=[{"success_action_redirect": back}],
    )
    resp = post(s3_endpoint, bucket, fields)
    assert resp.status == 303, resp.body
    target = urlsplit(resp.headers["location"])
    query = parse_qs(target.query)
    assert target.netloc == "app.example.test" and query["x"] == ["1"]
    assert query["bucket"] == [bucket] and query["key"] == ["redirected.txt"]
    assert query["etag"] == [s3v4.head_object(Bucket=bucket, Key="redirected.txt")["ETag"]]
    assert sorted(keys(s3v4, bucket)) == ["plain.txt", "redirected.txt"]


def _policy(fields: dict[str, str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return doc


def test_policy_violations_write_nothing(
    s3v4: Any, s3_endpoint: str, bucket: str, admin_keys: dict[str, str]
) -> None:
    other = f"s3-{uuid.uuid4().hex[:16]}"
    s3v4.create_bucket(Bucket=other)
    ranged = presigned(s3v4, bucket, "k", Conditions=[["content-length-range", 5, 10]])
    good = presigned(s3v4, bucket, "k")
    # A policy that is no JSON, signed properly (a changed policy fails its signature first).
    signer = rawhttp.Signer(s3_endpoint, admin_keys["id"], admin_keys["secret"])
    not_json = base64.b64encode(b"{not json").decode()
    key = signer.key(good["x-amz-date"][:8])

    def signed(policy: bytes) -> dict[str, str]:
        encoded = base64.b64encode(policy).decode()
        sig = hmac.new(key, encoded.encode(), "sha256").hexdigest()
        return {**good, "policy": encoded, "x-amz-signature": sig}

    malformed = signed(b"{not json")
    # found by the fuzzer: a 500 (RecursionError), and a cut connection (a lone surrogate in
    # the error message)
    deep = signed(b'{"expiration": "2099-01-01T00:00:00Z", "conditions": ' + b"[" * 5000 + b"}")
    surrogate = signed(b'{"expiration": "\\ud800", "conditions": []}')
    cases: list[tuple[str, Any, bytes | None, int, str]] = [
        ("expired", presigned(s3v4, bucket, "k", ExpiresIn=-60), b"x", 403, "AccessDenied"),
        ("other key", {**good, "key": "other"}, b"x", 403, "AccessDenied"),
        ("extra field", {**good, "x-amz-meta-a": "b"}, b"x", 403, "AccessDenied"),
        ("too large", ranged, b"x" * 11, 400, "EntityTooLarge"),
        ("too small", ranged, b"x" * 4, 400, "EntityTooSmall"),
        ("bad signature", {**good, "x-amz-signature": "0" * 64}, b"x", 403,
         "SignatureDoesNotMatch"),
        ("no file", good, None, 400, "IncorrectNumberOfFilesInPostRequest"),
        ("bad policy", malformed, b"x", 400, "InvalidPolicyDocument"),
        ("deep policy", deep, b"x", 400, "InvalidPolicyDocument"),
        ("surrogate in policy", surrogate, b"x", 400, "InvalidPolicyDocument"),
        ("changed policy", {**good, "policy": not_json}, b"x", 403, "SignatureDoesNotMatch"),
        ("no key", {k: v for k, v in good.items() if k != "key"}, b"x", 400, "InvalidArgument"),
        ("anonymous", {"key": "k"}, b"x", 403, "AccessDenied"),
    ]  # fmt: skip
    for name, fields, file, status, code in cases:
        resp = post(s3_endpoint, bucket, fields, file)
        assert (resp.status, resp.code) == (status, code), (name, resp.body)
    # A policy signed for one bucket, posted to another.
    resp = post(s3_endpoint, other, good)
    assert (resp.status, resp.code) == (403, "AccessDenied")
    assert keys(s3v4, bucket) == [] and keys(s3v4, other) == []
    # A form that is not multipart/form-data at all.
    body = b"--x\r\nbroken"
    resp = rawhttp.request(
        s3_endpoint.removeprefix("http://"),
        "POST",
        f"/{bucket}",
        {"content-type": "multipart/form-data; boundary=x", "content-length": str(len(body))},
        body,
    )
    assert (resp.status, resp.code) == (400, "MalformedPOSTRequest")
    # Within range: accepted.
    assert post(s3_endpoint, bucket, ranged, b"x" * 7).status == 204
    assert keys(s3v4, bucket) == ["k"]


def test_checksum_field_is_verified(s3v4: Any, s3_endpoint: str, bucket: str) -> None:
    good = rawhttp.crc32_b64(b"hello form")
    fields = presigned(
        s3v4,
        bucket,
        "sum.txt",
        Fields={"x-amz-checksum-crc32": good},
        Conditions=[["starts-with", "$x-amz-checksum-crc32", ""]],
    )
    assert post(s3_endpoint, bucket, fields).status == 204
    head = s3v4.head_object(Bucket=bucket, Key="sum.txt", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == good
    resp = post(s3_endpoint, bucket, fields, b"other body")
    assert (resp.status, resp.code) == (400, "BadDigest")
    assert s3v4.get_object(Bucket=bucket, Key="sum.txt")["Body"].read() == b"hello form"


def test_a_bucket_key_field_is_refused(s3v4: Any, s3_endpoint: str, bucket: str) -> None:
    """A form's bucket-key field is refused as PutObject's header is (501), never dropped."""
    name, value = "x-amz-server-side-encryption-bucket-key-enabled", "true"
    fields = presigned(
        s3v4, bucket, "guarded.txt", Fields={name: value}, Conditions=[{name: value}]
    )
    resp = post(s3_endpoint, bucket, fields)
    assert (resp.status, resp.code) == (501, "NotImplemented")
    assert keys(s3v4, bucket) == []


def test_an_acl_field_applies_as_the_header_does(s3v4: Any, s3_endpoint: str, bucket: str) -> None:
    """acl=public-read in a form makes the object readable by anyone (as x-amz-acl does);
    acl=private keeps it the owner's; a grant field names its grantee; a bad value is S3's 400
    and writes nothing. (An anonymous reader names the bucket with its org, default:bucket.)"""
    address = s3_endpoint.removeprefix("http://")
    for key, acl in (("public.txt", "public-read"), ("private.txt", "private")):
        fields = presigned(s3v4, bucket, key, Fields={"acl": acl}, Conditions=[{"acl": acl}])
        assert post(s3_endpoint, bucket, fields, key.encode()).status == 204
    anonymous = rawhttp.request(address, "GET", f"/default%3A{bucket}/public.txt", {}, b"")
    assert (anonymous.status, anonymous.body) == (200, b"public.txt")
    assert (
        rawhttp.request(address, "GET", f"/default%3A{bucket}/private.txt", {}, b"").status == 403
    )
    grants = s3v4.get_object_acl(Bucket=bucket, Key="public.txt")["Grants"]
    assert {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ",
    } in grants
    everyone = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'
    grant = {"x-amz-grant-read": everyone}
    fields = presigned(s3v4, bucket, "granted.txt", Fields=grant, Conditions=[grant])
    assert post(s3_endpoint, bucket, fields).status == 204
    assert (
        rawhttp.request(address, "GET", f"/default%3A{bucket}/granted.txt", {}, b"").status == 200
    )
    bad = {"acl": "no-such-acl"}
    fields = presigned(s3v4, bucket, "bad.txt", Fields=bad, Conditions=[bad])
    assert post(s3_endpoint, bucket, fields).status == 400
    assert "bad.txt" not in keys(s3v4, bucket)


def test_lock_fields_apply_as_the_headers_do(s3v4: Any, s3_endpoint: str) -> None:
    """Object Lock fields lock the new version (with a checksum, as PutObject's headers need);
    on a bucket without Object Lock, or without a checksum, they are S3's 400 and write
    nothing."""
    from datetime import UTC, datetime, timedelta

    from botocore.exceptions import ClientError

    until = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    lock = {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": until}
    plain = f"plain-{uuid.uuid4().hex[:12]}"
    s3v4.create_bucket(Bucket=plain)
    fields = presigned(s3v4, plain, "locked.txt", Fields=lock, Conditions=[lock])
    resp = post(s3_endpoint, plain, fields)
    assert (resp.status, resp.code) == (400, "InvalidRequest")
    assert keys(s3v4, plain) == []

    locked = f"locked-{uuid.uuid4().hex[:12]}"
    s3v4.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    fields = presigned(s3v4, locked, "locked.txt", Fields=lock, Conditions=[lock])
    resp = post(s3_endpoint, locked, fields)
    assert (resp.status, resp.code) == (400, "InvalidRequest")  # no Content-MD5 nor checksum
    assert keys(s3v4, locked) == []
    body = b"locked form"
    crc = {**lock, "x-amz-checksum-crc32": base64.b64encode(_crc32(body)).decode()}
    fields = presigned(s3v4, locked, "locked.txt", Fields=crc, Conditions=[crc])
    assert post(s3_endpoint, locked, fields, body).status == 204
    version = s3v4.head_object(Bucket=locked, Key="locked.txt")["VersionId"]
    retention = s3v4.get_object_retention(Bucket=locked, Key="locked.txt")["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    with pytest.raises(ClientError) as refused:
        s3v4.delete_object(Bucket=locked, Key="locked.txt", VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    s3v4.delete_object(
        Bucket=locked, Key="locked.txt", VersionId=version, BypassGovernanceRetention=True
    )


def _crc32(data: bytes) -> bytes:
    import zlib

    return zlib.crc32(data).to_bytes(4, "big")


def test_an_sse_s3_field_seals_the_upload(s3v4: Any, s3_endpoint: str, bucket: str) -> None:
    """x-amz-server-side-encryption: AES256 in a form takes effect as PutObject's header does."""
    sse = {"x-amz-server-side-encryption": "AES256"}
    fields = presigned(s3v4, bucket, "sealed.txt", Fields=sse, Conditions=[sse])
    assert post(s3_endpoint, bucket, fields, b"sealed form").status == 204
    got = s3v4.get_object(Bucket=bucket, Key="sealed.txt")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (b"sealed form", "AES256")


def test_sse_c_and_sse_kms_fields_seal_a_form_upload(
    s3v4: Any, s3_endpoint: str, bucket: str
) -> None:
    """A form's SSE-C fields (AWS's POST Object takes them) seal the upload under the key,
    which every read then needs; its SSE-KMS fields name the key and context; bad values are
    S3's 400 and write nothing."""
    import hashlib

    from botocore.exceptions import ClientError

    key = b"f" * 32
    customer = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
            hashlib.md5(key).digest()
        ).decode(),
    }
    fields = presigned(
        s3v4, bucket, "c.txt", Fields=customer, Conditions=[{n: v} for n, v in customer.items()]
    )
    assert post(s3_endpoint, bucket, fields, b"sealed by the customer").status == 204
    with pytest.raises(ClientError) as info:
        s3v4.get_object(Bucket=bucket, Key="c.txt")
    assert info.value.response["Error"]["Code"] == "InvalidRequest"
    got = s3v4.get_object(
        Bucket=bucket, Key="c.txt", SSECustomerAlgorithm="AES256", SSECustomerKey=key.decode()
    )
    assert got["Body"].read() == b"sealed by the customer"
    context = base64.b64encode(json.dumps({"form": "yes"}).encode()).decode()
    kms = {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "key-1",
        "x-amz-server-side-encryption-context": context,
    }
    fields = presigned(
        s3v4, bucket, "k.txt", Fields=kms, Conditions=[{n: v} for n, v in kms.items()]
    )
    assert post(s3_endpoint, bucket, fields, b"kms form").status == 204
    got = s3v4.get_object(Bucket=bucket, Key="k.txt")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (b"kms form", "key-1")
    bad = {**customer, "x-amz-server-side-encryption-customer-key-md5": "AAAAAAAAAAAAAAAAAAAAAA=="}
    fields = presigned(
        s3v4, bucket, "bad.txt", Fields=bad, Conditions=[{n: v} for n, v in bad.items()]
    )
    resp = post(s3_endpoint, bucket, fields)
    assert (resp.status, resp.code) == (400, "InvalidArgument")
    assert keys(s3v4, bucket) == ["c.txt", "k.txt"]
