"""The lifecycle worker in real servers, with a lifecycle "day" of one second: expired objects
disappear through the core's delete paths (delete markers on versioned buckets, then noncurrent
versions, then the lone marker), each action audited with its rule; on two servers over etcd,
killing the one that holds the lease hands the work to the other."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from lightningstor.meta.v1 import records_pb2
from tests.fixtures.etcd import EtcdCluster, running_etcd
from tests.integration.server import ServerProcess, running_server, start_server
from tests.ops.test_observability import get, sample
from tests.s3.conftest import make_client
from tests.wait import wait_until

DEADLINE = 60.0  # guards against a hang only; a day is one second
LIFECYCLE_ENV = {
    "LIGHTNINGSTOR_LIFECYCLE__DAY_SECONDS": "1",
    "LIGHTNINGSTOR_LIFECYCLE__INTERVAL_SECONDS": "0.2",
    "LIGHTNINGSTOR_LIFECYCLE__LEASE_SECONDS": "1",
    "LIGHTNINGSTOR_LIFECYCLE__PAGE_SIZE": "2",  # several pages, and progress saved between
}


def s3_of(server: ServerProcess, keys: dict[str, str] | None = None) -> Any:
    keys = keys or server.admin_keys()
    return make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])


def wait_for(what: Callable[[], bool], message: str) -> None:
    wait_until(what, DEADLINE, message)


def keys_of(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def versions_of(s3: Any, bucket: str) -> list[tuple[str, bool]]:
    resp = s3.list_object_versions(Bucket=bucket)
    return [(v["Key"], False) for v in resp.get("Versions", [])] + [
        (m["Key"], True) for m in resp.get("DeleteMarkers", [])
    ]


def metrics_page(server: ServerProcess) -> str:
    status, body, _ = get("http://" + server.ports["s3"] + "/metrics")
    assert status == 200
    return body.decode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    env = {**LIFECYCLE_ENV, "LIGHTNINGSTOR_AUDIT_FILE": str(tmp_path / "audit.log")}
    with running_server(tmp_path / "server", env=env) as proc:
        yield proc


def test_expired_objects_go_and_the_audit_names_the_rule(
    server: ServerProcess, tmp_path: Path
) -> None:
    s3 = s3_of(server)
    bucket = f"lc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"logs/{i}", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="keep/a", Body=b"keep")
    s3.put_object(Bucket=bucket, Key="logs/small", Body=b"x")
    rules = [
        {
            "ID": "logs-rule",
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "logs/", "ObjectSizeGreaterThan": 10}},
            "Expiration": {"Days": 1},
        }
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    head = s3.head_object(Bucket=bucket, Key="logs/0")
    assert head["ContentLength"] == 100

    wait_for(lambda: keys_of(s3, bucket) == ["keep/a", "logs/small"], "logs/ did not expire")
    audit = (tmp_path / "audit.log").read_text()
    lines = [line for line in audit.splitlines() if "lifecycle rule 'logs-rule'" in line]
    assert len(lines) == 5
    assert f"bucket/{bucket}/object/logs/0" in "".join(lines)
    assert "keep/a" not in "".join(lines)
    # Progress and lag in the metrics (served on the S3 port).
    page = metrics_page(server)
    assert sample(page, "lightningstor_lifecycle_events_total", event="expire") == 5
    assert sample(page, "lightningstor_lifecycle_events_total", event="examined") >= 7
    assert sample(page, "lightningstor_lifecycle_leader") == 1
    wait_for(
        lambda: "lightningstor_lifecycle_lag_seconds " in metrics_page(server),
        "no lag reported after a finished pass",
    )


def test_versioned_bucket_expires_to_markers_then_nothing(server: ServerProcess) -> None:
    """Expiration writes a delete marker; noncurrent expiration then removes the versions, and
    ExpiredObjectDeleteMarker the lone marker left: the key is gone for good."""
    s3 = s3_of(server)
    bucket = f"lc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket=bucket, Key="doc", Body=body)
    s3.put_object(Bucket=bucket, Key="other/doc", Body=b"stays")
    rules = [
        {
            "ID": "expire",
            "Status": "Enabled",
            "Filter": {"Prefix": "doc"},
            "Expiration": {"Days": 1},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        },
        {
            "ID": "markers",
            "Status": "Enabled",
            "Filter": {"Prefix": "doc"},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    wait_for(lambda: keys_of(s3, bucket) == ["other/doc"], "doc was not expired")
    wait_for(
        lambda: versions_of(s3, bucket) == [("other/doc", False)],
        f"versions left: {versions_of(s3, bucket)}",
    )


def test_noncurrent_expiration_keeps_newer_noncurrent_versions(server: ServerProcess) -> None:
    s3 = s3_of(server)
    bucket = f"lc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = [
        s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(5)
    ]
    rules = [
        {
            "ID": "trim",
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2},
        }
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def left() -> list[str]:
        return [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]

    # The current version and the two newest noncurrent ones stay.
    wait_for(lambda: left() == ids[::-1][:3], f"versions left: {left()}")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"4"


def test_incomplete_uploads_are_aborted(server: ServerProcess) -> None:
    s3 = s3_of(server)
    bucket = f"lc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    old = s3.create_multipart_upload(Bucket=bucket, Key="tmp/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="tmp/big", UploadId=old, PartNumber=1, Body=b"p")
    kept = s3.create_multipart_upload(Bucket=bucket, Key="data/big")["UploadId"]
    rules = [
        {
            "ID": "uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": "tmp/"},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def uploads() -> list[str]:
        return [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

    wait_for(lambda: uploads() == [kept], f"uploads left: {uploads()}")


# ---- two servers over etcd ----


def lease_holder(etcd: EtcdCluster) -> str:
    import asyncio

    from lightningstor_api.metadata import EtcdStore
    from lightningstor_api.metadata.etcd_conn import EtcdConfig

    async def read() -> str:
        store = await EtcdStore.open(EtcdConfig(etcd.endpoints))
        try:
            kv = await store.get(b"lightningstor/leases/lifecycle")
            return records_pb2.LeaseRecord.FromString(kv.value).holder if kv else ""
        finally:
            await store.close()

    return asyncio.run(read())


def pid_of(holder: str) -> int:
    return int(holder.split("/")[1]) if holder else 0


@pytest.mark.etcd
def test_two_servers_one_killed_the_other_expires(tmp_path: Path) -> None:
    import base64
    import os

    with ExitStack() as stack:
        etcd = stack.enter_context(running_etcd(tmp_path / "etcd"))
        env = {
            **LIFECYCLE_ENV,
            "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
            "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(etcd.endpoints),
            "LIGHTNINGSTOR_STORAGE__LOCAL_DIR": str(tmp_path / "shared-chunks"),
            "LIGHTNINGSTOR_IAM__SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        a = start_server(tmp_path / "a", env=env)
        stack.callback(a.stop)
        b = start_server(tmp_path / "b", env=env)
        stack.callback(b.stop)
        pids = {a.proc.pid: a, b.proc.pid: b}
        wait_for(lambda: pid_of(lease_holder(etcd)) in pids, "no server took the lease")
        leader = pids[pid_of(lease_holder(etcd))]
        survivor = b if leader is a else a
        s3 = s3_of(survivor, a.admin_keys())
        bucket = f"lc-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        for i in range(4):
            s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"data")
        rules = [{"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )
        leader.proc.kill()
        leader.proc.wait()
        wait_for(lambda: keys_of(s3, bucket) == [], "objects did not expire after the kill")
        assert pid_of(lease_holder(etcd)) == survivor.proc.pid
