"""Bucket policies on a real server (embedded IAM): put/get/delete/status over S3 and gRPC,
bad documents refused without change, cross-org sharing over gRPC, explicit Deny beating an
org admin, the owner-lockout recovery, and a condition on the caller's address."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor.v1 import common_pb2
from lightningstor_client import LightningStorClient
from lightningstor_types.errors import (
    AccessDenied,
    InvalidArgument,
    MalformedPolicy,
    NoSuchBucketPolicy,
)
from tests.access.cluster import BINDINGS, BOB_ARN, ORGA, Cluster, anonymous
from tests.iam.iamproc import write_config
from tests.integration.server import clean_env, start_server
from tests.s3 import rawhttp

pytestmark = pytest.mark.timeout(120)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def read_for_bob(bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "Sid": "BobReads", "Effect": "Allow", "Principal": {"AWS": BOB_ARN},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*", **extra,
    }  # fmt: skip


def test_put_get_delete_and_status_over_s3(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_policy(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    text = doc(read_for_bob(bucket))
    s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == text
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    public = doc({**read_for_bob(bucket), "Principal": "*"})
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_policy(Bucket=bucket)
    with cluster.grpc("alice") as c, pytest.raises(NoSuchBucketPolicy):
        c.get_bucket_policy(bucket)


BAD = {
    "bare id of another org": lambda b: doc({**read_for_bob(b), "Principal": {"AWS": "bob"}}),
    "NotPrincipal with Allow": lambda b: doc(
        {k: v for k, v in read_for_bob(b).items() if k != "Principal"}
        | {"NotPrincipal": {"AWS": BOB_ARN}}
    ),
    "wildcard in the service": lambda b: doc({**read_for_bob(b), "Action": "s*:GetObject"}),
    "another bucket": lambda b: doc({**read_for_bob(b), "Resource": "arn:aws:s3:::other/*"}),
    "unknown condition key": lambda b: doc(
        {**read_for_bob(b), "Condition": {"StringEquals": {"s3:no-such-key": "x"}}}
    ),
    "unknown operator": lambda b: doc(
        {**read_for_bob(b), "Condition": {"StringSortOf": {"aws:UserAgent": "x"}}}
    ),
    "21 KiB": lambda b: doc({**read_for_bob(b), "Sid": "x" * 21 * 1024}),
    "not JSON": lambda b: "{not json",
    # found by the fuzzer: json.loads raised RecursionError (a 500) and read \ud800 as a lone
    # surrogate, which the error message then could not carry (the connection was cut)
    "nested past any depth": lambda b: '{"Statement": ' + "[" * 5000 + "]" * 5000 + "}",
    "a lone surrogate": lambda b: '{"\\ud800Version": "2012-10-17", "Statement": []}',
    "a lone surrogate in a value": lambda b: doc({**read_for_bob(b), "Sid": "\ud800"}),
}


@pytest.mark.parametrize("why", list(BAD))
def test_bad_policy_is_refused_and_changes_nothing(cluster: Cluster, bucket: str, why: str) -> None:
    s3 = cluster.s3("alice")
    good = doc(read_for_bob(bucket))
    s3.put_bucket_policy(Bucket=bucket, Policy=good)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=BAD[why](bucket))
    assert exc.value.response["Error"]["Code"] == "MalformedPolicy"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with cluster.grpc("alice") as c:
        with pytest.raises(MalformedPolicy):
            c.put_bucket_policy(bucket, BAD[why](bucket))
        assert c.get_bucket_policy(bucket) == good


def test_cross_org_grant_lets_exactly_that_principal_read_over_grpc(
    cluster: Cluster, bucket: str
) -> None:
    with cluster.grpc("bob", scope=ORGA) as bob:
        with pytest.raises(AccessDenied):
            bob.get_object(bucket, "k").read()
        with cluster.grpc("alice") as alice:
            alice.put_bucket_policy(bucket, doc(read_for_bob(bucket)))
        assert bob.get_object(bucket, "k").read() == b"secret"
        with pytest.raises(AccessDenied):
            bob.put_object(bucket, "x", b"1")
        with pytest.raises(AccessDenied):
            bob.list_objects(bucket)
        with pytest.raises(AccessDenied):
            bob.delete_object(bucket, "k")
        with pytest.raises(AccessDenied):
            bob.get_bucket_policy(bucket)
    with cluster.grpc("eve", scope=ORGA) as eve, pytest.raises(AccessDenied):
        eve.get_object(bucket, "k").read()


def test_explicit_deny_beats_the_org_admin(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    deny = {
        "Sid": "NoDeletes", "Effect": "Deny", "Principal": "*",
        "Action": ["s3:DeleteObject"], "Resource": f"arn:aws:s3:::{bucket}/*",
    }  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(deny))
    with pytest.raises(ClientError) as exc:
        s3.delete_object(Bucket=bucket, Key="k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    with cluster.grpc("alice") as c:
        with pytest.raises(AccessDenied):
            c.delete_object(bucket, "k")
        assert c.get_object(bucket, "k").read() == b"secret"  # only what is denied


def test_a_policy_that_locks_everyone_out_can_be_deleted_by_the_org_admin(
    cluster: Cluster, bucket: str
) -> None:
    s3 = cluster.s3("alice")
    lockout = {
        "Sid": "Lockout", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=doc(lockout))
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    with cluster.grpc("bob", scope=ORGA) as bob, pytest.raises(AccessDenied):
        bob.delete_bucket_policy(bucket)  # the recovery is the owner org's, nobody else's
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"secret"


@pytest.mark.parametrize(("cidr", "allowed"), [("127.0.0.0/8", True), ("10.0.0.0/8", False)])
def test_source_ip_condition(cluster: Cluster, bucket: str, cidr: str, allowed: bool) -> None:
    condition = {"IpAddress": {"aws:SourceIp": cidr}}
    with cluster.grpc("alice") as alice:
        alice.put_bucket_policy(bucket, doc(read_for_bob(bucket, Condition=condition)))
    with cluster.grpc("bob", scope=ORGA) as bob:
        if allowed:
            assert bob.get_object(bucket, "k").read() == b"secret"
        else:
            with pytest.raises(AccessDenied):
                bob.get_object(bucket, "k").read()


def test_public_read_policy_serves_anonymous_gets_only(cluster: Cluster, bucket: str) -> None:
    target = f"/orga%3A{bucket}/k"
    before = anonymous(cluster, "GET", target)
    assert (before.status, before.code) == (403, "AccessDenied")
    public = {
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
    }  # fmt: skip
    cluster.s3("alice").put_bucket_policy(Bucket=bucket, Policy=doc(public))
    got = anonymous(cluster, "GET", target)
    assert (got.status, got.body) == (200, b"secret")
    for method, where, body in (
        ("PUT", f"/orga%3A{bucket}/new", b"x"),
        ("DELETE", target, None),
        ("GET", f"/orga%3A{bucket}", None),  # listing is not public
        ("GET", f"/{bucket}/k", None),  # no scope named: anonymous callers have none
        ("GET", "/", None),
    ):
        resp = anonymous(cluster, method, where, body)
        assert (resp.status, resp.code) == (403, "AccessDenied"), (method, where)
    # A presigned URL of a deleted key is refused as such, never served as anonymous.
    with cluster.grpc("admin", scope=ORGA) as admin:
        made = admin.create_access_key(principal_id="alice")
        url = rawhttp.Signer(
            cluster.server.ports["s3"], made.access_key_id, made.secret_access_key or ""
        ).presign("GET", target)
        assert anonymous(cluster, "GET", url).status == 200
        admin.delete_access_key(made.access_key_id)
    refused = anonymous(cluster, "GET", url)
    assert (refused.status, refused.code) == (403, "InvalidAccessKeyId")
    with cluster.grpc("alice") as c:
        c.delete_bucket_policy(bucket)
    after = anonymous(cluster, "GET", target)
    assert (after.status, after.code) == (403, "AccessDenied")


def test_public_access_block_turns_public_access_off(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    target = f"/orga%3A{bucket}/k"
    public = doc({**read_for_bob(bucket), "Sid": "PublicRead", "Principal": "*"})
    with pytest.raises(ClientError) as exc:
        s3.get_public_access_block(Bucket=bucket)
    assert exc.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": True}
    )
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {
        "BlockPublicAcls": False, "IgnorePublicAcls": False,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": False,
    }  # fmt: skip
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    with cluster.grpc("alice") as c, pytest.raises(NoSuchBucketPolicy):
        c.get_bucket_policy(bucket)  # refused, nothing changed
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True}
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=public)  # allowed, but restricted
    assert anonymous(cluster, "GET", target).status == 403
    with cluster.grpc("bob", scope=ORGA) as bob, pytest.raises(AccessDenied):
        bob.get_object(bucket, "k").read()
    s3.delete_public_access_block(Bucket=bucket)
    assert anonymous(cluster, "GET", target).status == 200
    with cluster.grpc("bob", scope=ORGA) as bob:
        assert bob.get_object(bucket, "k").read() == b"secret"


def test_explain_answers_with_the_rule_that_decided(cluster: Cluster, bucket: str) -> None:
    deny = {
        "Sid": "NoDeletes", "Effect": "Deny", "Principal": "*",
        "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*",
    }  # fmt: skip
    with cluster.grpc("alice") as alice:
        alice.put_bucket_policy(bucket, doc(read_for_bob(bucket), deny))
        bob = alice.explain_access(bucket, "s3:GetObject", principal="orgb/bob", key="k")
        assert (bob.allowed, bob.reason) == (True, 'bucket policy statement "BobReads" allows')
        assert ("policy", 'statement "BobReads"', "allow", True) in [
            (r.source, r.rule, r.effect, r.applied) for r in bob.considered
        ]
        eve = alice.explain_access(bucket, "s3:GetObject", principal="orgb/eve", key="k")
        assert not eve.allowed
        me = alice.explain_access(bucket, "s3:DeleteObject", principal="orga/alice", key="k")
        assert (me.allowed, me.reason) == (
            False,
            'explicit deny by bucket policy statement "NoDeletes"',
        )
        mine = alice.explain_access(
            bucket, "lightningstor:objects:get", principal="orga/alice", key="k"
        )
        assert mine.allowed and mine.reason.startswith("role admin")
        anon = alice.explain_access(bucket, "s3:GetObject", key="k")
        assert not anon.allowed
        # What explain says is what a real request gets.
        with cluster.grpc("bob", scope=ORGA) as real:
            assert real.get_object(bucket, "k").read() == b"secret"
        with pytest.raises(InvalidArgument):
            alice.explain_access(bucket, "s3:NoSuchAction", principal="orgb/bob")
    # A tenant asks only about its own buckets; bob may not ask about alice's.
    with cluster.grpc("bob") as c, pytest.raises(AccessDenied):
        c.explain_access(bucket, "s3:GetObject", principal="orgb/bob", key="k", scope=ORGA)
    # The operator asks about any bucket; the CLI prints the same answer.
    with cluster.grpc("admin") as admin:
        answer = admin.explain_access(
            bucket, "s3:GetObject", principal="orgb/bob", key="k", scope=ORGA
        )
        assert answer.allowed
    done = subprocess.run(
        [sys.executable, "-m", "lightningstor_client.cli", "--endpoint", cluster.server.grpc_addr,
         "explain", f"{bucket}/k", "--scope", "orga", "--principal", "orgb/eve",
         "--action", "s3:GetObject"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**clean_env(), "LIGHTNINGSTOR_ACCESS_KEY_ID": cluster.keys["admin"]["access_key"],
             "LIGHTNINGSTOR_SECRET_ACCESS_KEY": cluster.keys["admin"]["secret_key"]},
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert done.stdout.startswith("DENIED: ")
    assert "policy deny  does not apply" in done.stdout


def test_cross_org_grant_over_s3_with_the_org_qualified_name(cluster: Cluster, bucket: str) -> None:
    from botocore.handlers import validate_bucket_name

    bob, eve = cluster.s3("bob"), cluster.s3("eve")
    for client in (bob, eve):  # boto3 refuses ':' in a bucket name on the client side
        client.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    shared = f"orga:{bucket}"
    with pytest.raises(ClientError) as exc:
        bob.get_object(Bucket=shared, Key="k")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    cluster.s3("alice").put_bucket_policy(Bucket=bucket, Policy=doc(read_for_bob(bucket)))
    assert bob.get_object(Bucket=shared, Key="k")["Body"].read() == b"secret"
    for call in (
        lambda: bob.put_object(Bucket=shared, Key="x", Body=b"1"),
        lambda: bob.list_objects_v2(Bucket=shared),
        lambda: bob.delete_object(Bucket=shared, Key="k"),
        lambda: eve.get_object(Bucket=shared, Key="k"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
    # Unqualified, the name is still bob's own scope: his (absent) bucket.
    with pytest.raises(ClientError) as exc:
        bob.get_object(Bucket=bucket, Key="k")
    assert exc.value.response["Error"]["Code"] == "NoSuchBucket"


def test_forwarded_client_address_and_scheme_only_from_trusted_proxies(
    cluster: Cluster, bucket: str, tmp_path: Path
) -> None:
    def policy(name: str) -> str:
        return doc({
            "Sid": "OfficeOverTls", "Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"},
                          "Bool": {"aws:SecureTransport": "true"}},
        })  # fmt: skip

    forwarded = {"X-Forwarded-For": "198.51.100.9, 203.0.113.7", "X-Forwarded-Proto": "https"}

    def get(address: str, name: str, **headers: str) -> int:
        return rawhttp.request(
            address, "GET", f"/orga%3A{name}/k", {"Host": address, **headers}
        ).status

    # This server trusts no proxy: the headers change nothing.
    cluster.s3("alice").put_bucket_policy(Bucket=bucket, Policy=policy(bucket))
    assert get(cluster.server.ports["s3"], bucket, **forwarded) == 403
    config = write_config(
        tmp_path / "proxied.toml", BINDINGS + '\n[server]\ntrusted_proxies = ["127.0.0.0/8"]\n'
    )
    proxied = start_server(tmp_path / "proxied", env={"LIGHTNINGSTOR_CONFIG": str(config)})
    try:
        with LightningStorClient(proxied.grpc_addr, scope=ORGA, **proxied.admin_keys()) as c:
            c.create_bucket("office")
            c.put_object("office", "k", b"secret")
            c.put_bucket_policy("office", policy("office"))
        address = proxied.ports["s3"]
        assert get(address, "office", **forwarded) == 200
        assert get(address, "office", **{**forwarded, "X-Forwarded-Proto": "http"}) == 403
        assert get(address, "office", **{**forwarded, "X-Forwarded-For": "198.51.100.9"}) == 403
        assert get(address, "office") == 403  # the peer itself: loopback, plain HTTP
    finally:
        proxied.stop()


def test_owner_id_is_the_canonical_identity(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    listing = s3.list_buckets()
    assert listing["Owner"] == {"ID": "arn:aws:iam::orga:user/alice", "DisplayName": "alice"}
    s3.put_object(Bucket=bucket, Key="mine", Body=b"1")
    page = s3.list_objects_v2(Bucket=bucket, Prefix="mine", FetchOwner=True)
    assert page["Contents"][0]["Owner"]["ID"] == "arn:aws:iam::orga:user/alice"


ROWS = {  # how the bucket is shared -> who may read (alice owns it; writes stay hers alone)
    "private": {"alice"},
    "policy names bob": {"alice", "bob"},
    "public": {"alice", "bob", "eve", "anon"},
    "public but restricted": {"alice"},
    "ACL grants bob": {"alice", "bob"},
    "public-read ACL": {"alice", "bob", "eve", "anon"},
    "authenticated-read ACL": {"alice", "bob", "eve"},
    "public-read ACL but ignored": {"alice"},
    "public-read ACL, ACLs off": {"alice"},
}


def _share(row: str, bucket: str, alice: LightningStorClient) -> None:
    if row in ("policy names bob", "public", "public but restricted"):
        principal: Any = {"AWS": BOB_ARN} if row == "policy names bob" else "*"
        if row == "public but restricted":
            alice.put_public_access_block(bucket, restrict_public_buckets=True)
        alice.put_bucket_policy(bucket, doc({**read_for_bob(bucket), "Principal": principal}))
    elif row == "ACL grants bob":
        grant = common_pb2.Grant(grantee_type="CanonicalUser", id=BOB_ARN, permission="READ")
        alice.put_object_acl(bucket, "k", grants=[grant])
    elif row == "authenticated-read ACL":
        alice.put_object_acl(bucket, "k", acl="authenticated-read")
    elif row.startswith("public-read ACL"):
        alice.put_object_acl(bucket, "k", acl="public-read")
        if row.endswith("ignored"):
            alice.put_public_access_block(bucket, ignore_public_acls=True)
        elif row.endswith("ACLs off"):
            alice.put_bucket_ownership_controls(bucket, "BucketOwnerEnforced")


@pytest.mark.parametrize("row", list(ROWS))
def test_sharing_matrix(cluster: Cluster, bucket: str, row: str) -> None:
    """Each way of sharing (bucket policy, ACL, public, blocked), each caller, each API; and
    explain agrees with every answer."""
    from botocore.handlers import validate_bucket_name

    with cluster.grpc("alice") as alice:
        _share(row, bucket, alice)
    readers = ROWS[row]
    for who in ("alice", "bob", "eve", "anon"):
        where = (row, who)
        if who == "anon":
            got = anonymous(cluster, "GET", f"/orga%3A{bucket}/k")
            assert (got.status == 200) == (who in readers), where
            put = anonymous(cluster, "PUT", f"/orga%3A{bucket}/x", b"1")
            assert put.status == 403, where
        else:
            s3 = cluster.s3(who)
            s3.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
            name = bucket if who == "alice" else f"orga:{bucket}"
            with cluster.grpc(who, scope=ORGA) as c:
                for read in (
                    lambda: c.get_object(bucket, "k").read(),
                    lambda s3=s3, name=name: s3.get_object(Bucket=name, Key="k")["Body"].read(),
                ):
                    if who in readers:
                        assert read() == b"secret", where
                    else:
                        with pytest.raises((AccessDenied, ClientError)):
                            read()
                if who != "alice":
                    with pytest.raises(AccessDenied):
                        c.put_object(bucket, "x", b"1")
        with cluster.grpc("admin") as operator:
            answer = operator.explain_access(
                bucket, "s3:GetObject", principal=None if who == "anon" else {
                    "alice": "orga/alice", "bob": "orgb/bob", "eve": "orgb/eve"}[who],
                key="k", scope=ORGA,
            )  # fmt: skip
        assert answer.allowed == (who in readers), (where, answer.reason)
