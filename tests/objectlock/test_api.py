"""Object Lock over S3 and gRPC: the bucket configuration and its default retention, GOVERNANCE
and its bypass permission, legal holds, and the bad input S3 refuses (refused with S3's error,
nothing changed)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor.v1 import common_pb2
from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied, InvalidArgument, NoSuchObjectLockConfiguration
from tests.awscli import AWS, aws_env
from tests.integration.server import ServerProcess
from tests.objectlock.conftest import ACME, s3_for
from tests.s3.rawhttp import Signer, request

pytestmark = pytest.mark.timeout(120)


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def new_bucket(s3: Any, *, lock: bool = True) -> str:
    name = f"ol-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    return name


def later(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)


def test_configuration_and_default_retention(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    got = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}
    s3.put_object_lock_configuration(
        Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
    )
    got = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled", "Rule": rule}
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["VersionId"]
    retention = s3.get_object_retention(Bucket=bucket, Key="k", VersionId=version)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    assert later(days=1.9) < retention["RetainUntilDate"] < later(days=2.1)
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    assert code(refused) == "AccessDenied"


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ({"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}, "MalformedXML"),
        ({"DefaultRetention": {"Days": 1}}, "MalformedXML"),
        ({"DefaultRetention": {"Mode": "GOVERNANCE"}}, "MalformedXML"),
        ({"DefaultRetention": {"Mode": "FOREVER", "Days": 1}}, "MalformedXML"),
        ({"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 101}}, "InvalidArgument"),
    ],
)
def test_bad_configurations_change_nothing(
    server: ServerProcess, actors: dict[str, dict[str, str]], rule: dict[str, Any], error: str
) -> None:
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3)
    with pytest.raises(ClientError) as bad:
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
        )
    assert code(bad) == error
    got = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}


def test_a_bucket_without_object_lock(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3, lock=False)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["VersionId"]
    with pytest.raises(ClientError) as missing:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert code(missing) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as enable:
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    assert code(enable) == "InvalidBucketState"
    with pytest.raises(ClientError) as hold:
        s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"})
    assert code(hold) == "InvalidRequest"
    with pytest.raises(ClientError) as retention:
        s3.put_object_retention(
            Bucket=bucket,
            Key="k",
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later(days=1)},
        )
    assert code(retention) == "InvalidRequest"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)  # nothing was locked


def test_governance_yields_only_to_the_bypass_permission(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    owner, ops = s3_for(server, actors["owner"]), s3_for(server, actors["ops"])
    bucket = new_bucket(owner)
    until = later(days=1)
    version = owner.put_object(
        Bucket=bucket, Key="g", Body=b"gov", ContentMD5=md5(b"gov"),
        ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
    )["VersionId"]  # fmt: skip
    for s3, bypass in ((owner, False), (owner, True), (ops, False)):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(
                Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=bypass
            )
        assert code(refused) == "AccessDenied"
        with pytest.raises(ClientError) as shorten:
            s3.put_object_retention(
                Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=bypass,
                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(hours=1)},
            )  # fmt: skip
        assert code(shorten) == "AccessDenied"
    # Extending needs no bypass; the editor may.
    owner.put_object_retention(
        Bucket=bucket, Key="g", VersionId=version,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(days=2)},
    )  # fmt: skip
    ops.delete_object(Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=True)
    assert "Versions" not in owner.list_object_versions(Bucket=bucket)


def test_bucket_policies_name_the_object_lock_actions(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    """s3:BypassGovernanceRetention is granted or denied by a bucket policy as by S3, and the
    lock actions are covered by s3:* (an explicit Deny of everything denies them too)."""
    owner, ops = s3_for(server, actors["owner"]), s3_for(server, actors["ops"])
    bucket = new_bucket(owner)
    version = owner.put_object(
        Bucket=bucket, Key="g", Body=b"gov", ContentMD5=md5(b"gov"),
        ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(days=1),
    )["VersionId"]  # fmt: skip
    objects = f"arn:aws:s3:::{bucket}/*"

    def policy(*statements: dict[str, Any]) -> None:
        doc = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        ops.put_bucket_policy(Bucket=bucket, Policy=doc)

    # the editor, whose role lacks the bypass, is given it by the bucket policy
    policy({
        "Sid": "OwnerBypasses", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::acme:user/owner"},
        "Action": "s3:BypassGovernanceRetention", "Resource": objects,
    })  # fmt: skip
    owner.put_object_retention(
        Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=True,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(hours=20)},
    )  # fmt: skip
    # an explicit Deny beats the org admin's role: no bypass, no legal hold, no retention change
    policy(
        {"Sid": "NoBypass", "Effect": "Deny", "Principal": "*",
         "Action": "s3:BypassGovernanceRetention", "Resource": objects},
        {"Sid": "NoHolds", "Effect": "Deny", "Principal": "*",
         "Action": ["s3:PutObjectLegalHold", "s3:PutObjectRetention"], "Resource": objects},
    )  # fmt: skip
    with pytest.raises(ClientError) as refused:
        ops.delete_object(Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=True)
    assert code(refused) == "AccessDenied"
    with pytest.raises(ClientError) as held:
        ops.put_object_legal_hold(
            Bucket=bucket, Key="g", VersionId=version, LegalHold={"Status": "ON"}
        )
    assert code(held) == "AccessDenied"
    policy({"Sid": "Nothing", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": objects})  # fmt: skip
    with pytest.raises(ClientError) as everything:
        ops.get_object_retention(Bucket=bucket, Key="g", VersionId=version)
    assert code(everything) == "AccessDenied"
    ops.delete_bucket_policy(Bucket=bucket)  # the org admin's way out
    ops.delete_object(Bucket=bucket, Key="g", VersionId=version, BypassGovernanceRetention=True)


def test_legal_hold_on_and_off(server: ServerProcess, actors: dict[str, dict[str, str]]) -> None:
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="h", Body=b"held")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=bucket, Key="h")["LegalHold"] == {"Status": "OFF"}
    s3.put_object_legal_hold(Bucket=bucket, Key="h", VersionId=version, LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="h")["LegalHold"] == {"Status": "ON"}
    assert s3.get_object(Bucket=bucket, Key="h")["ObjectLockLegalHoldStatus"] == "ON"
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key="h", VersionId=version)
    assert code(refused) == "AccessDenied"
    with pytest.raises(ClientError) as no_retention:
        s3.get_object_retention(Bucket=bucket, Key="h")
    assert code(no_retention) == "NoSuchObjectLockConfiguration"
    s3.put_object_legal_hold(Bucket=bucket, Key="h", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=bucket, Key="h", VersionId=version)


def test_bad_lock_input_on_put(server: ServerProcess, actors: dict[str, dict[str, str]]) -> None:
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3)
    address = server.ports["s3"]
    signer = Signer(address, actors["owner"]["access_key"], actors["owner"]["secret_key"])
    future = later(days=1).strftime("%Y-%m-%dT%H:%M:%SZ")
    past = "2001-01-01T00:00:00Z"
    cases = [
        # no Content-MD5 nor checksum: S3 requires one with lock headers
        ({"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": future},
         "InvalidRequest"),
        ({"x-amz-object-lock-legal-hold": "ON"}, "InvalidRequest"),
        ({"x-amz-object-lock-mode": "COMPLIANCE", "content-md5": md5(b"data")}, "InvalidArgument"),
        ({"x-amz-object-lock-mode": "SOMETIMES", "x-amz-object-lock-retain-until-date": future,
          "content-md5": md5(b"data")}, "InvalidArgument"),
        ({"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": past,
          "content-md5": md5(b"data")}, "InvalidArgument"),
        ({"x-amz-object-lock-legal-hold": "MAYBE", "content-md5": md5(b"data")}, "InvalidArgument"),
    ]  # fmt: skip
    for extra, error in cases:
        headers, _ = signer.sign("PUT", f"/{bucket}/k", headers=extra)
        resp = request(address, "PUT", f"/{bucket}/k", headers, b"data")
        assert (resp.status, resp.code) == (400, error), extra
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    # A hoisted lock header (presigned URLs) takes effect like the header.
    query = {"x-amz-object-lock-legal-hold": "ON"}
    headers, _ = signer.sign("PUT", f"/{bucket}/q", query=query, headers={"content-md5": md5(b"q")})
    resp = request(address, "PUT", f"/{bucket}/q?x-amz-object-lock-legal-hold=ON", headers, b"q")
    assert resp.status == 200
    assert s3.get_object_legal_hold(Bucket=bucket, Key="q")["LegalHold"] == {"Status": "ON"}


def test_object_lock_over_grpc(server: ServerProcess, actors: dict[str, dict[str, str]]) -> None:
    """The same rules through LightningStorClient: configuration, retention, legal hold, the
    bypass flag of DeleteObject and its permission."""
    owner = LightningStorClient(server.grpc_addr, scope=ACME, **actors["owner"])
    ops = LightningStorClient(server.grpc_addr, scope=ACME, **actors["ops"])
    with owner, ops:
        bucket = f"ol-{uuid.uuid4().hex[:12]}"
        owner.create_bucket(bucket, object_lock_enabled=True)
        assert owner.get_object_lock_configuration(bucket).enabled
        put = owner.put_object(bucket, "r", b"r")
        compliance = common_pb2.ObjectRetention(mode=common_pb2.OBJECT_LOCK_MODE_COMPLIANCE)
        compliance.retain_until.FromDatetime(later(days=1))
        owner.put_object_retention(bucket, "r", compliance, version_id=put.version_id)
        assert owner.get_object_retention(bucket, "r").mode == compliance.mode
        shorter = common_pb2.ObjectRetention(mode=common_pb2.OBJECT_LOCK_MODE_COMPLIANCE)
        shorter.retain_until.FromDatetime(later(hours=1))
        with pytest.raises(AccessDenied):
            ops.put_object_retention(bucket, "r", shorter, bypass_governance_retention=True)
        with pytest.raises(AccessDenied):
            ops.delete_object(
                bucket, "r", version_id=put.version_id, bypass_governance_retention=True
            )
        held = owner.put_object(bucket, "h", b"h")
        owner.put_object_legal_hold(bucket, "h", True)
        assert owner.get_object_legal_hold(bucket, "h", version_id=held.version_id)
        with pytest.raises(AccessDenied):
            ops.delete_object(bucket, "h", version_id=held.version_id)
        gov = owner.put_object(bucket, "g", b"g")
        governance = common_pb2.ObjectRetention(mode=common_pb2.OBJECT_LOCK_MODE_GOVERNANCE)
        governance.retain_until.FromDatetime(later(days=1))
        owner.put_object_retention(bucket, "g", governance)
        with pytest.raises(AccessDenied):  # the editor has no bypass permission
            owner.delete_object(
                bucket, "g", version_id=gov.version_id, bypass_governance_retention=True
            )
        ops.delete_object(bucket, "g", version_id=gov.version_id, bypass_governance_retention=True)
        with owner.get_object(bucket, "r", version_id=put.version_id) as stream:
            assert stream.read() == b"r"


def test_a_retain_until_date_out_of_range_over_grpc(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    """Found by the fuzzer: a Timestamp past year 9999 (or before year 1), which gRPC carries
    and no date is, was a 500; it is InvalidArgument and changes nothing."""
    with LightningStorClient(server.grpc_addr, scope=ACME, **actors["owner"]) as owner:
        bucket = f"ol-{uuid.uuid4().hex[:12]}"
        owner.create_bucket(bucket, object_lock_enabled=True)
        owner.put_object(bucket, "k", b"k")
        for seconds in (253402300800, 2**62, -62135596801):
            for mode in (
                common_pb2.OBJECT_LOCK_MODE_GOVERNANCE,
                common_pb2.OBJECT_LOCK_MODE_COMPLIANCE,
            ):
                retention = common_pb2.ObjectRetention(mode=mode)
                retention.retain_until.seconds = seconds
                with pytest.raises(InvalidArgument):
                    owner.put_object_retention(bucket, "k", retention)
        with pytest.raises(NoSuchObjectLockConfiguration):
            owner.get_object_retention(bucket, "k")


def test_default_retention_reaches_copies_and_uploads(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    """Every write commits through the same place, which gives a new version the default."""
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3)
    rule = {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}
    s3.put_object_lock_configuration(
        Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
    )
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    head = s3.head_object(Bucket=bucket, Key="copy")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert later(hours=23) < head["ObjectLockRetainUntilDate"] < later(hours=25)
    assert "ObjectLockLegalHoldStatus" not in head
    for key, version in (("copy", copied["VersionId"]), ("mp", done["VersionId"])):
        got = s3.get_object_retention(Bucket=bucket, Key=key, VersionId=version)["Retention"]
        assert got["Mode"] == "COMPLIANCE", key
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
        assert code(refused) == "AccessDenied", key


def test_lock_headers_on_copy_and_multipart(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    """CopyObject and CreateMultipartUpload take the lock headers for the new version (never the
    source's lock: a copy of a held version is free)."""
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3)
    src = s3.put_object(
        Bucket=bucket, Key="src", Body=b"s", ContentMD5=md5(b"s"), ObjectLockLegalHoldStatus="ON"
    )["VersionId"]
    until = later(days=1)
    copied = s3.copy_object(
        Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"},
        ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
    )["VersionId"]  # fmt: skip
    free = s3.copy_object(Bucket=bucket, Key="free", CopySource={"Bucket": bucket, "Key": "src"})
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ObjectLockLegalHoldStatus="ON")[
        "UploadId"
    ]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )["VersionId"]  # fmt: skip
    head = s3.head_object(Bucket=bucket, Key="copy", VersionId=copied)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert "ObjectLockLegalHoldStatus" not in head
    assert s3.head_object(Bucket=bucket, Key="mp")["ObjectLockLegalHoldStatus"] == "ON"
    for key, version in (("src", src), ("copy", copied), ("mp", done)):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
        assert code(refused) == "AccessDenied", key
    s3.delete_object(Bucket=bucket, Key="free", VersionId=free["VersionId"])


