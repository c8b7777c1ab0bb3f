"""Server-side encryption over the gRPC API (issue 15 §3): the same fields S3 maps its headers
to, on a raw stub and through the client library; an SSE-C key in clear from another machine is
refused, as S3 refuses it."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
import pytest

from lightningstor.v1 import bucket_pb2, bucket_pb2_grpc, common_pb2, object_pb2, object_pb2_grpc
from lightningstor_types.errors import InvalidRequest, LightningStorError
from tests.integration.server import AdminSigner

if TYPE_CHECKING:
    from lightningstor_client import LightningStorClient
    from tests.integration.server import ServerProcess


def _put(
    stub: object_pb2_grpc.ObjectServiceStub, header: object_pb2.PutObjectHeader, body: bytes
) -> object_pb2.PutObjectResponse:
    messages = [
        object_pb2.PutObjectRequest(header=header),
        object_pb2.PutObjectRequest(content=body),
    ]
    return stub.PutObject(iter(messages))  # type: ignore[no-any-return]


def _get(stub: object_pb2_grpc.ObjectServiceStub, req: object_pb2.GetObjectRequest) -> bytes:
    return b"".join(m.content for m in stub.GetObject(req) if m.HasField("content"))


def test_sse_over_grpc(module_server: ServerProcess) -> None:
    name = f"g-{uuid.uuid4().hex[:12]}"
    body = os.urandom(150_000)
    with grpc.insecure_channel(module_server.grpc_addr) as raw:
        channel = grpc.intercept_channel(raw, AdminSigner(**module_server.admin_keys()))
        buckets = bucket_pb2_grpc.BucketServiceStub(channel)
        objects = object_pb2_grpc.ObjectServiceStub(channel)
        buckets.CreateBucket(bucket_pb2.CreateBucketRequest(name=name))
        put = _put(
            objects,
            object_pb2.PutObjectHeader(bucket=name, key="s3", server_side_encryption="AES256"),
            body,
        )
        assert put.server_side_encryption == "AES256"
        got = objects.HeadObject(object_pb2.HeadObjectRequest(bucket=name, key="s3"))
        assert got.header.object.server_side_encryption == "AES256"
        assert _get(objects, object_pb2.GetObjectRequest(bucket=name, key="s3")) == body

        ck = common_pb2.CustomerKey(
            algorithm="AES256",
            key=b"c" * 32,
            key_md5="ACdH+Fu9K3HlXdIUBu8GdA==",  # base64 MD5 of b"c" * 32
        )
        _put(objects, object_pb2.PutObjectHeader(bucket=name, key="c", customer_key=ck), body)
        with pytest.raises(grpc.RpcError) as info:
            _get(objects, object_pb2.GetObjectRequest(bucket=name, key="c"))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (
            _get(objects, object_pb2.GetObjectRequest(bucket=name, key="c", customer_key=ck))
            == body
        )

        conf = bucket_pb2.BucketEncryption(sse_algorithm="AES256")
        buckets.PutBucketEncryption(
            bucket_pb2.PutBucketEncryptionRequest(name=name, configuration=conf)
        )
        read = buckets.GetBucketEncryption(bucket_pb2.GetBucketEncryptionRequest(name=name))
        assert read.configuration == conf
        default = _put(objects, object_pb2.PutObjectHeader(bucket=name, key="d"), b"x")
        assert default.server_side_encryption == "AES256"
        buckets.DeleteBucketEncryption(bucket_pb2.DeleteBucketEncryptionRequest(name=name))
        with pytest.raises(grpc.RpcError) as info:
            buckets.GetBucketEncryption(bucket_pb2.GetBucketEncryptionRequest(name=name))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


KEY_A, KEY_B = b"a" * 32, b"b" * 32
MIB = 1024 * 1024


def _error_code(call: Callable[[], object]) -> str:
    with pytest.raises(LightningStorError) as info:
        call()
    return info.value.code


def test_sse_through_the_client_on_every_path(client: LightningStorClient) -> None:
    """The blocking client (the async one shares its code) sets SSE-S3, SSE-KMS with a context
    and SSE-C on put, multipart and copies, and reads them back with the key."""
    name = f"c-{uuid.uuid4().hex[:12]}"
    client.create_bucket(name)
    body = os.urandom(200_000)
    put = client.put_object(name, "kms", body, server_side_encryption="aws:kms",
                            kms_key_id="key-1", kms_context={"app": "billing"})  # fmt: skip
    assert (put.encryption.algorithm, put.encryption.kms_key_id) == ("aws:kms", "key-1")
    assert json.loads(base64.b64decode(put.encryption.kms_context)) == {"app": "billing"}
    with client.get_object(name, "kms") as stream:
        assert stream.read() == body
    # SSE-C multipart: every part gives the key; reads too
    up = client.create_multipart_upload(name, "mp", customer_key=KEY_A)
    assert _error_code(lambda: client.upload_part(name, "mp", up.upload_id, 1, b"x")) == (
        "InvalidRequest"
    )
    first = client.upload_part(name, "mp", up.upload_id, 1, body[:100_000] * 53,
                               customer_key=KEY_A)  # fmt: skip
    second = client.upload_part_copy(name, "mp", up.upload_id, 2, source_bucket=name,
                                     source_key="kms", customer_key=KEY_A)  # fmt: skip
    done = client.complete_multipart_upload(name, "mp", up.upload_id, [first, second])
    assert done.encryption.customer_key_md5
    whole = body[:100_000] * 53 + body
    assert _error_code(lambda: client.head_object(name, "mp")) == "InvalidRequest"
    assert _error_code(lambda: client.head_object(name, "mp", customer_key=KEY_B)) == (
        "AccessDenied"
    )
    info = client.head_object(name, "mp", customer_key=KEY_A)
    assert (info.size, info.encryption.customer_key_md5) == (
        len(whole),
        done.encryption.customer_key_md5,
    )
    with client.get_object(name, "mp", range=(5 * MIB - 3, 5 * MIB + 3), customer_key=KEY_A) as s:
        assert s.read() == whole[5 * MIB - 3 : 5 * MIB + 4]
    # copy from SSE-C (key A) to SSE-C (key B), then to SSE-S3
    assert _error_code(lambda: client.copy_object(name, "b", source_bucket=name,
                                                  source_key="mp")) == "InvalidRequest"  # fmt: skip
    client.copy_object(name, "b", source_bucket=name, source_key="mp",
                       source_customer_key=KEY_A, customer_key=KEY_B)  # fmt: skip
    with client.get_object(name, "b", customer_key=KEY_B) as stream:
        assert stream.read() == whole
    copied = client.copy_object(
        name, "s3", source_bucket=name, source_key="b", source_customer_key=KEY_B,
        server_side_encryption="AES256",
    )  # fmt: skip
    assert copied.encryption.algorithm == "AES256"
    with client.get_object(name, "s3") as stream:
        assert stream.read() == whole


@pytest.mark.parametrize(
    ("peer", "security", "allowed"),
    [
        ("ipv4:127.0.0.1:5000", b"insecure", True),
        ("ipv6:[::1]:5000", b"insecure", True),
        ("unix:/run/lightningstor.sock", b"insecure", True),
        ("ipv4:203.0.113.9:5000", b"ssl", True),
        ("ipv4:203.0.113.9:5000", b"insecure", False),
        ("ipv6:[2001:db8::1]:5000", b"insecure", False),
        ("ipv4:10.0.0.5:5000", None, False),
    ],
)
def test_grpc_refuses_a_customer_key_in_clear_from_afar(
    peer: str, security: bytes | None, allowed: bool
) -> None:
    from lightningstor_api.grpc.sse_c import check_channel

    auth = {"transport_security_type": [security]} if security else {}
    key = common_pb2.CustomerKey(algorithm="AES256", key=KEY_A, key_md5="x")
    check_channel(peer, auth, None, common_pb2.CustomerKey())  # no key: nothing to refuse
    if allowed:
        check_channel(peer, auth, key)
    else:
        with pytest.raises(InvalidRequest, match="secure connection"):
            check_channel(peer, auth, None, key)
