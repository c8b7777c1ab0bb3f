"""etcd without quorum: every call is refused as unavailable (S3 503, gRPC UNAVAILABLE), no 500.

A three-member cluster loses two members; the one left has no leader, so nothing can be read or
written. The server's calls wait at most ``metadata.timeout_seconds`` (1 s here) and answer
``ServiceUnavailable`` with a message saying so, and the server logs no traceback.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from botocore.exceptions import ClientError

from lightningstor.v1 import bucket_pb2, bucket_pb2_grpc
from lightningstor_client import LightningStorClient
from lightningstor_types.errors import GRPC_ERROR_CODE_KEY
from tests.fixtures.etcd import EtcdCluster, running_etcd
from tests.integration.server import AdminSigner, ServerProcess, running_server
from tests.s3.conftest import make_client

pytestmark = [pytest.mark.etcd, pytest.mark.timeout(180)]

DEADLINE_S = 60.0  # only guards against a hang: each refused call takes about 1 s


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[EtcdCluster]:
    with running_etcd(tmp_path / "etcd", members=3) as etcd:
        yield etcd


@pytest.fixture
def server(tmp_path: Path, cluster: EtcdCluster) -> Iterator[ServerProcess]:
    env = {
        "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
        "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(cluster.endpoints),
        "LIGHTNINGSTOR_METADATA__TIMEOUT_SECONDS": "1",
    }
    with running_server(tmp_path / "server", env=env) as s:
        yield s


def test_without_quorum_calls_are_unavailable_not_internal_errors(
    cluster: EtcdCluster, server: ServerProcess
) -> None:
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    with LightningStorClient(server.grpc_addr, timeout=30, **keys) as client:
        client.create_bucket("before")
    s3.head_bucket(Bucket="before")  # the key is known (and cached) while etcd is healthy

    for member in cluster.members[1:]:
        cluster.kill(member)

    channel = grpc.intercept_channel(grpc.insecure_channel(server.grpc_addr), AdminSigner(**keys))
    stub = bucket_pb2_grpc.BucketServiceStub(channel)
    deadline = time.monotonic() + DEADLINE_S
    with channel:
        while True:  # the last member notices it has lost its leader within an election
            with pytest.raises(ClientError) as exc:
                s3.head_object(Bucket="before", Key="k")
            if exc.value.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
                break
            assert time.monotonic() < deadline, "etcd went on answering without quorum"
        for call in (
            lambda: s3.list_buckets(),
            lambda: s3.put_object(Bucket="before", Key="k", Body=b"x"),
            lambda: s3.create_bucket(Bucket="after"),
        ):
            with pytest.raises(ClientError) as exc:
                call()
            error = exc.value.response["Error"]
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503, error
            assert error["Code"] == "ServiceUnavailable", error
            assert "metadata store is unavailable" in error["Message"], error
        for rpc in (
            lambda: stub.ListBuckets(bucket_pb2.ListBucketsRequest(), timeout=DEADLINE_S),
            lambda: stub.CreateBucket(bucket_pb2.CreateBucketRequest(name="after"), timeout=30),
        ):
            with pytest.raises(grpc.RpcError) as failed:
                rpc()
            err = failed.value
            assert err.code() is grpc.StatusCode.UNAVAILABLE, err  # type: ignore[attr-defined]
            trailers = dict(err.trailing_metadata() or ())  # type: ignore[attr-defined]
            assert trailers.get(GRPC_ERROR_CODE_KEY) == "ServiceUnavailable", trailers
            assert "metadata store is unavailable" in err.details()  # type: ignore[attr-defined]
    logs = server.logs()
    assert "Traceback" not in logs, logs[-4000:]
    assert "InternalError" not in logs, logs[-4000:]