def test_aws_cli_sets_and_reads_object_lock(
    server: ServerProcess, actors: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """The three configurations through the AWS CLI (six calls, the CLI's start-up dominates)."""
    keys = actors["owner"]
    env = aws_env(keys["access_key"], keys["secret_key"], tmp_path)
    endpoint = "http://" + server.ports["s3"]
    aws = [AWS, "--endpoint-url", endpoint, "s3api"]

    def run(*args: str) -> Any:
        done = subprocess.run(
            [*aws, *args], env=env, check=True, capture_output=True, timeout=120, text=True
        )
        return json.loads(done.stdout) if done.stdout.strip() else None

    s3 = s3_for(server, keys)
    bucket = new_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"cli")["VersionId"]
    config = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}},
    }
    run("put-object-lock-configuration", "--bucket", bucket,
        "--object-lock-configuration", json.dumps(config))  # fmt: skip
    got = run("get-object-lock-configuration", "--bucket", bucket)
    assert got["ObjectLockConfiguration"] == config
    until = later(days=400).strftime("%Y-%m-%dT%H:%M:%SZ")
    run("put-object-retention", "--bucket", bucket, "--key", "k",
        "--retention", json.dumps({"Mode": "COMPLIANCE", "RetainUntilDate": until}))  # fmt: skip
    assert run("get-object-retention", "--bucket", bucket, "--key", "k")["Retention"]["Mode"] == (
        "COMPLIANCE"
    )
    run("put-object-legal-hold", "--bucket", bucket, "--key", "k", "--legal-hold", "Status=ON")
    assert run("get-object-legal-hold", "--bucket", bucket, "--key", "k") == {
        "LegalHold": {"Status": "ON"}
    }
    head = s3.head_object(Bucket=bucket, Key="k")
    assert (head["ObjectLockMode"], head["ObjectLockLegalHoldStatus"]) == ("COMPLIANCE", "ON")
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert code(refused) == "AccessDenied"


