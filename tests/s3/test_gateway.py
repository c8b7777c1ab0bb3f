"""The stand-alone gateway: the same S3 app in its own process, over a server's gRPC API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.s3.conftest import make_client

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess


def _start_gateway(
    server: ServerProcess, workdir: Path, workers: int, upstream: Sequence[str] = ()
) -> Iterator[str]:
    """``upstream``: the gateway's flags toward the server (default: its plain gRPC address)."""
    from tests.integration.server import clean_env

    workdir.mkdir(parents=True, exist_ok=True)
    ports = workdir / "ports.json"
    log = (workdir / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightningstor_s3.gateway",
         *(upstream or ("--grpc-endpoint", server.grpc_addr)), "--s3-addr", "127.0.0.1:0",
         "--credentials-file", str(server.data_dir / "admin-credentials.json")],
        env=clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(ports),
                       "LIGHTNINGSTOR_SERVER__S3_WORKERS": str(workers)}),
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not ports.exists():
            assert proc.poll() is None, (workdir / "gateway.log").read_text()
            assert time.monotonic() < deadline, "the gateway did not report its port"
            time.sleep(0.05)
        yield "http://" + json.loads(ports.read_text())["s3"]
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def gateway(
    module_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from _start_gateway(module_server, tmp_path_factory.mktemp("gateway"), workers=1)


@pytest.fixture(scope="module")
def gw(gateway: str, admin_keys: dict[str, str]) -> Any:
    return make_client(gateway, admin_keys["id"], admin_keys["secret"])


def test_gateway_objects_and_errors(gw: Any, s3: Any, tmp_path: Path) -> None:
    gw.create_bucket(Bucket="via-gateway")
    assert "via-gateway" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    gw.put_object(Bucket="via-gateway", Key="a b+ü", Body=b"through grpc", Metadata={"m": "1"})
    got = gw.get_object(Bucket="via-gateway", Key="a b+ü", Range="bytes=8-11")
    assert (got["ContentRange"], got["Body"].read()) == ("bytes 8-11/12", b"grpc")
    assert s3.head_object(Bucket="via-gateway", Key="a b+ü")["Metadata"] == {"m": "1"}
    data = os.urandom(12 * 1024 * 1024)
    (tmp_path / "in").write_bytes(data)
    config = TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    gw.upload_file(str(tmp_path / "in"), "via-gateway", "big", Config=config)
    gw.download_file("via-gateway", "big", str(tmp_path / "out"), Config=config)
    assert (tmp_path / "out").read_bytes() == data
    assert [o["Key"] for o in gw.list_objects_v2(Bucket="via-gateway")["Contents"]] == [
        "a b+ü",
        "big",
    ]
    with pytest.raises(ClientError) as exc:
        gw.get_object(Bucket="via-gateway", Key="missing")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    assert exc.value.response["Error"]["Key"] == "missing"
    gw.delete_objects(Bucket="via-gateway", Delete={"Objects": [{"Key": "a b+ü"}, {"Key": "big"}]})
    gw.delete_bucket(Bucket="via-gateway")


def test_gateway_cors_attributes_and_forms(
    gw: Any, gateway: str, admin_keys: dict[str, str]
) -> None:
    """The features of issue 14 §3 through the gateway's gRPC calls: CORS configuration and
    its preflight answers, GetObjectAttributes, a form upload."""
    from tests.s3 import rawhttp
    from tests.s3.test_post_object import post

    bucket = "gw-browser"
    gw.create_bucket(Bucket=bucket)
    rules = [{"AllowedOrigins": ["https://app.test"], "AllowedMethods": ["PUT"]}]
    gw.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert gw.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules
    signer = rawhttp.Signer(gateway.removeprefix("http://"), admin_keys["id"], admin_keys["secret"])
    target = signer.presign("PUT", f"/{bucket}/k")
    ask = {"Origin": "https://app.test", "Access-Control-Request-Method": "PUT"}
    resp = rawhttp.request(signer.address, "OPTIONS", target, ask)
    assert resp.status == 200 and resp.headers["access-control-allow-origin"] == "https://app.test"

    v4 = make_client(gateway, admin_keys["id"], admin_keys["secret"], signature_version="s3v4")
    form = v4.generate_presigned_post(bucket, "k")
    assert post(gateway, bucket, form["fields"], b"via a form").status == 204
    attrs = gw.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert attrs["ObjectSize"] == len(b"via a form")
    gw.delete_object(Bucket=bucket, Key="k")
    gw.delete_bucket_cors(Bucket=bucket)
    gw.delete_bucket(Bucket=bucket)


def test_gateway_delete_markers_and_conditional_deletes(gw: Any) -> None:
    """What travels over gRPC for them: the marker in the error's details, the conditions."""
    gw.create_bucket(Bucket="gw-semantics")
    gw.put_bucket_versioning(Bucket="gw-semantics", VersioningConfiguration={"Status": "Enabled"})
    etag = gw.put_object(Bucket="gw-semantics", Key="k", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as exc:
        gw.delete_object(Bucket="gw-semantics", Key="k", IfMatch='"' + "0" * 32 + '"')
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    marker = gw.delete_object(Bucket="gw-semantics", Key="k", IfMatch=etag)["VersionId"]
    with pytest.raises(ClientError) as exc:
        gw.head_object(Bucket="gw-semantics", Key="k")
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert (headers["x-amz-delete-marker"], headers["x-amz-version-id"]) == ("true", marker)


def test_gateway_with_workers(
    module_server: ServerProcess, admin_keys: dict[str, str], tmp_path: Path
) -> None:
    for endpoint in _start_gateway(module_server, tmp_path / "workers", workers=2):
        client = make_client(endpoint, admin_keys["id"], admin_keys["secret"])
        client.create_bucket(Bucket="workers-bucket")
        for i in range(8):
            client.put_object(Bucket="workers-bucket", Key=f"k{i}", Body=b"x")
        assert client.list_objects_v2(Bucket="workers-bucket")["KeyCount"] == 8


def test_gateway_lifecycle_configuration(gw: Any, s3: Any) -> None:
    """The stand-alone gateway reaches the lifecycle operations over gRPC: set, read (from
    either side), refused as by the server, x-amz-expiration passed through, deleted."""
    bucket = "lifecycle-via-gateway"
    gw.create_bucket(Bucket=bucket)
    rules = [
        {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "t/"}, "Expiration": {"Days": 2}}
    ]
    gw.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == "r"
    assert gw.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"] == {
        "Days": 2
    }
    bad = [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 0}}]
    with pytest.raises(ClientError) as exc:
        gw.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": bad})
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"
    assert 'rule-id="r"' in gw.put_object(Bucket=bucket, Key="t/x", Body=b"1")["Expiration"]
    assert 'rule-id="r"' in gw.head_object(Bucket=bucket, Key="t/x")["Expiration"]
    gw.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as gone:
        gw.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert gone.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
    gw.delete_object(Bucket=bucket, Key="t/x")
    gw.delete_bucket(Bucket=bucket)


