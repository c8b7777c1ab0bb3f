"""S3 ACLs and Object Ownership on a real server (embedded IAM): canned ACLs and grant headers
on every write path, ?acl over boto3, the AWS CLI and gRPC, anonymous callers (raw HTTP, no
credentials) as AllUsers, another org's principal named by a grant, the public access block's
two ACL flags, BucketOwnerEnforced, explain naming the grant, and the bad input of issue 13."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor.v1 import common_pb2
from lightningstor_client import AsyncLightningStorClient
from lightningstor_types.errors import AccessDenied, InvalidRequest
from tests.access.cluster import (
    BOB_ARN,
    ORGA,
    Cluster,
    anonymous,
)
from tests.awscli import AWS, aws_env

pytestmark = pytest.mark.timeout(120)

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
ALICE_ARN = "arn:aws:iam::orga:user/alice"


def _code(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call()
    resp = exc.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def _get(cluster: Cluster, bucket: str, key: str = "k") -> int:
    return int(anonymous(cluster, "GET", f"/orga%3A{bucket}/{key}").status)


def _grants(acl: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (g["Grantee"].get("ID") or g["Grantee"].get("URI", ""), g["Permission"])
        for g in acl["Grants"]
    )


def test_public_read_serves_anonymous_gets_and_refuses_anonymous_puts(
    cluster: Cluster, bucket: str
) -> None:
    s3 = cluster.s3("alice")
    assert _get(cluster, bucket) == 403
    s3.put_object(Bucket=bucket, Key="pub", Body=b"open", ACL="public-read")
    got = anonymous(cluster, "GET", f"/orga%3A{bucket}/pub")
    assert (got.status, got.body) == (200, b"open")
    assert _get(cluster, bucket) == 403  # its neighbour stays private
    for method, where, body in (
        ("PUT", f"/orga%3A{bucket}/pub", b"x"),
        ("DELETE", f"/orga%3A{bucket}/pub", None),
        ("GET", f"/orga%3A{bucket}", None),  # the bucket's ACL does not list publicly
        ("GET", f"/orga%3A{bucket}/pub?acl", None),
    ):
        resp = anonymous(cluster, method, where, body)
        assert (resp.status, resp.code) == (403, "AccessDenied"), (method, where)
    acl = s3.get_object_acl(Bucket=bucket, Key="pub")
    assert acl["Owner"] == {"ID": ALICE_ARN, "DisplayName": "alice"}
    assert _grants(acl) == [(ALICE_ARN, "FULL_CONTROL"), (ALL_USERS, "READ")]
    s3.put_object_acl(Bucket=bucket, Key="pub", ACL="private")
    assert _get(cluster, bucket, "pub") == 403
    # A bucket's public-read lists; public-read-write also takes anonymous writes.
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert anonymous(cluster, "GET", f"/orga%3A{bucket}").status == 200
    assert anonymous(cluster, "PUT", f"/orga%3A{bucket}/anon", b"x").status == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert anonymous(cluster, "PUT", f"/orga%3A{bucket}/anon", b"x").status == 200
    assert _get(cluster, bucket, "anon") == 403  # the writer's object is private
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert anonymous(cluster, "GET", f"/orga%3A{bucket}").status == 403
    assert _grants(s3.get_bucket_acl(Bucket=bucket)) == [(ALICE_ARN, "FULL_CONTROL")]


def test_every_write_path_applies_the_acl(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    s3.copy_object(
        Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "k"}, ACL="public-read"
    )
    up = s3.create_multipart_upload(Bucket=bucket, Key="multi", ACL="public-read")
    part = s3.upload_part(
        Bucket=bucket, Key="multi", UploadId=up["UploadId"], PartNumber=1, Body=b"parts"
    )
    s3.complete_multipart_upload(
        Bucket=bucket, Key="multi", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    s3.put_object(Bucket=bucket, Key="granted", Body=b"g", GrantRead=f'uri="{ALL_USERS}"')
    for key in ("copied", "multi", "granted"):
        assert _get(cluster, bucket, key) == 200, key
    name = f"{bucket}-made-public"
    s3.create_bucket(Bucket=name, ACL="public-read")
    assert anonymous(cluster, "GET", f"/orga%3A{name}").status == 200
    s3.delete_bucket(Bucket=name)


def test_aws_cli_cp_acl_public_read(cluster: Cluster, bucket: str, tmp_path: Path) -> None:
    keys = cluster.keys["alice"]
    env = aws_env(keys["access_key"], keys["secret_key"], tmp_path)
    source = tmp_path / "page.html"
    source.write_bytes(b"<p>hello</p>")
    aws = AWS
    endpoint = "http://" + cluster.server.ports["s3"]
    done = subprocess.run(
        [aws, "--endpoint-url", endpoint, "s3", "cp", "--acl", "public-read", str(source),
         f"s3://{bucket}/page.html"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = anonymous(cluster, "GET", f"/orga%3A{bucket}/page.html")
    assert (got.status, got.body) == (200, b"<p>hello</p>")
    shown = subprocess.run(
        [aws, "--endpoint-url", endpoint, "s3api", "get-object-acl", "--bucket", bucket,
         "--key", "page.html"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert ALL_USERS in shown.stdout


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed")
def test_rclone_acl_option(cluster: Cluster, bucket: str, tmp_path: Path) -> None:
    keys = cluster.keys["alice"]
    env = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path),
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
        "RCLONE_CONFIG_LS_TYPE": "s3", "RCLONE_CONFIG_LS_PROVIDER": "Other",
        "RCLONE_CONFIG_LS_ACCESS_KEY_ID": keys["access_key"],
        "RCLONE_CONFIG_LS_SECRET_ACCESS_KEY": keys["secret_key"],
        "RCLONE_CONFIG_LS_ENDPOINT": "http://" + cluster.server.ports["s3"],
        "RCLONE_CONFIG_LS_REGION": "us-east-1", "RCLONE_CONFIG_LS_ACL": "public-read",
    }  # fmt: skip
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "note.txt").write_bytes(b"shared")
    done = subprocess.run(
        ["rclone", "copy", str(tmp_path / "up"), f"ls:{bucket}/r"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = anonymous(cluster, "GET", f"/orga%3A{bucket}/r/note.txt")
    assert (got.status, got.body) == (200, b"shared")


def test_public_access_block_acl_flags(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    s3.put_object(Bucket=bucket, Key="pub", Body=b"open", ACL="public-read")
    assert _get(cluster, bucket, "pub") == 200
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True}
    )
    assert _get(cluster, bucket, "pub") == 403  # kept, ignored
    assert (ALL_USERS, "READ") in _grants(s3.get_object_acl(Bucket=bucket, Key="pub"))
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    assert _get(cluster, bucket, "pub") == 200  # not ignored any more; new ones refused:
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", ACL="public-read"),
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", ACL="authenticated-read"),
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read"),
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", GrantRead=f'uri="{ALL_USERS}"'),
    ):
        assert _code(call) == ("AccessDenied", 403)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="new")
    assert _get(cluster, bucket) == 403
    s3.put_object(Bucket=bucket, Key="new", Body=b"x", ACL="private")  # not public: fine
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert _get(cluster, bucket) == 200


def test_grant_to_another_orgs_principal_lets_exactly_it_read(
    cluster: Cluster, bucket: str
) -> None:
    from botocore.handlers import validate_bucket_name

    alice = cluster.s3("alice")
    bob, eve = cluster.s3("bob"), cluster.s3("eve")
    for client in (bob, eve):
        client.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    shared = f"orga:{bucket}"
    assert _code(lambda: bob.get_object(Bucket=shared, Key="k")) == ("AccessDenied", 403)
    alice.put_object_acl(
        Bucket=bucket, Key="k", GrantRead=f'id="{BOB_ARN}"', GrantFullControl=f'id="{ALICE_ARN}"'
    )
    assert bob.get_object(Bucket=shared, Key="k")["Body"].read() == b"secret"
    with cluster.grpc("bob", scope=ORGA) as c:
        assert c.get_object(bucket, "k").read() == b"secret"
        for refused in (
            lambda: c.put_object(bucket, "x", b"1"),
            lambda: c.list_objects(bucket),
            lambda: c.delete_object(bucket, "k"),
            lambda: c.get_object_acl(bucket, "k"),
        ):
            with pytest.raises(AccessDenied):
                refused()
    assert _code(lambda: eve.get_object(Bucket=shared, Key="k")) == ("AccessDenied", 403)
    assert _get(cluster, bucket) == 403
    # A bucket grant of WRITE lets bob write (and only write) into alice's bucket.
    alice.put_bucket_acl(
        Bucket=bucket, GrantWrite=f'id="{BOB_ARN}"', GrantFullControl=f'id="{ALICE_ARN}"'
    )
    bob.put_object(Bucket=shared, Key="from-bob", Body=b"hi")
    assert _code(lambda: bob.list_objects_v2(Bucket=shared)) == ("AccessDenied", 403)
    assert _code(lambda: eve.put_object(Bucket=shared, Key="e", Body=b"1")) == ("AccessDenied", 403)
    # ObjectWriter (the default): bob owns what he wrote, and alice's org still reads it.
    assert alice.get_object_acl(Bucket=bucket, Key="from-bob")["Owner"]["ID"] == BOB_ARN
    assert alice.get_object(Bucket=bucket, Key="from-bob")["Body"].read() == b"hi"


def test_acls_over_grpc(cluster: Cluster, bucket: str) -> None:
    with cluster.grpc("alice") as c:
        acl = c.get_bucket_acl(bucket)
        assert acl.owner_id == ALICE_ARN
        assert [(g.id, g.permission) for g in acl.grants] == [(ALICE_ARN, "FULL_CONTROL")]
        c.put_object_acl(bucket, "k", acl="public-read")
        got = c.get_object_acl(bucket, "k")
        assert ("Group", ALL_USERS, "READ") in [
            (g.grantee_type, g.uri, g.permission) for g in got.grants
        ]
        bob_reads = common_pb2.Grant(grantee_type="CanonicalUser", id=BOB_ARN, permission="READ")
        with pytest.raises(InvalidRequest):
            c.put_bucket_acl(bucket, acl="public-read", grants=[bob_reads])
        c.put_bucket_acl(bucket, grants=[bob_reads])
        assert [g.id for g in c.get_bucket_acl(bucket).grants] == [BOB_ARN]
    with cluster.grpc("bob", scope=ORGA) as bob:
        assert [o.key for o in bob.list_objects(bucket).objects] == ["k"]

    async def from_async() -> str:
        async with AsyncLightningStorClient(
            cluster.server.grpc_addr, scope=None, timeout=20, **cluster.keys["alice"]
        ) as a:
            await a.put_bucket_ownership_controls(bucket, "BucketOwnerPreferred")
            return await a.get_bucket_ownership_controls(bucket)

    import asyncio

    assert asyncio.run(from_async()) == "BucketOwnerPreferred"


def test_bucket_owner_enforced_turns_acls_off(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    assert _code(lambda: s3.get_bucket_ownership_controls(Bucket=bucket)) == (
        "OwnershipControlsNotFoundError",
        404,
    )
    s3.put_object(Bucket=bucket, Key="pub", Body=b"open", ACL="public-read")
    assert _get(cluster, bucket, "pub") == 200
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=enforced)
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == enforced
    assert _get(cluster, bucket, "pub") == 403  # grants kept but without effect
    assert _grants(s3.get_object_acl(Bucket=bucket, Key="pub")) == [(ALICE_ARN, "FULL_CONTROL")]
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="n", Body=b"x", ACL="public-read"),
        lambda: s3.put_object(Bucket=bucket, Key="n", Body=b"x", GrantRead=f'id="{BOB_ARN}"'),
        lambda: s3.put_object_acl(Bucket=bucket, Key="pub", ACL="public-read"),
        lambda: s3.put_bucket_acl(Bucket=bucket, ACL="authenticated-read"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="n", ACL="public-read"),
    ):
        assert _code(call) == ("AccessControlListNotSupported", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="n")
    s3.put_object(Bucket=bucket, Key="n", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="n", Body=b"x", ACL="private")
    # Turning ACLs off is refused while the bucket's own ACL grants others.
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert _code(
        lambda: s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=enforced)
    ) == ("InvalidBucketAclWithObjectOwnership", 400)
    name = f"{bucket}-enforced"
    assert _code(
        lambda: s3.create_bucket(
            Bucket=name, ObjectOwnership="BucketOwnerEnforced", ACL="public-read"
        )
    ) == ("AccessControlListNotSupported", 400)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


BAD_HEADERS = {
    "unknown canonical id": (
        {"GrantRead": 'id="arn:aws:iam::orgb:user/nobody"'},
        "InvalidArgument",
    ),
    "bare id": ({"GrantRead": 'id="bob"'}, "InvalidArgument"),
    "email grantee": ({"GrantRead": 'emailAddress="bob@example.com"'}, "InvalidArgument"),
    "canned and grant": (
        {"ACL": "public-read", "GrantRead": f'id="{BOB_ARN}"'},
        "InvalidRequest",
    ),
    "unknown group": ({"GrantRead": 'uri="http://example.com/everyone"'}, "InvalidArgument"),
    "not a grantee list": ({"GrantRead": "bob"}, "InvalidArgument"),
}


@pytest.mark.parametrize("why", list(BAD_HEADERS))
def test_bad_acl_headers_are_refused_and_change_nothing(
    cluster: Cluster, bucket: str, why: str
) -> None:
    s3 = cluster.s3("alice")
    extra, code = BAD_HEADERS[why]
    before = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert _code(lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", **extra)) == (code, 400)
    assert _code(lambda: s3.put_object_acl(Bucket=bucket, Key="k", **extra)) == (code, 400)
    assert _code(lambda: s3.put_bucket_acl(Bucket=bucket, **extra)) == (code, 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="new")
    assert s3.get_object_acl(Bucket=bucket, Key="k")["Grants"] == before


def _policy(grantee: str, permission: str = "READ") -> dict[str, Any]:
    return {
        "Owner": {"ID": ALICE_ARN},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": ALICE_ARN}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": grantee}, "Permission": permission},
        ],
    }


def test_bad_access_control_policies(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    nobody = "arn:aws:iam::orgb:user/nobody"
    assert _code(lambda: s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=_policy(nobody))) == (
        "InvalidArgument",
        400,
    )
    assert _code(
        lambda: s3.put_object_acl(
            Bucket=bucket, Key="k", AccessControlPolicy=_policy(BOB_ARN, "ALL")
        )
    ) == ("MalformedACLError", 400)
    foreign = {**_policy(BOB_ARN), "Owner": {"ID": BOB_ARN}}
    assert _code(
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy=foreign)
    ) == ("AccessDenied", 403)
    signer_target = f"/{bucket}?acl="
    from tests.s3 import rawhttp

    keys = cluster.keys["alice"]
    address = cluster.server.ports["s3"]
    signer = rawhttp.Signer(address, keys["access_key"], keys["secret_key"])
    for body in (b"<AccessControlPolicy><Owner>", b"<Other/>", b"<AccessControlPolicy/>"):
        headers, _ = signer.sign("PUT", f"/{bucket}", query={"acl": ""})
        resp = rawhttp.request(address, "PUT", signer_target, headers, body)
        assert (resp.status, resp.code) == (400, "MalformedACLError"), body
    assert _grants(s3.get_bucket_acl(Bucket=bucket)) == [(ALICE_ARN, "FULL_CONTROL")]
    # The document form works, and reads back as written.
    s3.put_bucket_acl(Bucket=bucket, AccessControlPolicy=_policy(BOB_ARN))
    assert _grants(s3.get_bucket_acl(Bucket=bucket)) == [
        (ALICE_ARN, "FULL_CONTROL"),
        (BOB_ARN, "READ"),
    ]


def test_explain_names_the_acl_grant(cluster: Cluster, bucket: str) -> None:
    with cluster.grpc("alice") as alice:
        alice.put_object_acl(
            bucket,
            "k",
            grants=[common_pb2.Grant(grantee_type="CanonicalUser", id=BOB_ARN, permission="READ")],
        )
        bob = alice.explain_access(bucket, "s3:GetObject", principal="orgb/bob", key="k")
        assert (bob.allowed, bob.reason) == (
            True,
            f"object ACL grant READ to {BOB_ARN} allows",
        )
        assert ("acl", f"object ACL grant READ to {BOB_ARN}", "allow", True) in [
            (r.source, r.rule, r.effect, r.applied) for r in bob.considered
        ]
        eve = alice.explain_access(bucket, "s3:GetObject", principal="orgb/eve", key="k")
        assert not eve.allowed
        assert eve.reason.endswith("; no bucket policy; no ACL grant"), eve.reason
        writes = alice.explain_access(bucket, "s3:PutObject", principal="orgb/bob", key="k")
        assert not writes.allowed


def test_object_acls_are_per_version(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="v", Body=b"old", ACL="public-read")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="v", Body=b"new")["VersionId"]
    assert _get(cluster, bucket, "v") == 403  # the current version is private
    got = anonymous(cluster, "GET", f"/orga%3A{bucket}/v?versionId={old}")
    assert (got.status, got.body) == (200, b"old")
    s3.put_object_acl(Bucket=bucket, Key="v", VersionId=new, ACL="public-read")
    got = anonymous(cluster, "GET", f"/orga%3A{bucket}/v")
    assert (got.status, got.body) == (200, b"new")
    acl = s3.get_object_acl(Bucket=bucket, Key="v", VersionId=old)
    assert (ALL_USERS, "READ") in _grants(acl)
    s3.put_object_acl(Bucket=bucket, Key="v", VersionId=old, ACL="private")
    assert anonymous(cluster, "GET", f"/orga%3A{bucket}/v?versionId={old}").status == 403
    assert _get(cluster, bucket, "v") == 200


def test_bucket_owner_preferred_gives_the_bucket_owner_what_others_write(
    cluster: Cluster, bucket: str
) -> None:
    from botocore.handlers import validate_bucket_name

    alice, bob = cluster.s3("alice"), cluster.s3("bob")
    bob.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    alice.put_bucket_acl(
        Bucket=bucket, GrantWrite=f'id="{BOB_ARN}"', GrantFullControl=f'id="{ALICE_ARN}"'
    )
    preferred = {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    alice.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=preferred)
    shared = f"orga:{bucket}"
    bob.put_object(Bucket=shared, Key="given", Body=b"1", ACL="bucket-owner-full-control")
    bob.put_object(Bucket=shared, Key="kept", Body=b"2")
    up = bob.create_multipart_upload(Bucket=shared, Key="multi", ACL="bucket-owner-full-control")
    part = bob.upload_part(
        Bucket=shared, Key="multi", UploadId=up["UploadId"], PartNumber=1, Body=b"3"
    )
    bob.complete_multipart_upload(
        Bucket=shared, Key="multi", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    owners = {
        key: alice.get_object_acl(Bucket=bucket, Key=key)["Owner"]["ID"]
        for key in ("given", "kept", "multi")
    }
    assert owners == {"given": ALICE_ARN, "kept": BOB_ARN, "multi": ALICE_ARN}


def test_each_version_is_judged_by_its_own_acl_over_grpc_and_as_a_copy_source(
    cluster: Cluster, bucket: str
) -> None:
    """A grant on the current version opens no older one: not to a gRPC read naming the old
    version, nor to a copy whose source names it (S3 and gRPC)."""
    from botocore.handlers import validate_bucket_name

    alice, bob = cluster.s3("alice"), cluster.s3("bob")
    bob.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    alice.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    alice.put_bucket_acl(
        Bucket=bucket, GrantWrite=f'id="{BOB_ARN}"', GrantFullControl=f'id="{ALICE_ARN}"'
    )
    old = alice.put_object(Bucket=bucket, Key="v", Body=b"private")["VersionId"]
    new = alice.put_object(Bucket=bucket, Key="v", Body=b"shared", GrantRead=f'id="{BOB_ARN}"')[
        "VersionId"
    ]
    with cluster.grpc("bob", scope=ORGA) as c:
        assert c.get_object(bucket, "v").read() == b"shared"
        assert c.get_object(bucket, "v", version_id=new).read() == b"shared"
        with pytest.raises(AccessDenied):
            c.get_object(bucket, "v", version_id=old).read()
        with pytest.raises(AccessDenied):
            c.head_object(bucket, "v", version_id=old)
    shared = f"orga:{bucket}"
    for version, allowed in ((old, False), (new, True)):
        source = {"Bucket": shared, "Key": "v", "VersionId": version}
        if allowed:
            bob.copy_object(Bucket=shared, Key="copied", CopySource=source)
        else:
            assert _code(
                lambda s=source: bob.copy_object(Bucket=shared, Key="copied", CopySource=s)
            ) == ("AccessDenied", 403)
    assert alice.get_object(Bucket=bucket, Key="copied")["Body"].read() == b"shared"
