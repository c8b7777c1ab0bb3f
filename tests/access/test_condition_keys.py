"""Each condition key a bucket policy may name is produced by a real request: a statement
conditioned on the key flips the outcome of a request that carries the value against one that
does not (``test_policy_language.py`` checks the operators on hand-written facts). One server
and one versioned bucket for the module; each case puts its own policy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from urllib3.filepost import encode_multipart_formdata

from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied
from tests.access.cluster import BOB_ARN, ORGA, Cluster
from tests.s3 import rawhttp
from tests.s3.conftest import make_client

pytestmark = pytest.mark.timeout(120)

BUCKET = "condkeys"
EVERYONE_READS = {
    "Sid": "EveryoneReads", "Effect": "Allow", "Principal": "*",
    "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
}  # fmt: skip


@dataclass
class Env:
    cluster: Cluster
    old: str  # the first version of "k" (no tags)
    new: str  # its current version, tagged team=red

    def signer(self, who: str) -> rawhttp.Signer:
        keys = self.cluster.keys[who]
        return rawhttp.Signer(self.address, keys["access_key"], keys["secret_key"])

    @property
    def address(self) -> str:
        return self.cluster.server.ports["s3"]

    def signed(
        self,
        method: str,
        key: str = "",
        *,
        who: str = "alice",
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        bucket: str = BUCKET,
    ) -> int:
        """The status of a header-signed request (``bucket`` as written in the path)."""
        path = f"/{bucket}/{key}" if key else f"/{bucket}"
        signed, _ = self.signer(who).sign(method, path, query=query, headers=headers)
        target = path + (f"?{rawhttp.Signer.canonical_query(query)}" if query else "")
        return _ok(rawhttp.request(self.address, method, target, signed, body).status)

    def presigned_get(self, key: str) -> int:
        target = self.signer("alice").presign("GET", f"/{BUCKET}/{key}")
        return rawhttp.request(self.address, "GET", target, {"Host": self.address}).status

    def anonymous_get(self, key: str, headers: dict[str, str] | None = None) -> int:
        target = f"/orga%3A{BUCKET}/{key}"  # anonymous callers name the bucket's org
        sent = {"Host": self.address, **(headers or {})}
        return rawhttp.request(self.address, "GET", target, sent).status

    def boto(self, call: Callable[[Any], object]) -> int:
        """The status of a boto3 call of alice's (for what needs its checksums)."""
        s3 = self.cluster.s3("alice")
        try:
            call(s3)
        except s3.exceptions.ClientError as exc:
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
        return 200

    def form_put(self, key: str, tagging: str = "", acl: str = "") -> int:
        """A browser form upload (POST Object) signed by alice, as boto3 presigns it."""
        keys = self.cluster.keys["alice"]
        s3 = make_client(
            f"http://{self.address}", keys["access_key"], keys["secret_key"],
            signature_version="s3v4",
        )  # fmt: skip
        extra = {"tagging": _tagging_xml(tagging)} if tagging else {}
        if acl:
            extra["acl"] = acl
        fields = s3.generate_presigned_post(
            BUCKET, key, Fields=extra, Conditions=[{k: v} for k, v in extra.items()]
        )["fields"]
        body, content_type = encode_multipart_formdata(
            [*fields.items(), ("file", ("f.txt", b"form", "text/plain"))]
        )
        headers = {"Host": self.address, "Content-Type": content_type}
        return _ok(rawhttp.request(self.address, "POST", f"/{BUCKET}", headers, body).status)


def _tagging_xml(query: str) -> str:
    tags = "".join(
        f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>"
        for k, v in (pair.split("=") for pair in query.split("&"))
    )
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>"


def _retag(**tags: str) -> Callable[[Env], int]:
    """PutObjectTagging of "plain" through boto3 (the body's tags are the request's)."""
    tag_set = {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
    return lambda e: e.boto(
        lambda s3: s3.put_object_tagging(Bucket=BUCKET, Key="plain", Tagging=tag_set)
    )


def _ok(status: int) -> int:
    """200 for any success (a form upload answers 204): the cases compare allowed / denied."""
    return 200 if 200 <= status < 300 else status


@pytest.fixture(scope="module")
def env(cluster: Cluster) -> Env:
    s3 = cluster.s3("alice")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=BUCKET, Key="k", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=BUCKET, Key="k", Body=b"new", Tagging="team=red")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="plain", Body=b"plain", Tagging="team=blue")
    return Env(cluster, old, new)