def test_gateway_server_side_encryption(gw: Any, s3: Any) -> None:
    """Issue 15 §3 through the stand-alone gateway: SSE-S3, SSE-C and the bucket default reach
    the server over gRPC and read back from either side."""
    bucket = "sse-via-gateway"
    gw.create_bucket(Bucket=bucket)
    body = os.urandom(100_000)
    assert (
        gw.put_object(Bucket=bucket, Key="s", Body=body, ServerSideEncryption="AES256")[
            "ServerSideEncryption"
        ]
        == "AES256"
    )
    assert s3.get_object(Bucket=bucket, Key="s")["Body"].read() == body
    ck = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "g" * 32}
    gw.put_object(Bucket=bucket, Key="c", Body=body, **ck)
    assert gw.get_object(Bucket=bucket, Key="c", **ck)["Body"].read() == body
    with pytest.raises(ClientError) as exc:
        gw.get_object(Bucket=bucket, Key="c")
    assert exc.value.response["Error"]["Code"] == "InvalidRequest"
    rules = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    gw.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=rules)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert gw.put_object(Bucket=bucket, Key="d", Body=b"x")["ServerSideEncryption"] == "AES256"
    gw.delete_bucket_encryption(Bucket=bucket)
    for key in ("s", "c", "d"):
        gw.delete_object(Bucket=bucket, Key=key)
