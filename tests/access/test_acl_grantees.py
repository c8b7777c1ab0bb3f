"""The canned ACLs and grantees ``test_acl.py`` does not reach: ``bucket-owner-read``,
``log-delivery-write`` and the LogDelivery group, and the AuthenticatedUsers group granted by
an ``x-amz-grant-read`` header and by a PutBucketAcl document: each read back as AWS shows it
(GetBucketAcl / GetObjectAcl over boto3), and who can then read."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.handlers import validate_bucket_name

from tests.access.cluster import BOB_ARN, Cluster, anonymous
from tests.access.test_acl import ALICE_ARN, _code, _grants

pytestmark = pytest.mark.timeout(120)

AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
EVE_ARN = "arn:aws:iam::orgb:user/eve"


def _foreign(cluster: Cluster, who: str) -> Any:
    """``who``'s boto3 client, allowed to name another org's bucket as ``org:bucket``."""
    s3 = cluster.s3(who)
    s3.meta.events.unregister("before-parameter-build.s3", validate_bucket_name)
    return s3


def _reads(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "AccessDenied"
        return False
    return True


def _group_types(acl: dict[str, Any]) -> set[str]:
    return {g["Grantee"]["Type"] for g in acl["Grants"] if "URI" in g["Grantee"]}


def test_bucket_owner_read_gives_the_bucket_owner_read_of_anothers_object(
    cluster: Cluster, bucket: str
) -> None:
    alice, bob, eve = cluster.s3("alice"), _foreign(cluster, "bob"), _foreign(cluster, "eve")
    alice.put_bucket_acl(
        Bucket=bucket, GrantWrite=f'id="{BOB_ARN}"', GrantFullControl=f'id="{ALICE_ARN}"'
    )
    shared = f"orga:{bucket}"
    bob.put_object(Bucket=shared, Key="bor", Body=b"by bob", ACL="bucket-owner-read")
    acl = bob.get_object_acl(Bucket=shared, Key="bor")
    assert acl["Owner"] == {"ID": BOB_ARN, "DisplayName": "bob"}
    assert _grants(acl) == [(ALICE_ARN, "READ"), (BOB_ARN, "FULL_CONTROL")]
    assert {g["Grantee"]["Type"] for g in acl["Grants"]} == {"CanonicalUser"}
    assert _reads(bob, shared, "bor") and _reads(alice, bucket, "bor")
    assert not _reads(eve, shared, "bor")  # the writer's org-mate is named by no grant
    assert anonymous(cluster, "GET", f"/orga%3A{bucket}/bor").status == 403
    # On the bucket owner's own object the canned ACL adds nothing: it is the owner.
    alice.put_object(Bucket=bucket, Key="own", Body=b"mine", ACL="bucket-owner-read")
    assert _grants(alice.get_object_acl(Bucket=bucket, Key="own")) == [(ALICE_ARN, "FULL_CONTROL")]


def test_log_delivery_write_and_the_log_delivery_group_let_nobody_in(
    cluster: Cluster, bucket: str
) -> None:
    alice, bob = cluster.s3("alice"), _foreign(cluster, "bob")
    alice.put_bucket_acl(Bucket=bucket, ACL="log-delivery-write")
    acl = alice.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"] == {"ID": ALICE_ARN, "DisplayName": "alice"}
    assert _grants(acl) == [
        (ALICE_ARN, "FULL_CONTROL"),
        (LOG_DELIVERY, "READ_ACP"),
        (LOG_DELIVERY, "WRITE"),
    ]
    assert _group_types(acl) == {"Group"}
    # No log delivery exists: the group's WRITE and READ_ACP allow nobody anything.
    shared = f"orga:{bucket}"
    assert _code(lambda: bob.put_object(Bucket=shared, Key="log", Body=b"x")) == (
        "AccessDenied",
        403,
    )
    assert _code(lambda: bob.get_bucket_acl(Bucket=shared)) == ("AccessDenied", 403)
    for method, target, body in (
        ("PUT", f"/orga%3A{bucket}/log", b"x"),
        ("GET", f"/orga%3A{bucket}?acl", None),
    ):
        assert anonymous(cluster, method, target, body).status == 403, (method, target)
    # The group named in a document reads back as written, and still lets nobody list.
    document = {
        "Owner": {"ID": ALICE_ARN},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": ALICE_ARN}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": LOG_DELIVERY}, "Permission": "READ"},
        ],
    }
    alice.put_bucket_acl(Bucket=bucket, AccessControlPolicy=document)
    assert _grants(alice.get_bucket_acl(Bucket=bucket)) == [
        (ALICE_ARN, "FULL_CONTROL"),
        (LOG_DELIVERY, "READ"),
    ]
    assert _code(lambda: bob.list_objects_v2(Bucket=shared)) == ("AccessDenied", 403)
    assert anonymous(cluster, "GET", f"/orga%3A{bucket}").status == 403


def test_authenticated_users_by_grant_header_and_by_document(cluster: Cluster, bucket: str) -> None:
    alice, bob, eve = cluster.s3("alice"), _foreign(cluster, "bob"), _foreign(cluster, "eve")
    shared = f"orga:{bucket}"
    # The header names the group by its URI; grant headers are the whole ACL (AWS): no
    # FULL_CONTROL for the owner unless a header gives it.
    alice.put_object(
        Bucket=bucket, Key="auth", Body=b"signed only", GrantRead=f'uri="{AUTHENTICATED}"'
    )
    acl = alice.get_object_acl(Bucket=bucket, Key="auth")
    assert acl["Owner"]["ID"] == ALICE_ARN
    assert _grants(acl) == [(AUTHENTICATED, "READ")]
    assert _group_types(acl) == {"Group"}
    # Every signed caller of any org reads it; an anonymous one does not.
    assert _reads(bob, shared, "auth") and _reads(eve, shared, "auth")
    assert anonymous(cluster, "GET", f"/orga%3A{bucket}/auth").status == 403
    assert not _reads(bob, shared, "k")  # its neighbour has no such grant
    # On the bucket, by a PutBucketAcl document: READ lists, and nothing more.
    document = {
        "Owner": {"ID": ALICE_ARN},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": ALICE_ARN}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ"},
        ],
    }
    assert _code(lambda: bob.list_objects_v2(Bucket=shared)) == ("AccessDenied", 403)
    alice.put_bucket_acl(Bucket=bucket, AccessControlPolicy=document)
    assert _grants(alice.get_bucket_acl(Bucket=bucket)) == [
        (ALICE_ARN, "FULL_CONTROL"),
        (AUTHENTICATED, "READ"),
    ]
    listed = bob.list_objects_v2(Bucket=shared)
    assert sorted(o["Key"] for o in listed["Contents"]) == ["auth", "k"]
    assert anonymous(cluster, "GET", f"/orga%3A{bucket}").status == 403
    assert _code(lambda: bob.put_object(Bucket=shared, Key="w", Body=b"x")) == (
        "AccessDenied",
        403,
    )
    assert not _reads(bob, shared, "k")  # a bucket READ lists; it reads no object
    # The same group through the header on PutBucketAcl reads back the same.
    alice.put_bucket_acl(
        Bucket=bucket, GrantRead=f'uri="{AUTHENTICATED}"', GrantFullControl=f'id="{ALICE_ARN}"'
    )
    assert _grants(alice.get_bucket_acl(Bucket=bucket)) == [
        (ALICE_ARN, "FULL_CONTROL"),
        (AUTHENTICATED, "READ"),
    ]
