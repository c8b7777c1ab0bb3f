"""Issue 15 §3: SSE-S3 over S3. The content is stored sealed (AES-256-GCM blocks under a data
key per chunk), reads open only the blocks a range touches, and a damaged chunk is never
served; headers report the encryption as AWS does."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError

from lightningstor_types.errors import InvalidRequest
from tests.integration.server import running_server
from tests.s3.conftest import make_client
from tests.s3.rawhttp import Signer, request

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess

BLOCK = 64 * 1024


def _body(size: int, marker: bytes) -> bytes:
    """Recognizable, non-repeating content: a marker every 4 KiB between random bytes."""
    out = bytearray()
    while len(out) < size:
        out += marker + os.urandom(4096 - len(marker))
    return bytes(out[:size])


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _error(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("size", [100, 3 * 1024 * 1024 + 5], ids=["inline-size", "chunked"])
def test_sse_s3_object_reads_back_and_no_plaintext_is_on_disk(
    s3: Any, bucket: str, module_server: ServerProcess, size: int
) -> None:
    secret_marker = b"SSE-PLAINTEXT-" + os.urandom(8).hex().encode()
    clear_marker = b"CLEAR-PLAINTEXT-" + os.urandom(8).hex().encode()
    body = _body(size, secret_marker)
    put = s3.put_object(Bucket=bucket, Key="secret", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    s3.put_object(Bucket=bucket, Key="clear", Body=_body(size, clear_marker))
    got = s3.get_object(Bucket=bucket, Key="secret")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key="secret")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="clear")
    # The grep finds the unencrypted object (chunk file or metadata), so it would find the other.
    assert _files_holding(module_server.data_dir, clear_marker)
    assert _files_holding(module_server.data_dir, secret_marker) == []


def test_range_reads_across_sealed_block_boundaries(s3: Any, bucket: str) -> None:
    body = _body(3 * BLOCK + 1000, b"range")
    s3.put_object(Bucket=bucket, Key="r", Body=body, ServerSideEncryption="AES256")
    for first, last in [
        (0, 0),
        (BLOCK - 5, BLOCK + 5),
        (BLOCK - 1, BLOCK),
        (BLOCK, 2 * BLOCK - 1),
        (10, 3 * BLOCK + 10),
        (3 * BLOCK, len(body) - 1),
        (len(body) - 1, len(body) + 50),
    ]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == body[first : last + 1], (first, last)
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=-70000")
    assert got["Body"].read() == body[-70000:]


def test_a_corrupted_sealed_chunk_is_never_served(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = b"CORRUPT-ME-" + os.urandom(8).hex().encode()
    body = _body(2 * 1024 * 1024, marker)
    before = {p for p in module_server.data_dir.rglob("*") if p.is_file()}
    s3.put_object(Bucket=bucket, Key="c", Body=body, ServerSideEncryption="AES256")
    new = [p for p in module_server.data_dir.rglob("*") if p.is_file() and p not in before]
    chunk = max(new, key=lambda p: p.stat().st_size)  # the sealed chunk (2 MiB + tags)
    assert chunk.stat().st_size > len(body)
    data = bytearray(chunk.read_bytes())
    data[BLOCK + 17] ^= 0x01  # one bit of the second sealed block
    chunk.write_bytes(bytes(data))
    served = b""
    with pytest.raises((ClientError, ResponseStreamingError)):  # an error, or the body cut
        served = s3.get_object(Bucket=bucket, Key="c")["Body"].read()
    assert served != body


def test_bad_sse_values_are_refused_and_nothing_is_written(
    s3: Any, bucket: str, address: str, signer: Signer
) -> None:
    put = {"Bucket": bucket, "Key": "k", "Body": b"data"}
    assert _error(lambda: s3.put_object(**put, ServerSideEncryption="aws:kms:dsse")) == (
        "NotImplemented",
        501,
    )
    assert _error(
        lambda: s3.put_object(**put, ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
    ) == ("KMS.NotFoundException", 400)
    assert _error(lambda: s3.put_object(**put, SSEKMSKeyId="key-1"))[1] == 400  # no aws:kms
    headers, _ = signer.sign(
        "PUT", f"/{bucket}/k", headers={"x-amz-server-side-encryption": "AES128"}
    )
    resp = request(address, "PUT", f"/{bucket}/k", headers, b"data")
    assert (resp.status, resp.code) == (400, "InvalidArgument")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_copy_of_an_sse_s3_object_reads_back_and_stays_encrypted(s3: Any, bucket: str) -> None:
    body = _body(300_000, b"copy")
    s3.put_object(Bucket=bucket, Key="src", Body=body, ServerSideEncryption="AES256")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (body, "AES256")


def test_sse_s3_multipart_upload_seals_every_part(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = b"MULTIPART-SECRET-" + os.urandom(8).hex().encode()
    parts = [_body(5 * 1024 * 1024, marker), _body(70_000, marker)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="AES256")
    assert up["ServerSideEncryption"] == "AES256"
    done = []
    for number, data in enumerate(parts, 1):
        resp = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=number, Body=data
        )
        assert resp["ServerSideEncryption"] == "AES256"
        done.append({"PartNumber": number, "ETag": resp["ETag"]})
    clear_marker = b"CLEAR-SOURCE-" + os.urandom(8).hex().encode()
    clear = _body(300_000, clear_marker)
    s3.put_object(Bucket=bucket, Key="clear-src", Body=clear)
    holding = _files_holding(module_server.data_dir, clear_marker)
    assert holding
    copy = {"Bucket": bucket, "Key": "mp", "UploadId": up["UploadId"], "PartNumber": 3}
    # a clear source's part is re-sealed into the encrypted upload, not shared in clear
    resp = s3.upload_part_copy(CopySource={"Bucket": bucket, "Key": "clear-src"}, **copy)
    assert resp["ServerSideEncryption"] == "AES256"
    assert _files_holding(module_server.data_dir, clear_marker) == holding
    # completed of parts 1 and 3 (the copy), so that only the last is under 5 MiB
    done = [done[0], {"PartNumber": 3, "ETag": resp["CopyPartResult"]["ETag"]}]
    parts = [parts[0], clear]
    end = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": done}
    )
    assert end["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (b"".join(parts), "AES256")
    ranged = s3.get_object(
        Bucket=bucket, Key="mp", Range=f"bytes={len(parts[0]) - 3}-{len(parts[0]) + 3}"
    )
    assert ranged["Body"].read() == b"".join(parts)[len(parts[0]) - 3 : len(parts[0]) + 4]
    assert _files_holding(module_server.data_dir, marker) == []


def _default(algorithm: str, **rule: Any) -> dict[str, Any]:
    by_default = {"SSEAlgorithm": algorithm}
    return {"Rules": [{"ApplyServerSideEncryptionByDefault": by_default, **rule}]}


def test_bucket_default_encryption_is_set_read_applied_and_deleted(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    assert _error(lambda: s3.get_bucket_encryption(Bucket=bucket)) == (
        "ServerSideEncryptionConfigurationNotFoundError",
        404,
    )
    clear_marker = b"CLEAR-BEFORE-" + os.urandom(8).hex().encode()
    clear = _body(200_000, clear_marker)
    s3.put_object(Bucket=bucket, Key="before", Body=clear)
    conf = _default("AES256", BucketKeyEnabled=True)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=conf)
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert got["Rules"] == conf["Rules"]
    marker = b"DEFAULT-SEALED-" + os.urandom(8).hex().encode()
    put = s3.put_object(Bucket=bucket, Key="k", Body=_body(200_000, marker))
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"
    assert _files_holding(module_server.data_dir, marker) == []
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert up["ServerSideEncryption"] == "AES256"
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"])
    # a clear object copied in is re-sealed under the default, not shared in clear
    holding = _files_holding(module_server.data_dir, clear_marker)
    assert holding
    source = {"Bucket": bucket, "Key": "before"}
    copied = s3.copy_object(Bucket=bucket, Key="c", CopySource=source)
    assert copied["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="c")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (clear, "AES256")
    assert _files_holding(module_server.data_dir, clear_marker) == holding
    s3.delete_bucket_encryption(Bucket=bucket)
    assert _error(lambda: s3.get_bucket_encryption(Bucket=bucket))[1] == 404
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="after", Body=b"x")


def test_bad_bucket_encryption_is_refused_and_changes_nothing(s3: Any, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=_default("AES256"))
    bad = [
        (_default("AES128"), ("MalformedXML", 400)),
        (_default("aws:kms:dsse"), ("NotImplemented", 501)),
        (
            {
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": "no-such-key",
                        }
                    }
                ]
            },
            ("KMS.NotFoundException", 400),
        ),
        ({"Rules": []}, ("MalformedXML", 400)),
    ]
    for conf, expected in bad:
        assert (
            _error(
                lambda c=conf: s3.put_bucket_encryption(
                    Bucket=bucket, ServerSideEncryptionConfiguration=c
                )
            )
            == expected
        ), conf
    got = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert got["Rules"] == [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
    ]


CUSTOMER = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32}
OTHER = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "o" * 32}


def test_an_sse_c_object_is_unreadable_without_its_key(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    marker = b"SSE-C-SECRET-" + os.urandom(8).hex().encode()
    body = _body(200_000, marker)
    put = s3.put_object(Bucket=bucket, Key="c", Body=body, **CUSTOMER)
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["ETag"].strip('"') != hashlib.md5(body).hexdigest()  # not the plaintext's MD5
    got = s3.get_object(Bucket=bucket, Key="c", **CUSTOMER)
    assert (got["Body"].read(), got["SSECustomerAlgorithm"]) == (body, "AES256")
    assert got["SSECustomerKeyMD5"] == put["SSECustomerKeyMD5"]
    part = s3.get_object(Bucket=bucket, Key="c", Range=f"bytes={BLOCK - 2}-{BLOCK + 2}", **CUSTOMER)
    assert part["Body"].read() == body[BLOCK - 2 : BLOCK + 3]
    assert s3.head_object(Bucket=bucket, Key="c", **CUSTOMER)["ContentLength"] == len(body)
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="c")) == ("InvalidRequest", 400)
    assert _error(lambda: s3.head_object(Bucket=bucket, Key="c"))[1] == 400
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="c", **OTHER)) == ("AccessDenied", 403)
    assert _error(lambda: s3.head_object(Bucket=bucket, Key="c", **OTHER))[1] == 403
    source = {"Bucket": bucket, "Key": "c"}
    assert _error(lambda: s3.copy_object(Bucket=bucket, Key="d", CopySource=source)) == (
        "InvalidRequest",
        400,
    )
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")  # a key for a clear object: 400
    assert _error(lambda: s3.get_object(Bucket=bucket, Key="plain", **CUSTOMER)) == (
        "InvalidRequest",
        400,
    )
    assert _files_holding(module_server.data_dir, marker) == []
    assert _files_holding(module_server.data_dir, b"k" * 32) == []  # the key is not kept


def test_bad_sse_c_keys_are_refused_and_nothing_is_written(
    s3: Any, bucket: str, address: str, signer: Signer
) -> None:
    short = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 16}
    assert _error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", **short)) == (
        "InvalidArgument",
        400,
    )
    both = {**CUSTOMER, "ServerSideEncryption": "AES256"}
    assert _error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", **both))[1] == 400
    key = base64.b64encode(b"k" * 32).decode()
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    for extra in (
        {"x-amz-server-side-encryption-customer-key-md5": wrong_md5},
        {"x-amz-server-side-encryption-customer-key-md5": wrong_md5[:-2]},
    ):
        sse = {
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": key,
            **extra,
        }
        headers, _ = signer.sign("PUT", f"/{bucket}/k", headers=sse)
        resp = request(address, "PUT", f"/{bucket}/k", {**headers, **sse}, b"data")
        assert (resp.status, resp.code) == (400, "InvalidArgument")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize(
    ("scheme", "client", "allowed"),
    [
        ("http", "127.0.0.1", True),
        ("http", "::1", True),
        ("https", "203.0.113.9", True),
        ("http", "203.0.113.9", False),
        ("http", "10.0.0.5", False),
        ("http", None, False),
    ],
)
def test_sse_c_needs_tls_off_loopback(scheme: str, client: str | None, allowed: bool) -> None:
    from lightningstor_s3.sse_c import customer_key

    key = b"k" * 32
    headers = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": "irrelevant here",
    }
    scope = {"scheme": scheme, "client": (client, 5000) if client else None}
    if allowed:
        ck = customer_key(headers, scope)
        assert ck is not None and ck.key == key
    else:
        with pytest.raises(InvalidRequest, match="secure connection"):
            customer_key(headers, scope)


def test_sse_kms_names_a_master_key_of_ours(
    s3: Any, bucket: str, module_server: ServerProcess
) -> None:
    """The server's default key file holds one key, ``key-1`` (the active one)."""
    marker = b"SSE-KMS-SECRET-" + os.urandom(8).hex().encode()
    body = _body(100_000, marker)
    named = s3.put_object(
        Bucket=bucket, Key="named", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId="key-1"
    )
    assert (named["ServerSideEncryption"], named["SSEKMSKeyId"]) == ("aws:kms", "key-1")
    assert named["ETag"].strip('"') != hashlib.md5(body).hexdigest()  # as S3: not the MD5
    active = s3.put_object(Bucket=bucket, Key="active", Body=body, ServerSideEncryption="aws:kms")
    assert active["SSEKMSKeyId"] == "key-1"
    got = s3.get_object(Bucket=bucket, Key="named")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (body, "key-1")
    head = s3.head_object(Bucket=bucket, Key="active")
    assert (head["ServerSideEncryption"], head["ETag"]) == ("aws:kms", active["ETag"])
    assert _files_holding(module_server.data_dir, marker) == []


