"""Server-side encryption over the gRPC API (issue 15 §3): the same fields S3 maps its headers
to, on a raw stub (the client library has no SSE parameters yet)."""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

import grpc
import pytest

from lightningstor.v1 import bucket_pb2, bucket_pb2_grpc, common_pb2, object_pb2, object_pb2_grpc
from tests.integration.server import AdminSigner

if TYPE_CHECKING:
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