def deny(
    action: str, condition: dict[str, Any], resource: str = "/*", sid: str = "Cond"
) -> dict[str, Any]:
    return {
        "Sid": sid, "Effect": "Deny", "Principal": "*", "Action": action,
        "Resource": f"arn:aws:s3:::{BUCKET}{resource}", "Condition": condition,
    }  # fmt: skip


def allow_get(condition: dict[str, Any]) -> dict[str, Any]:
    return {**EVERYONE_READS, "Sid": "Cond", "Condition": condition}


def _list(**query: str) -> Callable[[Env], int]:
    return lambda e: e.signed("GET", query={"list-type": "2", **query})


def _put(key: str, **headers: str) -> Callable[[Env], int]:
    return lambda e: e.signed("PUT", key, headers=headers, body=b"x")


def _copy(source: str, **headers: str) -> Callable[[Env], int]:
    return lambda e: e.signed(
        "PUT", "copied", headers={"x-amz-copy-source": source, **headers}, body=b""
    )


def _stamp(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Case:
    statements: Callable[[Env], list[dict[str, Any]]]
    carries: Callable[[Env], int]
    lacks: Callable[[Env], int]
    outcomes: tuple[int, int] = (403, 200)
    """The statuses of the request carrying the value and of the one lacking it."""
    baseline: tuple[dict[str, Any], ...] = ()
    """The policy without the condition (both requests then get the same answer)."""


HOUR = timedelta(hours=1)
CASES: dict[str, Case] = {
    "s3:prefix": Case(
        lambda e: [deny("s3:ListBucket", {"StringEquals": {"s3:prefix": "secret/"}}, "")],
        _list(prefix="secret/"),
        _list(prefix="open/"),
    ),
    "s3:delimiter": Case(
        lambda e: [deny("s3:ListBucket", {"StringEquals": {"s3:delimiter": "/"}}, "")],
        _list(delimiter="/"),
        _list(),
    ),
    "s3:max-keys": Case(
        lambda e: [deny("s3:ListBucket", {"NumericGreaterThan": {"s3:max-keys": "10"}}, "")],
        _list(**{"max-keys": "100"}),
        _list(**{"max-keys": "5"}),
    ),
    "s3:VersionId": Case(
        lambda e: [deny("s3:GetObject", {"StringEquals": {"s3:VersionId": e.old}})],
        lambda e: e.signed("GET", "k", query={"versionId": e.old}),
        lambda e: e.signed("GET", "k", query={"versionId": e.new}),
    ),
    "s3:x-amz-acl": Case(
        lambda e: [deny("s3:PutObject", {"StringEquals": {"s3:x-amz-acl": "public-read"}})],
        _put("acl", **{"x-amz-acl": "public-read"}),
        _put("acl", **{"x-amz-acl": "private"}),
    ),
    "s3:x-amz-copy-source": Case(
        lambda e: [deny("s3:PutObject", {"StringLike": {"s3:x-amz-copy-source": f"{BUCKET}/k*"}})],
        _copy(f"{BUCKET}/k"),
        _copy(f"{BUCKET}/plain"),
    ),
    # The header's other spellings of the same source must not slip past the Deny.
    "s3:x-amz-copy-source with a leading slash": Case(
        lambda e: [deny("s3:PutObject", {"StringLike": {"s3:x-amz-copy-source": f"{BUCKET}/k*"}})],
        _copy(f"/{BUCKET}/k"),
        _copy(f"/{BUCKET}/plain"),
    ),
    "s3:x-amz-copy-source percent-encoded": Case(
        lambda e: [deny("s3:PutObject", {"StringEquals": {"s3:x-amz-copy-source": f"{BUCKET}/k"}})],
        _copy(f"{BUCKET}/%6B"),
        _copy(f"{BUCKET}/%70lain"),
    ),
    "s3:x-amz-metadata-directive": Case(
        lambda e: [
            deny("s3:PutObject", {"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}})
        ],
        _copy(f"{BUCKET}/plain", **{"x-amz-metadata-directive": "REPLACE"}),
        _copy(f"{BUCKET}/plain", **{"x-amz-metadata-directive": "COPY"}),
    ),
    "s3:x-amz-server-side-encryption": Case(
        lambda e: [
            deny("s3:PutObject", {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}})
        ],
        _put("sse", **{"x-amz-server-side-encryption": "aws:kms"}),
        _put("sse"),
    ),
    "s3:RequestObjectTag/<k>": Case(
        lambda e: [deny("s3:PutObject", {"StringEquals": {"s3:RequestObjectTag/team": "red"}})],
        _put("tagged", **{"x-amz-tagging": "team=red"}),
        _put("tagged", **{"x-amz-tagging": "team=blue"}),
    ),
    "s3:RequestObjectTag/<k> of PutObjectTagging": Case(
        lambda e: [
            deny("s3:PutObjectTagging", {"StringEquals": {"s3:RequestObjectTag/team": "red"}})
        ],
        _retag(team="red"),
        _retag(team="blue"),
    ),
    "s3:RequestObjectTagKeys": Case(
        lambda e: [
            deny(
                "s3:PutObject",
                {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "secret"}},
            )
        ],
        _put("tagged", **{"x-amz-tagging": "team=blue&secret=1"}),
        _put("tagged", **{"x-amz-tagging": "team=blue"}),
    ),
    "s3:ExistingObjectTag/<k>": Case(
        lambda e: [deny("s3:GetObject", {"StringEquals": {"s3:ExistingObjectTag/team": "red"}})],
        lambda e: e.signed("GET", "k"),
        lambda e: e.signed("GET", "plain"),
    ),
    "s3:ExistingObjectTag/<k> of the version named": Case(
        lambda e: [deny("s3:GetObject", {"StringEquals": {"s3:ExistingObjectTag/team": "red"}})],
        lambda e: e.signed("GET", "k", query={"versionId": e.new}),
        lambda e: e.signed("GET", "k", query={"versionId": e.old}),
    ),
    "s3:signatureversion": Case(
        lambda e: [
            EVERYONE_READS,
            deny("s3:GetObject", {"StringEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}}),
        ],
        lambda e: e.signed("GET", "k"),
        lambda e: e.anonymous_get("k"),
        baseline=(EVERYONE_READS,),
    ),
    "s3:authType REST-QUERY-STRING": Case(
        lambda e: [deny("s3:GetObject", {"StringEquals": {"s3:authType": "REST-QUERY-STRING"}})],
        lambda e: e.presigned_get("k"),
        lambda e: e.signed("GET", "k"),
    ),
    "s3:authType REST-HEADER": Case(
        lambda e: [deny("s3:GetObject", {"StringEquals": {"s3:authType": "REST-HEADER"}})],
        lambda e: e.signed("GET", "k"),
        lambda e: e.presigned_get("k"),
    ),
    "s3:authType POST": Case(
        lambda e: [deny("s3:PutObject", {"StringEquals": {"s3:authType": "POST"}})],
        lambda e: e.form_put("form"),
        _put("form"),
    ),
    "s3:RequestObjectTag/<k> of a form upload": Case(
        lambda e: [deny("s3:PutObject", {"StringEquals": {"s3:RequestObjectTag/team": "red"}})],
        lambda e: e.form_put("form", tagging="team=red"),
        lambda e: e.form_put("form", tagging="team=blue"),
    ),
    "s3:x-amz-acl of a form upload": Case(
        lambda e: [deny("s3:PutObject", {"StringEquals": {"s3:x-amz-acl": "public-read"}})],
        lambda e: e.form_put("form", acl="public-read"),
        lambda e: e.form_put("form", acl="private"),
    ),
    "aws:username": Case(
        lambda e: [allow_get({"StringEquals": {"aws:username": "bob"}})],
        lambda e: e.signed("GET", "k", who="bob", bucket=f"orga%3A{BUCKET}"),
        lambda e: e.signed("GET", "k", who="eve", bucket=f"orga%3A{BUCKET}"),
        (200, 403),
    ),
    "aws:userid": Case(
        lambda e: [allow_get({"StringEquals": {"aws:userid": "bob"}})],
        lambda e: e.signed("GET", "k", who="bob", bucket=f"orga%3A{BUCKET}"),
        lambda e: e.signed("GET", "k", who="eve", bucket=f"orga%3A{BUCKET}"),
        (200, 403),
    ),
    "aws:PrincipalArn": Case(
        lambda e: [allow_get({"ArnEquals": {"aws:PrincipalArn": BOB_ARN}})],
        lambda e: e.signed("GET", "k", who="bob", bucket=f"orga%3A{BUCKET}"),
        lambda e: e.signed("GET", "k", who="eve", bucket=f"orga%3A{BUCKET}"),
        (200, 403),
    ),
    "aws:UserAgent": Case(
        lambda e: [deny("s3:GetObject", {"StringLike": {"aws:UserAgent": "*evilbot*"}})],
        lambda e: e.signed("GET", "k", headers={"User-Agent": "evilbot/1.0"}),
        lambda e: e.signed("GET", "k", headers={"User-Agent": "goodbot/1.0"}),
    ),
    "aws:Referer": Case(
        lambda e: [allow_get({"StringLike": {"aws:Referer": "https://shop.example/*"}})],
        lambda e: e.anonymous_get("k", {"Referer": "https://shop.example/cart"}),
        lambda e: e.anonymous_get("k"),
        (200, 403),
    ),
    # The request carries the server's clock: a bound an hour before it holds, one an hour
    # after does not.
    "aws:CurrentTime": Case(
        lambda e: [
            deny("s3:GetObject", {"DateGreaterThan": {"aws:CurrentTime": _stamp(-HOUR)}}, "/k"),
            deny(
                "s3:GetObject",
                {"DateGreaterThan": {"aws:CurrentTime": _stamp(HOUR)}},
                "/plain",
                "Later",
            ),
        ],
        lambda e: e.signed("GET", "k"),
        lambda e: e.signed("GET", "plain"),
    ),
    "aws:EpochTime": Case(
        lambda e: [
            deny(
                "s3:GetObject",
                {"NumericGreaterThan": {"aws:EpochTime": int(time.time()) - 3600}},
                "/k",
            ),
            deny(
                "s3:GetObject",
                {"NumericGreaterThan": {"aws:EpochTime": int(time.time()) + 3600}},
                "/plain",
                "Later",
            ),
        ],
        lambda e: e.signed("GET", "k"),
        lambda e: e.signed("GET", "plain"),
    ),
}


def _put_policy(env: Env, statements: list[dict[str, Any]]) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    with env.cluster.grpc("alice") as c:
        c.put_bucket_policy(BUCKET, text)


def _flips(env: Env, case: Case) -> None:
    with env.cluster.grpc("alice") as c:
        c.delete_bucket_policy(BUCKET)
    if case.baseline:
        _put_policy(env, list(case.baseline))
    # Without the condition both requests get the same answer: the key is what flips it.
    baseline = (case.carries(env), case.lacks(env))
    expected_baseline = (200, 200) if case.outcomes == (403, 200) else (403, 403)
    assert baseline == expected_baseline, baseline
    _put_policy(env, case.statements(env))
    try:
        assert (case.carries(env), case.lacks(env)) == case.outcomes
    finally:
        with env.cluster.grpc("alice") as c:
            c.delete_bucket_policy(BUCKET)


@pytest.mark.parametrize("name", list(CASES))
def test_a_request_produces_the_key(env: Env, name: str) -> None:
    _flips(env, CASES[name])


def _grpc(call: Callable[[LightningStorClient], object]) -> Callable[[Env], int]:
    """The status a call of alice's over gRPC gets, as the S3 cases count it."""

    def status(e: Env) -> int:
        with e.cluster.grpc("alice") as c:
            try:
                result = call(c)
                read = getattr(result, "read", None)
                if read is not None:
                    read()
            except AccessDenied:
                return 403
        return 200

    return status


def _part_copy(c: LightningStorClient, source: str) -> None:
    upload = c.create_multipart_upload(BUCKET, "parts")
    try:
        c.upload_part_copy(
            BUCKET, "parts", upload.upload_id, 1, source_bucket=BUCKET, source_key=source
        )
    finally:
        c.abort_multipart_upload(BUCKET, "parts", upload.upload_id)


# gRPC reads the same keys from its request messages (lightningstor_api/grpc/facts.py): a Deny
# on them is not bypassed by asking over gRPC.
GRPC_CASES: dict[str, Case] = {
    "s3:prefix": Case(
        lambda e: [deny("s3:ListBucket", {"StringEquals": {"s3:prefix": "secret/"}}, "")],
        _grpc(lambda c: c.list_objects(BUCKET, prefix="secret/")),
        _grpc(lambda c: c.list_objects(BUCKET, prefix="open/")),
    ),
    "s3:max-keys": Case(
        lambda e: [deny("s3:ListBucket", {"NumericGreaterThan": {"s3:max-keys": "10"}}, "")],
        _grpc(lambda c: c.list_objects(BUCKET, max_keys=100)),
        _grpc(lambda c: c.list_objects(BUCKET, max_keys=5)),
    ),
    "s3:VersionId": Case(
        lambda e: [deny("s3:GetObject", {"StringEquals": {"s3:VersionId": e.old}})],
        lambda e: _grpc(lambda c: c.get_object(BUCKET, "k", version_id=e.old))(e),
        lambda e: _grpc(lambda c: c.get_object(BUCKET, "k", version_id=e.new))(e),
    ),
    "s3:x-amz-copy-source": Case(
        lambda e: [deny("s3:PutObject", {"StringLike": {"s3:x-amz-copy-source": f"{BUCKET}/k*"}})],
        _grpc(lambda c: c.copy_object(BUCKET, "copied", source_bucket=BUCKET, source_key="k")),
        _grpc(lambda c: c.copy_object(BUCKET, "copied", source_bucket=BUCKET, source_key="plain")),
    ),
    "s3:x-amz-copy-source of UploadPartCopy": Case(
        lambda e: [deny("s3:PutObject", {"StringLike": {"s3:x-amz-copy-source": f"{BUCKET}/k*"}})],
        _grpc(lambda c: _part_copy(c, "k")),
        _grpc(lambda c: _part_copy(c, "plain")),
    ),
    "s3:x-amz-metadata-directive": Case(
        lambda e: [
            deny("s3:PutObject", {"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}})
        ],
        _grpc(
            lambda c: c.copy_object(
                BUCKET, "copied", source_bucket=BUCKET, source_key="plain", metadata={"a": "b"}
            )
        ),
        _grpc(lambda c: c.copy_object(BUCKET, "copied", source_bucket=BUCKET, source_key="plain")),
    ),
    "s3:x-amz-server-side-encryption": Case(
        lambda e: [
            deny("s3:PutObject", {"StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}})
        ],
        _grpc(lambda c: c.put_object(BUCKET, "sse", b"x", server_side_encryption="aws:kms")),
        _grpc(lambda c: c.put_object(BUCKET, "sse", b"x")),
    ),
    "s3:RequestObjectTag/<k>": Case(
        lambda e: [deny("s3:PutObject", {"StringEquals": {"s3:RequestObjectTag/team": "red"}})],
        _grpc(lambda c: c.put_object(BUCKET, "tagged", b"x", tags={"team": "red"})),
        _grpc(lambda c: c.put_object(BUCKET, "tagged", b"x", tags={"team": "blue"})),
    ),
    "s3:RequestObjectTagKeys of PutObjectTagging": Case(
        lambda e: [
            deny(
                "s3:PutObjectTagging",
                {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "secret"}},
            )
        ],
        _grpc(lambda c: c.put_object_tagging(BUCKET, "plain", {"team": "blue", "secret": "1"})),
        _grpc(lambda c: c.put_object_tagging(BUCKET, "plain", {"team": "blue"})),
    ),
}


@pytest.mark.parametrize("name", list(GRPC_CASES))
def test_a_grpc_call_produces_the_key(env: Env, name: str) -> None:
    _flips(env, GRPC_CASES[name])


def test_grpc_produces_the_principal(env: Env) -> None:
    _put_policy(env, [allow_get({"StringEquals": {"aws:username": "bob"}})])
    try:
        with env.cluster.grpc("bob", scope=ORGA) as bob:
            assert bob.get_object(BUCKET, "k").read() == b"new"
        with env.cluster.grpc("eve", scope=ORGA) as eve, pytest.raises(AccessDenied):
            eve.get_object(BUCKET, "k").read()
    finally:
        with env.cluster.grpc("alice") as c:
            c.delete_bucket_policy(BUCKET)
