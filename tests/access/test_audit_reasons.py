"""The audit line of a decision a bucket policy or an ACL grant made carries the reason
``explain`` gives for it (issue 13: "the audit line of every decision carries the same
reason"), and explain names a public grant that IgnorePublicAcls set aside."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lightningstor.v1 import common_pb2
from tests.access.cluster import BOB_ARN, Cluster
from tests.s3 import rawhttp
from tests.wait import wait_until

pytestmark = pytest.mark.timeout(120)


def _signed(cluster: Cluster, who: str, method: str, path: str) -> rawhttp.Response:
    address = cluster.server.ports["s3"]
    keys = cluster.keys[who]
    headers, _ = rawhttp.Signer(address, keys["access_key"], keys["secret_key"]).sign(method, path)
    return rawhttp.request(address, method, path, headers)


def _line_of(cluster: Cluster, resp: rawhttp.Response, action: str) -> dict[str, Any]:
    """The audit line of ``action`` decided for the request that got ``resp``."""
    request_id = resp.headers["x-amz-request-id"]

    def found() -> dict[str, Any] | None:
        return next(
            (x for x in cluster.audit() if x["request_id"] == request_id and x["action"] == action),
            None,
        )

    return wait_until(found, message=f"the audit line of {action} in {request_id}")


def test_policy_allow_deny_and_acl_grant_are_audited_with_explains_reason(
    cluster: Cluster, bucket: str
) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "BobReads", "Effect": "Allow", "Principal": {"AWS": BOB_ARN},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/k"},
        {"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*",
         "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
    ]})  # fmt: skip
    eve_arn = "arn:aws:iam::orgb:user/eve"
    with cluster.grpc("alice") as alice:
        alice.put_bucket_policy(bucket, policy)
        alice.put_object(bucket, "shared", b"for eve")
        alice.put_object_acl(
            bucket,
            "shared",
            grants=[common_pb2.Grant(grantee_type="CanonicalUser", id=eve_arn, permission="READ")],
        )
        explained = {
            "bob": alice.explain_access(bucket, "s3:GetObject", principal="orgb/bob", key="k"),
            "alice": alice.explain_access(
                bucket, "s3:DeleteObject", principal="orga/alice", key="k"
            ),
            "eve": alice.explain_access(bucket, "s3:GetObject", principal="orgb/eve", key="shared"),
        }
    qualified = f"/orga%3A{bucket}"
    cases = {
        "bob": (_signed(cluster, "bob", "GET", f"{qualified}/k"), 200, "objects:get"),
        "alice": (_signed(cluster, "alice", "DELETE", f"/{bucket}/k"), 403, "objects:delete"),
        "eve": (_signed(cluster, "eve", "GET", f"{qualified}/shared"), 200, "objects:get"),
    }
    assert explained["bob"].reason == 'bucket policy statement "BobReads" allows'
    assert explained["alice"].reason == 'explicit deny by bucket policy statement "NoDeletes"'
    assert explained["eve"].reason == f"object ACL grant READ to {eve_arn} allows"
    for who, (resp, status, action) in cases.items():
        assert resp.status == status, (who, resp.body)
        line = _line_of(cluster, resp, f"lightningstor:{action}")
        assert line["reason"] == explained[who].reason, who
        assert line["decision"] == ("allow" if explained[who].allowed else "deny"), who
        assert line["api"] == "s3"


def test_explain_names_a_public_grant_ignored_by_the_block(cluster: Cluster, bucket: str) -> None:
    s3 = cluster.s3("alice")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    target = f"/orga%3A{bucket}/k"
    address = cluster.server.ports["s3"]
    assert rawhttp.request(address, "GET", target, {"Host": address}).status == 200
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True}
    )
    refused = rawhttp.request(address, "GET", target, {"Host": address})
    assert refused.status == 403
    ignored = "object ACL grant READ to AllUsers ignored by the public access block"
    with cluster.grpc("alice") as alice:
        anon = alice.explain_access(bucket, "s3:GetObject", key="k")
        assert not anon.allowed
        assert anon.reason.endswith(f"; {ignored} (IgnorePublicAcls)"), anon.reason
        assert ("acl", f"{ignored} (IgnorePublicAcls)", "none", False) in [
            (r.source, r.rule, r.effect, r.applied) for r in anon.considered
        ]
        # A caller no grant names at all still reads "no ACL grant".
        eve = alice.explain_access(bucket, "s3:PutObject", principal="orgb/eve", key="k")
        assert eve.reason.endswith("; no ACL grant"), eve.reason
    # The refused request's audit line says the same.
    assert _line_of(cluster, refused, "lightningstor:objects:get")["reason"] == anon.reason
    s3.delete_public_access_block(Bucket=bucket)
