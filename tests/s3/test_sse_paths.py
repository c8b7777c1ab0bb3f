"""Issue 15 §3: SSE on every write path over S3 — SSE-C and SSE-KMS on multipart uploads, copies
(CopyObject, UploadPartCopy) from and to any encryption (re-sealed, never sharing clear or
differently keyed chunks), the SSE-KMS encryption context, and SSE-KMS as a bucket default."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.server import start_server
from tests.s3.rawhttp import Signer, request
from tests.s3.test_sse import BLOCK, CUSTOMER, OTHER, _body, _error, _files_holding

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess

MIB = 1024 * 1024
SOURCE = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": "k" * 32}
WRONG_SOURCE = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": "w" * 32}
CONTEXT = base64.b64encode(json.dumps({"tenant": "t-1", "purpose": "tests"}).encode()).decode()


def _marker(name: str) -> bytes:
    return name.encode() + b"-" + os.urandom(8).hex().encode()


def _ranges(size: int) -> list[tuple[int, int]]:
    return [(0, 0), (BLOCK - 3, BLOCK + 3), (BLOCK, 2 * BLOCK - 1), (2 * BLOCK - 1, size - 1)]


def test_sse_c_multipart_upload_needs_the_key_on_every_part_and_read(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = _marker("SSE-C-MULTIPART")
    parts = [_body(5 * MIB, marker), _body(3 * BLOCK + 7, marker)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **CUSTOMER)
    assert up["SSECustomerAlgorithm"] == "AES256"
    ids = {"Bucket": bucket, "Key": "mp", "UploadId": up["UploadId"]}
    # a part without the key, or with another, is refused and stores nothing
    assert _error(lambda: s3.upload_part(**ids, PartNumber=1, Body=b"x")) == (
        "InvalidRequest",
        400,
    )
    assert _error(lambda: s3.upload_part(**ids, PartNumber=1, Body=b"x", **OTHER)) == (
        "InvalidRequest",
        400,
    )
    assert s3.list_parts(**ids).get("Parts", []) == []
    done = []
    for number, data in enumerate(parts, 1):
        resp = s3.upload_part(**ids, PartNumber=number, Body=data, **CUSTOMER)
        assert resp["SSECustomerKeyMD5"] == up["SSECustomerKeyMD5"]
        done.append({"PartNumber": number, "ETag": resp["ETag"]})
    # Complete may carry the key (boto3 sends it when given); another one is refused
    assert _error(
        lambda: s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": done}, **OTHER)
    ) == ("InvalidRequest", 400)
    end = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": done}, **CUSTOMER)
    assert end["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-server-side-encryption-customer-algorithm"
    ] == ("AES256")
    body = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="mp", **CUSTOMER)
    assert (got["Body"].read(), got["SSECustomerAlgorithm"]) == (body, "AES256")
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, **CUSTOMER)
    assert second["Body"].read() == parts[1]
    edge = len(parts[0])
    ranged = s3.get_object(
        Bucket=bucket, Key="mp", Range=f"bytes={edge - 5}-{edge + 5}", **CUSTOMER
    )
    assert ranged["Body"].read() == body[edge - 5 : edge + 6]
    assert s3.head_object(Bucket=bucket, Key="mp", **CUSTOMER)["ContentLength"] == len(body)
    for read in (s3.get_object, s3.head_object):
        assert _error(lambda r=read: r(Bucket=bucket, Key="mp"))[1] == 400
        assert _error(lambda r=read: r(Bucket=bucket, Key="mp", **OTHER))[1] == 403
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="mp", PartNumber=1))[1] == 400
    assert _files_holding(module_server.data_dir, marker) == []


def test_sse_kms_multipart_upload_with_key_and_context(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = _marker("SSE-KMS-MULTIPART")
    part = _body(200_000, marker)
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "key-1"}
    assert _error(
        lambda: s3.create_multipart_upload(
            Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId="nope"
        )
    ) == ("KMS.NotFoundException", 400)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", SSEKMSEncryptionContext=CONTEXT, **kms)
    assert (up["ServerSideEncryption"], up["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    assert up["SSEKMSEncryptionContext"] == CONTEXT
    ids = {"Bucket": bucket, "Key": "mp", "UploadId": up["UploadId"]}
    resp = s3.upload_part(**ids, PartNumber=1, Body=part)
    assert (resp["ServerSideEncryption"], resp["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    done = [{"PartNumber": 1, "ETag": resp["ETag"]}]
    end = s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": done})
    assert (end["ServerSideEncryption"], end["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (part, "key-1")
    assert _files_holding(module_server.data_dir, marker) == []


def test_a_copy_to_sse_c_is_readable_only_with_the_new_key(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = _marker("COPY-TO-SSE-C")
    body = _body(3 * BLOCK + 1000, marker)
    s3.put_object(Bucket=bucket, Key="src", Body=body, ServerSideEncryption="AES256")
    source = {"Bucket": bucket, "Key": "src"}
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, **CUSTOMER)
    assert copied["SSECustomerAlgorithm"] == "AES256"
    assert "ServerSideEncryption" not in copied
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="dst"))[1] == 400
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="dst", **OTHER))[1] == 403
    assert s3.get_object(Bucket=bucket, Key="dst", **CUSTOMER)["Body"].read() == body
    for first, last in _ranges(len(body)):
        got = s3.get_object(Bucket=bucket, Key="dst", Range=f"bytes={first}-{last}", **CUSTOMER)
        assert got["Body"].read() == body[first : last + 1], (first, last)
    assert _files_holding(module_server.data_dir, marker) == []


def test_copies_from_an_sse_c_source_need_its_key_and_re_seal(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = _marker("SSE-C-SOURCE")
    body = _body(2 * BLOCK + 99, marker)
    s3.put_object(Bucket=bucket, Key="src", Body=body, **CUSTOMER)
    source = {"Bucket": bucket, "Key": "src"}
    assert _error(lambda: s3.copy_object(Bucket=bucket, Key="d", CopySource=source)) == (
        "InvalidRequest",
        400,
    )
    assert _error(
        lambda: s3.copy_object(Bucket=bucket, Key="d", CopySource=source, **WRONG_SOURCE)
    ) == ("AccessDenied", 403)
    # to another customer key
    other = s3.copy_object(Bucket=bucket, Key="other", CopySource=source, **SOURCE, **OTHER)
    assert (
        other["SSECustomerKeyMD5"]
        != s3.head_object(Bucket=bucket, Key="src", **CUSTOMER)["SSECustomerKeyMD5"]
    )
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="other", **CUSTOMER))[1] == 403
    assert s3.get_object(Bucket=bucket, Key="other", **OTHER)["Body"].read() == body
    # to SSE-KMS with a context, and to nothing asked (SSE-S3: its key stays with the request)
    kms = s3.copy_object(
        Bucket=bucket,
        Key="kms",
        CopySource=source,
        ServerSideEncryption="aws:kms",
        SSEKMSEncryptionContext=CONTEXT,
        **SOURCE,
    )
    assert (kms["ServerSideEncryption"], kms["SSEKMSEncryptionContext"]) == ("aws:kms", CONTEXT)
    plain = s3.copy_object(Bucket=bucket, Key="s3", CopySource=source, **SOURCE)
    assert plain["ServerSideEncryption"] == "AES256"
    for key in ("kms", "s3"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert (
        s3.get_object(Bucket=bucket, Key="kms", Range="bytes=5-70000")["Body"].read()
        == (body[5:70001])
    )
    assert _files_holding(module_server.data_dir, marker) == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["kms", "other", "s3", "src"]


def test_upload_part_copy_between_customer_keys(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = _marker("PART-COPY-SSE-C")
    body = _body(5 * MIB + 3 * BLOCK, marker)
    s3.put_object(Bucket=bucket, Key="src", Body=body, **CUSTOMER)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **OTHER)
    ids = {"Bucket": bucket, "Key": "mp", "UploadId": up["UploadId"]}
    source = {"Bucket": bucket, "Key": "src"}
    first = {"PartNumber": 1, "CopySource": source, "CopySourceRange": f"bytes=0-{5 * MIB - 1}"}
    assert _error(lambda: s3.upload_part_copy(**ids, **first, **OTHER))[1] == 400  # no source key
    assert _error(lambda: s3.upload_part_copy(**ids, **first, **SOURCE))[1] == 400  # no part key
    assert _error(lambda: s3.upload_part_copy(**ids, **first, **OTHER, **WRONG_SOURCE))[1] == 403
    done = []
    for number, (lo, hi) in enumerate([(0, 5 * MIB - 1), (5 * MIB, len(body) - 1)], 1):
        resp = s3.upload_part_copy(
            **ids,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={lo}-{hi}",
            **SOURCE,
            **OTHER,
        )
        assert resp["SSECustomerAlgorithm"] == "AES256"
        done.append({"PartNumber": number, "ETag": resp["CopyPartResult"]["ETag"]})
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": done})
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="mp", **CUSTOMER))[1] == 403
    assert s3.get_object(Bucket=bucket, Key="mp", **OTHER)["Body"].read() == body
    edge = 5 * MIB
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={edge - 2}-{edge + 2}", **OTHER)
    assert got["Body"].read() == body[edge - 2 : edge + 3]
    assert _files_holding(module_server.data_dir, marker) == []


def test_a_copy_to_the_same_encryption_shares_and_to_another_re_seals(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = _marker("CLEAR-COPY")
    body = _body(300_000, marker)
    s3.put_object(Bucket=bucket, Key="clear", Body=body)
    holding = _files_holding(module_server.data_dir, marker)
    assert holding
    source = {"Bucket": bucket, "Key": "clear"}
    s3.copy_object(Bucket=bucket, Key="clear-copy", CopySource=source)  # shares: no new file
    for key, sse in [
        ("s3", {"ServerSideEncryption": "AES256"}),
        ("kms", {"ServerSideEncryption": "aws:kms"}),
    ]:
        resp = s3.copy_object(Bucket=bucket, Key=key, CopySource=source, **sse)
        assert resp["ServerSideEncryption"] == sse["ServerSideEncryption"]
        got = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={BLOCK - 1}-{BLOCK}")
        assert got["Body"].read() == body[BLOCK - 1 : BLOCK + 1]
    assert _files_holding(module_server.data_dir, marker) == holding
    # the same object onto itself with encryption asked is a change, not an illegal self-copy
    itself = {"Bucket": bucket, "Key": "clear-copy"}
    s3.copy_object(
        Bucket=bucket, Key="clear-copy", CopySource=itself, ServerSideEncryption="AES256"
    )
    assert s3.head_object(Bucket=bucket, Key="clear-copy")["ServerSideEncryption"] == "AES256"


def test_sse_kms_encryption_context_is_checked_stored_and_returned(s3: Any, bucket: str) -> None:
    kms = {"ServerSideEncryption": "aws:kms"}
    put = s3.put_object(
        Bucket=bucket, Key="k", Body=b"data", SSEKMSEncryptionContext=CONTEXT, **kms
    )
    assert (put["SSEKMSEncryptionContext"], put["SSEKMSKeyId"]) == (CONTEXT, "key-1")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    bad = [
        "not base64!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b'["a list"]').decode(),
        base64.b64encode(b'{"n": 1}').decode(),
    ]
    for context in bad:
        assert _error(
            lambda c=context: s3.put_object(
                Bucket=bucket, Key="bad", Body=b"x", SSEKMSEncryptionContext=c, **kms
            )
        ) == ("InvalidArgument", 400), context
    # a context without aws:kms
    assert _error(
        lambda: s3.put_object(Bucket=bucket, Key="bad", Body=b"x", SSEKMSEncryptionContext=CONTEXT)
    ) == ("InvalidArgument", 400)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_sse_kms_as_bucket_default(s3: Any, bucket: str, module_server: ServerProcess) -> None:
    marker = _marker("KMS-DEFAULT")
    body = _body(100_000, marker)
    s3.put_object(Bucket=bucket, Key="clear", Body=body)
    holding = _files_holding(module_server.data_dir, marker)
    rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "key-1"}
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": rule}]}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=conf)
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"] == rule
    put = s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert (up["ServerSideEncryption"], up["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"])
    copied = s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "clear"})
    assert (copied["ServerSideEncryption"], copied["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == body
    assert _files_holding(module_server.data_dir, marker) == holding


@pytest.mark.parametrize(
    ("peer", "proto", "forwarded_for", "allowed"),
    [
        ("198.51.100.7", "https", "203.0.113.9", True),  # a trusted proxy that terminated TLS
        ("198.51.100.7", "http", "203.0.113.9", False),  # ... that did not
        ("198.51.100.7", None, "203.0.113.9", False),
        ("203.0.113.50", "https", "203.0.113.9", False),  # not a trusted proxy: its word is not
        ("198.51.100.7", "http", "127.0.0.1", True),  # the proxy says the client is on loopback
    ],
)
def test_sse_c_behind_a_trusted_tls_proxy(
    peer: str, proto: str | None, forwarded_for: str, allowed: bool
) -> None:
    import ipaddress

    from lightningstor_s3.sse_c import customer_key
    from lightningstor_types.errors import InvalidRequest

    headers = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(b"k" * 32).decode(),
        "x-amz-server-side-encryption-customer-key-md5": "checked by the core",
        "x-forwarded-for": forwarded_for,
    }
    if proto is not None:
        headers["x-forwarded-proto"] = proto
    scope = {"scheme": "http", "client": (peer, 40000)}
    proxies = [ipaddress.ip_network("198.51.100.0/24")]
    if allowed:
        assert customer_key(headers, scope, proxies) is not None
    else:
        with pytest.raises(InvalidRequest, match="secure connection"):
            customer_key(headers, scope, proxies)
    source = {k.replace("x-amz-", "x-amz-copy-source-", 1): v for k, v in headers.items()}
    source["x-forwarded-for"], scope["client"] = forwarded_for, (peer, 40000)
    if proto is not None:
        source["x-forwarded-proto"] = proto
    if allowed:
        ck = customer_key(source, scope, proxies, source=True)
        assert ck is not None and ck.key == b"k" * 32
    else:
        with pytest.raises(InvalidRequest):
            customer_key(source, scope, proxies, source=True)


def _raw_key(key: bytes) -> dict[str, str]:
    """SSE-C parameters for a boto3 call it does not encode and digest itself."""
    digest = base64.b64encode(hashlib.md5(key).digest()).decode()
    encoded = base64.b64encode(key).decode()
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": encoded,
        "SSECustomerKeyMD5": digest,
    }


@pytest.mark.parametrize("sealed", ["sse-c", "kms-context"])
def test_a_clear_upload_keeps_a_sealed_sources_part_sealed(
    s3: Any, bucket: str, module_server: ServerProcess, sealed: str
) -> None:
    """UploadPartCopy into an upload without encryption from an SSE-C or KMS-context source:
    the part is re-sealed under the server's keys, never written in clear."""
    marker = _marker("SEALED-INTO-CLEAR")
    body = _body(200_000, marker)
    if sealed == "sse-c":
        s3.put_object(Bucket=bucket, Key="src", Body=body, **CUSTOMER)
        extra: dict[str, Any] = SOURCE
    else:
        kms = {"ServerSideEncryption": "aws:kms", "SSEKMSEncryptionContext": CONTEXT}
        s3.put_object(Bucket=bucket, Key="src", Body=body, **kms)
        extra = {}
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    ids = {"Bucket": bucket, "Key": "mp", "UploadId": up["UploadId"]}
    first = s3.upload_part(**ids, PartNumber=1, Body=b"\0" * (5 * MIB))
    source = {"Bucket": bucket, "Key": "src"}
    second = s3.upload_part_copy(**ids, PartNumber=2, CopySource=source, **extra)
    parts = [
        {"PartNumber": 1, "ETag": first["ETag"]},
        {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]},
    ]
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"\0" * (5 * MIB) + body
    assert _files_holding(module_server.data_dir, marker) == []