def test_a_customer_key_is_written_nowhere(tmp_path: Path) -> None:
    """An SSE-C key, its base64 form and its wrong twin never reach the log (at debug), the
    audit file, the trace file or the data directory, whatever the request's outcome."""
    key = b"customer-key-" + os.urandom(10).hex().encode()[:19]
    wrong = b"wrong-key-----" + os.urandom(9).hex().encode()[:18]
    assert len(key) == len(wrong) == 32
    env = {
        "LIGHTNINGSTOR_LOGGING__LEVEL": "debug",
        "LIGHTNINGSTOR_AUDIT_FILE": str(tmp_path / "audit.log"),
        "LIGHTNINGSTOR_TRACING__FILE": str(tmp_path / "traces.jsonl"),
    }
    with running_server(tmp_path / "srv", env=env) as server:
        keys = server.admin_keys()
        s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
        customer = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key.decode()}
        other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": wrong.decode()}
        s3.create_bucket(Bucket="keys")
        s3.put_object(Bucket="keys", Key="small", Body=b"s" * 100, **customer)
        s3.put_object(Bucket="keys", Key="big", Body=_body(300_000, b"m"), **customer)
        assert s3.get_object(Bucket="keys", Key="big", **customer)["Body"].read()
        s3.copy_object(
            Bucket="keys",
            Key="copy",
            CopySource={"Bucket": "keys", "Key": "big"},
            CopySourceSSECustomerAlgorithm="AES256",
            CopySourceSSECustomerKey=key.decode(),
            **customer,
        )
        upload = s3.create_multipart_upload(Bucket="keys", Key="parts", **customer)
        part = s3.upload_part(
            Bucket="keys",
            Key="parts",
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"p" * 1000,
            **customer,
        )
        s3.complete_multipart_upload(
            Bucket="keys",
            Key="parts",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
            **customer,
        )
        assert _error(lambda: s3.get_object(Bucket="keys", Key="big", **other))[1] == 403
        assert _error(lambda: s3.head_object(Bucket="keys", Key="small", **other))[1] == 403
        written = [server.logs().encode()]
        data_dir = server.data_dir
    for name in ("audit.log", "traces.jsonl"):
        written.append((tmp_path / name).read_bytes())
    assert written[1] and written[2], "the audit and trace files were written"
    for secret in (key, wrong):
        forms = (secret, base64.b64encode(secret), secret.hex().encode())
        for form in forms:
            assert not any(form in text for text in written), form
            assert _files_holding(data_dir, form) == [], form
