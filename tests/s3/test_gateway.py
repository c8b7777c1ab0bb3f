"""The stand-alone gateway: the same S3 app in its own process, over a server's gRPC API."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.s3.conftest import make_client
from tests.wait import wait_until

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess


def _start_gateway(
    server: ServerProcess,
    workdir: Path,
    workers: int,
    upstream: Sequence[str] = (),
    env: dict[str, str] | None = None,
    credentials: Path | None = None,
) -> Iterator[str]:
    """``upstream``: the gateway's flags toward the server (default: its plain gRPC address);
    ``credentials``: its keys file (default: the server's admin key)."""
    from tests.integration.server import clean_env

    workdir.mkdir(parents=True, exist_ok=True)
    ports = workdir / "ports.json"
    log = (workdir / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightningstor_s3.gateway",
         *(upstream or ("--grpc-endpoint", server.grpc_addr)), "--s3-addr", "127.0.0.1:0",
         "--credentials-file",
         str(credentials or server.data_dir / "admin-credentials.json")],
        env=clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(ports),
                       "LIGHTNINGSTOR_SERVER__S3_WORKERS": str(workers), **(env or {})}),
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    try:
        # 120 s only guards against a hang: a loaded machine can take tens of seconds.
        wait_until(
            lambda: ports.exists() or proc.poll() is not None,
            timeout=120,
            message="the gateway's ports file",
        )
        assert proc.poll() is None, (workdir / "gateway.log").read_text()
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
def gateway_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway")


@pytest.fixture(scope="module")
def gateway(module_server: ServerProcess, gateway_dir: Path) -> Iterator[str]:
    yield from _start_gateway(module_server, gateway_dir, workers=1)


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


def test_gateway_policies_and_another_orgs_bucket(
    gateway: str, module_server: ServerProcess, admin_keys: dict[str, str]
) -> None:
    """Bucket policies through the gateway's gRPC calls, and a bucket of another org addressed
    ``org:bucket``: the gateway names that scope in its call."""
    from botocore.handlers import validate_bucket_name

    from lightningstor_client import LightningStorClient
    from lightningstor_types.scope import Scope

    keys = {"access_key": admin_keys["id"], "secret_key": admin_keys["secret"]}
    with LightningStorClient(module_server.grpc_addr, scope=Scope("gworg"), **keys) as c:
        c.create_bucket("gw-elsewhere")
        c.put_object("gw-elsewhere", "k", b"in gworg")
    gw = make_client(gateway, admin_keys["id"], admin_keys["secret"])
    gw.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    body = gw.get_object(Bucket="gworg:gw-elsewhere", Key="k")["Body"].read()
    assert body == b"in gworg"
    deny = json.dumps({"Statement": [{
        "Sid": "NoReads", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::gw-elsewhere/*"}]})  # fmt: skip
    gw.put_bucket_policy(Bucket="gworg:gw-elsewhere", Policy=deny)
    assert gw.get_bucket_policy(Bucket="gworg:gw-elsewhere")["Policy"] == deny
    with pytest.raises(ClientError) as exc:
        gw.get_object(Bucket="gworg:gw-elsewhere", Key="k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    gw.delete_bucket_policy(Bucket="gworg:gw-elsewhere")


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


def test_gateway_ready_follows_its_upstream(
    gateway: str, module_server: ServerProcess, admin_keys: dict[str, str], tmp_path: Path
) -> None:
    """Ready over a ready server; over a port where nothing listens, 503 naming the upstream,
    and S3 answers ServiceUnavailable without gRPC's words about the channel."""
    import socket

    from tests.ops.test_observability import get

    status, body, _ = get(gateway + "/ready")
    assert (status, json.loads(body)) == (200, {"status": "ready", "checks": {"upstream": "ok"}})
    with socket.socket() as hole:  # bound, never listening: connections are refused
        hole.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{hole.getsockname()[1]}"
        for endpoint in _start_gateway(
            module_server, tmp_path / "orphan", workers=1, upstream=("--grpc-endpoint", nowhere)
        ):
            status, body, _ = get(endpoint + "/ready")
            report = json.loads(body)
            assert status == 503 and report["status"] == "not ready", report
            assert report["checks"]["upstream"] == (
                f"ServiceUnavailable: the server at {nowhere} answered UNAVAILABLE"
            ), report
            client = make_client(endpoint, admin_keys["id"], admin_keys["secret"])
            with pytest.raises(ClientError) as exc:
                client.list_buckets()
            error = exc.value.response["Error"]
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            assert error["Code"] == "ServiceUnavailable", error
            for internal in ("ipv4", "connect", "addresses", nowhere):
                assert internal not in error["Message"], error


def test_gateway_metrics_and_logs(gateway: str, gateway_dir: Path) -> None:
    """The gateway's /metrics has its process figures; its log is JSON lines with their fields
    (no ANSI copy of the message), the listening address logged once."""
    from tests.ops.test_observability import assert_process_metrics, get

    status, body, _ = get(gateway + "/metrics")
    assert status == 200
    assert_process_metrics(body.decode())
    log = gateway_dir / "gateway.log"
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    serving = [r for r in records if r["msg"] == "S3 gateway serving"]
    assert len(serving) == 1 and serving[0]["addr"] == gateway.removeprefix("http://")
    assert not any("color_message" in r for r in records), records
    assert not any(r["msg"] == "S3 listening" for r in records)


def test_gateway_says_which_address_is_in_use(module_server: ServerProcess, tmp_path: Path) -> None:
    import socket

    from tests.integration.server import clean_env

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "lightningstor_s3.gateway",
             "--grpc-endpoint", module_server.grpc_addr, "--s3-addr", addr,
             "--credentials-file", str(module_server.data_dir / "admin-credentials.json")],
            env=clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(tmp_path / "ports.json")}),
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = [json.loads(x) for x in done.stderr.splitlines() if "cannot run" in x]
    assert line["level"] == "error" and f"cannot listen on {addr}" in line["msg"], line


def test_gateway_object_lock(gw: Any, s3: Any) -> None:
    """Object Lock over the gateway's gRPC: a lock bucket, a GOVERNANCE retention and a legal
    hold set through it, deletes refused, the bypass header carried to the server."""
    bucket = "lock-via-gateway"
    gw.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    md5 = base64.b64encode(hashlib.md5(b"g").digest()).decode()
    version = gw.put_object(
        Bucket=bucket, Key="g", Body=b"g", ContentMD5=md5,
        ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
    )["VersionId"]  # fmt: skip
    assert gw.head_object(Bucket=bucket, Key="g")["ObjectLockMode"] == "GOVERNANCE"
    gw.put_object_legal_hold(Bucket=bucket, Key="g", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="g")["LegalHold"] == {"Status": "ON"}
    for bypass in (False, True):  # the hold wins over any bypass
        with pytest.raises(ClientError) as refused:
            gw.delete_object(
                Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=bypass
            )
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    gw.put_object_legal_hold(Bucket=bucket, Key="g", LegalHold={"Status": "OFF"})
    with pytest.raises(ClientError) as governed:
        gw.delete_object(Bucket=bucket, Key="g", VersionId=version)
    assert governed.value.response["Error"]["Code"] == "AccessDenied"
    gw.delete_object(Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=True)
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
