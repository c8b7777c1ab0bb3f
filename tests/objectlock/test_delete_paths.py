"""Every path that can remove a version's data, tried against a COMPLIANCE-locked version and a
version under legal hold, as the bucket owner, the org admin and the platform admin: S3
DeleteObject by version id (with and without the bypass header), DeleteObjects, the gRPC
DeleteObject, DeleteBucket, a shortened retention, the lifecycle worker (a one-second day), GC
and ``admin check --repair``. All are refused and the bytes read back intact.

The actors are those of conftest.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied
from tests.admin.cli import run_cli
from tests.integration.server import ServerProcess
from tests.objectlock.conftest import ACME, lock_server, s3_for
from tests.wait import wait_until

pytestmark = pytest.mark.timeout(180)
DEADLINE = 60.0  # guards against a hang only
BUCKET = "vault"


@pytest.fixture(scope="module", params=["embedded", pytest.param("etcd", marks=pytest.mark.etcd)])
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    """Both metadata engines: the check sits in the core's transactions, above either."""
    yield from lock_server(tmp_path_factory.mktemp("objectlock"), request.param)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


@pytest.fixture(scope="module")
def locked(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> dict[str, tuple[str, bytes]]:
    """Two locked versions in a lock-enabled bucket of the owner's: key -> (version, body)."""
    s3 = s3_for(server, actors["owner"])
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    bodies = {"compliance": os.urandom(200_000), "held": os.urandom(200_000)}
    out = {}
    for key, body in bodies.items():
        lock: dict[str, Any] = (
            {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until}
            if key == "compliance"
            else {"ObjectLockLegalHoldStatus": "ON"}
        )
        put = s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentMD5=md5(body), **lock)
        out[key] = (put["VersionId"], body)
    return out


def assert_intact(s3: Any, locked: dict[str, tuple[str, bytes]]) -> None:
    for key, (version, body) in locked.items():
        got = s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
        assert got == body, key


@pytest.mark.parametrize("actor", ["owner", "ops", "platform"])
def test_deletes_by_version_are_refused_over_both_apis(
    server: ServerProcess,
    actors: dict[str, dict[str, str]],
    locked: dict[str, tuple[str, bytes]],
    actor: str,
) -> None:
    s3 = s3_for(server, actors[actor])
    for key, (version, _) in locked.items():
        for bypass in (False, True):
            with pytest.raises(ClientError) as refused:
                s3.delete_object(
                    Bucket=BUCKET, Key=key, VersionId=version, BypassGovernanceRetention=bypass
                )
            assert code(refused) == "AccessDenied", (actor, key, bypass)
    objects = [{"Key": k, "VersionId": v} for k, (v, _) in locked.items()]
    result = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": objects})
    assert result.get("Deleted", []) == []
    assert {(e["Key"], e["Code"]) for e in result["Errors"]} == {
        ("compliance", "AccessDenied"),
        ("held", "AccessDenied"),
    }
    with LightningStorClient(server.grpc_addr, scope=ACME, **actors[actor]) as client:
        for key, (version, _) in locked.items():
            with pytest.raises(AccessDenied):
                client.delete_object(BUCKET, key, version_id=version)
    with pytest.raises(ClientError) as not_empty:
        s3.delete_bucket(Bucket=BUCKET)
    assert code(not_empty) == "BucketNotEmpty"
    assert_intact(s3, locked)


@pytest.mark.parametrize("actor", ["owner", "ops", "platform"])
def test_retention_cannot_be_shortened_nor_removed(
    server: ServerProcess,
    actors: dict[str, dict[str, str]],
    locked: dict[str, tuple[str, bytes]],
    actor: str,
) -> None:
    s3 = s3_for(server, actors[actor])
    version, _ = locked["compliance"]
    before = s3.get_object_retention(Bucket=BUCKET, Key="compliance", VersionId=version)
    sooner = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    for retention in (
        {"Mode": "COMPLIANCE", "RetainUntilDate": sooner},
        {"Mode": "GOVERNANCE", "RetainUntilDate": sooner + dt.timedelta(days=9)},
        {},
    ):
        with pytest.raises(ClientError) as refused:
            s3.put_object_retention(
                Bucket=BUCKET,
                Key="compliance",
                VersionId=version,
                Retention=retention,
                BypassGovernanceRetention=True,
            )
        assert code(refused) == "AccessDenied", retention
    after = s3.get_object_retention(Bucket=BUCKET, Key="compliance", VersionId=version)
    assert after["Retention"] == before["Retention"]
    with pytest.raises(ClientError) as suspend:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    assert code(suspend) == "InvalidBucketState"
    assert_intact(s3, locked)


def test_unversioned_delete_only_adds_a_marker(
    server: ServerProcess, actors: dict[str, dict[str, str]], locked: dict[str, tuple[str, bytes]]
) -> None:
    s3 = s3_for(server, actors["platform"])
    for key in locked:
        done = s3.delete_object(Bucket=BUCKET, Key=key)
        assert done["DeleteMarker"] is True
    assert_intact(s3, locked)


def test_lifecycle_gc_and_repair_leave_locked_versions(
    monkeypatch: pytest.MonkeyPatch,
    server: ServerProcess,
    actors: dict[str, dict[str, str]],
    locked: dict[str, tuple[str, bytes]],
) -> None:
    s3 = s3_for(server, actors["owner"])
    s3.delete_object(Bucket=BUCKET, Key="compliance")  # noncurrent now, whatever ran before
    s3.delete_object(Bucket=BUCKET, Key="held")
    rules = [
        {
            "ID": "everything",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        }
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": rules})

    def refused() -> bool:
        logs = server.logs()
        return all(f"'{key}' refused by AccessDenied" in logs for key in locked)

    wait_until(refused, DEADLINE, "the lifecycle worker did not try the locked versions")
    s3.delete_bucket_lifecycle(Bucket=BUCKET)
    platform = server.admin_keys()
    ran = run_cli(monkeypatch, server, platform, "admin", "gc", "run", "--json")
    assert ran.code == 0, ran.err
    check = run_cli(monkeypatch, server, platform, "admin", "check", "--json", "--grace", "0",
                    "--repair")  # fmt: skip
    assert check.code == 0, check.out + check.err
    assert_intact(s3, locked)
    listed = s3.list_object_versions(Bucket=BUCKET)
    kept = {(v["Key"], v["VersionId"]) for v in listed.get("Versions", [])}
    assert {(k, v) for k, (v, _) in locked.items()} <= kept