def test_a_hold_racing_a_delete_never_holds_a_deleted_version(
    server: ServerProcess, actors: dict[str, dict[str, str]]
) -> None:
    """Both transactions compare the version record: either the delete wins (the hold then finds
    no version) or the hold does (the delete is refused); never both."""
    s3 = s3_for(server, actors["owner"])
    bucket = new_bucket(s3)
    outcomes = set()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(12):
            key = f"race-{i}"
            version = s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"]
            hold = pool.submit(
                s3.put_object_legal_hold,
                Bucket=bucket, Key=key, VersionId=version, LegalHold={"Status": "ON"},
            )  # fmt: skip
            delete = pool.submit(s3.delete_object, Bucket=bucket, Key=key, VersionId=version)
            held, deleted = hold.exception(timeout=60), delete.exception(timeout=60)
            if held is None:
                assert isinstance(deleted, ClientError), key
                assert deleted.response["Error"]["Code"] == "AccessDenied"
                got = s3.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
                assert got["LegalHold"] == {"Status": "ON"}
                outcomes.add("held")
            else:
                assert deleted is None, key
                assert isinstance(held, ClientError)
                assert held.response["Error"]["Code"] == "NoSuchVersion"
                outcomes.add("deleted")
    assert outcomes  # which outcomes occur depends on timing; each was checked
