"""gRPC access-key signatures are bound to the method and accepted once: a captured header is
worth nothing for another call. The headers are made by ``signed_metadata``, the function the
client's interceptor signs each call with, and sent on a raw channel as an eavesdropper would."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator

import grpc
import pytest

from lightningstor.v1 import bucket_pb2, bucket_pb2_grpc
from lightningstor_types.signing import signed_metadata
from tests.integration.server import ServerProcess, running_server

CREATE = "/lightningstor.v1.BucketService/CreateBucket"
LIST = "/lightningstor.v1.BucketService/ListBuckets"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("replay")) as server:
        yield server


@pytest.fixture
def stub(server: ServerProcess) -> Iterator[bucket_pb2_grpc.BucketServiceStub]:
    with grpc.insecure_channel(server.grpc_addr) as channel:
        yield bucket_pb2_grpc.BucketServiceStub(channel)


def _sign(
    server: ServerProcess, method: str, now: float | None = None
) -> tuple[tuple[str, str], ...]:
    keys = server.admin_keys()
    return signed_metadata(keys["access_key"], keys["secret_key"], method, now)


def _names(server: ServerProcess, stub: bucket_pb2_grpc.BucketServiceStub) -> list[str]:
    reply = stub.ListBuckets(
        bucket_pb2.ListBucketsRequest(), metadata=_sign(server, LIST), timeout=10
    )
    return [b.name for b in reply.buckets]


def _refused(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)  # type: ignore[operator]
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    return str(err.value.details())


def _create_refused(
    stub: bucket_pb2_grpc.BucketServiceStub, name: str, metadata: tuple[tuple[str, str], ...]
) -> str:
    request = bucket_pb2.CreateBucketRequest(name=name)
    return _refused(stub.CreateBucket, request, metadata=metadata, timeout=10)


def test_a_signature_replayed_on_another_method_is_refused(
    server: ServerProcess, stub: bucket_pb2_grpc.BucketServiceStub
) -> None:
    captured = _sign(server, LIST)
    details = _create_refused(stub, "stolen", captured)
    assert "bad signature" in details
    assert "stolen" not in _names(server, stub)
    # The same header on the method it was made for is good (once).
    stub.ListBuckets(bucket_pb2.ListBucketsRequest(), metadata=captured, timeout=10)


def test_a_signature_replayed_on_the_same_method_is_refused(
    server: ServerProcess, stub: bucket_pb2_grpc.BucketServiceStub
) -> None:
    captured = _sign(server, CREATE)
    stub.CreateBucket(bucket_pb2.CreateBucketRequest(name="once"), metadata=captured, timeout=10)
    stub.DeleteBucket(
        bucket_pb2.DeleteBucketRequest(name="once"),
        metadata=_sign(server, "/lightningstor.v1.BucketService/DeleteBucket"),
        timeout=10,
    )
    details = _create_refused(stub, "once", captured)
    assert "already used" in details
    assert "once" not in _names(server, stub)


def test_a_signature_outside_the_window_is_refused(
    server: ServerProcess, stub: bucket_pb2_grpc.BucketServiceStub
) -> None:
    # 200 s: inside the 15 minutes S3 allows, outside gRPC's 120 s window.
    for skew in (-200, 200):
        stale = _sign(server, LIST, now=time.time() + skew)
        details = _refused(
            stub.ListBuckets, bucket_pb2.ListBucketsRequest(), metadata=stale, timeout=10
        )
        assert "120 s" in details


def test_a_version_1_signature_is_refused_with_a_clear_error(
    server: ServerProcess, stub: bucket_pb2_grpc.BucketServiceStub
) -> None:
    """What clients before version 2 send: no nonce, no method."""
    keys = server.admin_keys()
    date = str(int(time.time()))
    message = f"LIGHTNINGSTOR-HMAC-SHA256\n{date}\n{keys['access_key']}".encode()
    old = (
        ("x-lightningstor-access-key", keys["access_key"]),
        ("x-lightningstor-date", date),
        (
            "x-lightningstor-signature",
            hmac.new(keys["secret_key"].encode(), message, hashlib.sha256).hexdigest(),
        ),
    )
    details = _refused(stub.ListBuckets, bucket_pb2.ListBucketsRequest(), metadata=old, timeout=10)
    assert "no nonce" in details
    assert "upgrade the client" in details