def test_object_attributes_of_an_sse_c_object_need_its_key(s3: Any, bucket: str) -> None:
    """Its checksums describe the plaintext: without the key they would confirm a guess."""
    s3.put_object(Bucket=bucket, Key="c", Body=b"guess me", ChecksumAlgorithm="SHA256", **CUSTOMER)
    attrs = {"Bucket": bucket, "Key": "c", "ObjectAttributes": ["Checksum", "ObjectSize"]}
    assert _error(lambda: s3.get_object_attributes(**attrs)) == ("InvalidRequest", 400)
    other = _raw_key(b"o" * 32)
    assert _error(lambda: s3.get_object_attributes(**attrs, **other)) == ("AccessDenied", 403)
    got = s3.get_object_attributes(**attrs, **_raw_key(b"k" * 32))
    assert got["ObjectSize"] == len(b"guess me") and got["Checksum"]["ChecksumSHA256"]


def test_sse_c_over_plain_http_only_from_a_trusted_proxy_that_says_https(
    tmp_path: Path,
) -> None:
    """A server trusting the loopback proxy: a request it forwards for a client afar is SSE-C
    only when X-Forwarded-Proto says https (the rule the unit test above pins, end to end)."""
    config = tmp_path / "proxied.toml"
    config.write_text('[server]\ntrusted_proxies = ["127.0.0.0/8"]\n')
    server = start_server(tmp_path / "proxied", env={"LIGHTNINGSTOR_CONFIG": str(config)})
    try:
        creds = json.loads((server.data_dir / "admin-credentials.json").read_text())
        address = server.ports["s3"]
        signer = Signer(address, creds["access_key_id"], creds["secret_access_key"])
        key = b"p" * 32
        sse = {
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
            "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(
                hashlib.md5(key).digest()
            ).decode(),
        }
        headers, _ = signer.sign("PUT", "/proxied")
        assert request(address, "PUT", "/proxied", headers, b"").status == 200

        def put(name: str, proto: str) -> tuple[int, str]:
            signed, _ = signer.sign("PUT", f"/proxied/{name}", headers=sse)
            forwarded = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": proto}
            resp = request(
                address, "PUT", f"/proxied/{name}", {**signed, **sse, **forwarded}, b"secret"
            )
            return resp.status, resp.code

        assert put("plain", "http") == (400, "InvalidRequest")
        assert put("tls", "https")[0] == 200
        listed, _ = signer.sign("GET", "/proxied")
        listing = request(address, "GET", "/proxied", listed, b"")
        assert b"<Key>tls</Key>" in listing.body and b"<Key>plain</Key>" not in listing.body
    finally:
        server.stop()
