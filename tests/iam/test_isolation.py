"""The tenant-isolation matrix over gRPC and S3, with the embedded engine and an external IAM.

Actors: org A's alice (editor of org A), org B's bob, pat of project P of A, quinn of project Q
of A, the first-start admin, and an anonymous caller. Each owns a bucket in its home scope
(the anonymous caller owns nothing). In scope: one's own bucket, every bucket for the admin, and
the buckets of A's projects for alice (an org grant covers the org's projects). Everything else
is denied — and a foreign bucket that does not exist is denied exactly like one that does.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor_client import LightningStorClient
from lightningstor_types.errors import (
    AccessDenied,
    LightningStorError,
    NoSuchBucket,
)
from lightningstor_types.scope import Scope
from tests.iam.iamproc import IamProcess, start_iam, write_config
from tests.integration.server import ServerProcess, clean_env, start_server
from tests.s3.conftest import make_client
from tests.wait import wait_until

pytestmark = pytest.mark.timeout(300)

AUDIENCE = "lightningstor-tests"
BINDINGS = """
[[iam.bindings]]
principal = "alice"
role = "editor"
org = "orga"
[[iam.bindings]]
principal = "bob"
role = "editor"
org = "orgb"
[[iam.bindings]]
principal = "pat"
role = "editor"
org = "orga"
project = "p"
[[iam.bindings]]
principal = "quinn"
role = "editor"
org = "orga"
project = "q"
"""


@dataclass(frozen=True)
class Actor:
    name: str
    principal_id: str
    scope: Scope | None  # None: anonymous

    @property
    def bucket(self) -> str:
        return f"bkt-{self.name.lower()}"


A = Actor("A", "alice", Scope("orga"))
B = Actor("B", "bob", Scope("orgb"))
P = Actor("P", "pat", Scope("orga", "p"))
Q = Actor("Q", "quinn", Scope("orga", "q"))
ADMIN = Actor("admin", "admin", Scope("default"))
ANON = Actor("anon", "", None)
ACTORS = (A, B, P, Q, ADMIN, ANON)
OWNERS = (A, B, P, Q, ADMIN)


def in_scope(actor: Actor, owner: Actor) -> bool:
    return actor in (owner, ADMIN) or (actor is A and owner in (P, Q))


@dataclass
class Deployment:
    mode: str
    server: ServerProcess
    key_file: Path
    keys: dict[str, dict[str, str]]
    iam: IamProcess | None = None

    def grpc(self, actor: Actor, scope: Scope | None = None, **creds: str) -> LightningStorClient:
        if not creds and actor is not ANON:
            creds = self.keys[actor.name]
        return LightningStorClient(self.server.grpc_addr, scope=scope, timeout=20, **creds)

    def s3(self, actor: Actor) -> Any:
        endpoint = "http://" + self.server.ports["s3"]
        if actor is ANON:
            import boto3
            from botocore import UNSIGNED
            from botocore.config import Config

            return boto3.client(
                "s3", endpoint_url=endpoint, region_name="us-east-1",
                config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"},
                              retries={"max_attempts": 1}),
            )  # fmt: skip
        k = self.keys[actor.name]
        return make_client(endpoint, k["access_key"], k["secret_key"])

    def token(self, principal: str, org: str, *extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lightningstor_api.iam.server", "token",
             "--key-file", str(self.key_file), "--principal", principal, "--org", org,
             "--audience", AUDIENCE, *extra],
            capture_output=True, text=True, check=True, env=clean_env(),
        )  # fmt: skip
        return done.stdout.strip()


@pytest.fixture(scope="module", params=["embedded", "external"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp(f"isolation-{request.param}")
    iam: IamProcess | None = None
    if request.param == "embedded":
        config = write_config(root / "server.toml", f'[iam]\naudience = "{AUDIENCE}"\n' + BINDINGS)
        env = {"LIGHTNINGSTOR_CONFIG": str(config)}
    else:
        iam_config = write_config(root / "iam.toml", "[iam]\n" + BINDINGS)
        iam = start_iam(root / "iam", iam_config)
        env = {
            "LIGHTNINGSTOR_IAM__MODE": "external",
            "LIGHTNINGSTOR_IAM__ENDPOINT": iam.addr,
            "LIGHTNINGSTOR_IAM__AUDIENCE": AUDIENCE,
        }
    server = start_server(root / "server", env=env)
    try:
        key_file = (
            server.data_dir / "iam-signing-key.json"
            if iam is None
            else iam.workdir / "signing-key.json"
        )
        keys = {"admin": server.admin_keys()}
        with LightningStorClient(server.grpc_addr, **keys["admin"]) as admin:
            for actor in (A, B, P, Q):
                with LightningStorClient(
                    server.grpc_addr, scope=actor.scope, **keys["admin"]
                ) as scoped:
                    made = scoped.create_access_key(principal_id=actor.principal_id)
                keys[actor.name] = {
                    "access_key": made.access_key_id,
                    "secret_key": made.secret_access_key or "",
                }
            admin.create_bucket(ADMIN.bucket)
            admin.put_object(ADMIN.bucket, "k", b"admin")
        dep = Deployment(request.param, server, key_file, keys, iam)
        for actor in (A, B, P, Q):
            with dep.grpc(actor) as c:
                c.create_bucket(actor.bucket)
                c.put_object(actor.bucket, "k", actor.name.encode())
        yield dep
    finally:
        server.stop()
        if iam is not None:
            iam.stop()


def _grpc_ops(c: LightningStorClient, bucket: str) -> list[tuple[str, Any]]:
    outcomes: list[tuple[str, Any]] = []
    for name, op in (
        ("head_bucket", lambda: c.head_bucket(bucket)),
        ("get", lambda: c.get_object(bucket, "k").read()),
        ("put", lambda: c.put_object(bucket, "x", b"1")),
        ("list", lambda: c.list_objects(bucket)),
    ):
        try:
            op()
            outcomes.append((name, "ok"))
        except LightningStorError as exc:
            outcomes.append((name, exc))
    return outcomes


@pytest.mark.parametrize("actor", ACTORS, ids=lambda a: a.name)
def test_grpc_matrix(deployment: Deployment, actor: Actor) -> None:
    for owner in OWNERS:
        # Name the owner's scope explicitly: the strongest cross-scope attempt there is.
        with deployment.grpc(actor, scope=owner.scope) as c:
            outcomes = _grpc_ops(c, owner.bucket)
            missing = _grpc_ops(c, "no-such-bucket-here")
        where = f"{actor.name} -> {owner.name}"
        if in_scope(actor, owner):
            assert all(o == "ok" for _, o in outcomes), (where, outcomes)
            assert all(isinstance(o, NoSuchBucket) for _, o in missing), (where, missing)
            continue
        for name, o in outcomes:
            assert isinstance(o, AccessDenied), (where, name, o)
        # Denied the same way whether the bucket exists or not: nothing is revealed.
        assert [(n, type(o), str(o)) for n, o in outcomes] == [
            (n, type(o), str(o)) for n, o in missing
        ], where


@pytest.mark.parametrize("actor", ACTORS, ids=lambda a: a.name)
def test_grpc_listing_shows_only_what_the_caller_may_see(
    deployment: Deployment, actor: Actor
) -> None:
    for owner in OWNERS:
        with deployment.grpc(actor, scope=owner.scope) as c:
            try:
                names = {b.name for b in c.list_buckets()}
            except AccessDenied:
                assert not in_scope(actor, owner)
                continue
        assert in_scope(actor, owner)
        assert owner.bucket in names
        others = {o.bucket for o in OWNERS if o.scope != owner.scope}
        assert not names & others


@pytest.mark.parametrize("actor", ACTORS, ids=lambda a: a.name)
def test_s3_matrix(deployment: Deployment, actor: Actor) -> None:
    """Over S3 a key acts in its own scope: another tenant's bucket name means the caller's own
    (absent) bucket of that name — NoSuchBucket, which reveals nothing about the other tenant."""
    s3 = deployment.s3(actor)
    for owner in OWNERS:
        where = f"{actor.name} -> {owner.name}"
        b = owner.bucket
        calls = (
            lambda b=b: s3.head_object(Bucket=b, Key="k"),
            lambda b=b: s3.get_object(Bucket=b, Key="k")["Body"].read(),
            lambda b=b: s3.put_object(Bucket=b, Key="x", Body=b"1"),
            lambda b=b: s3.list_objects_v2(Bucket=b),
        )
        for call in calls:
            if actor is owner:
                call()
                continue
            with pytest.raises(ClientError) as exc:
                call()
            code = exc.value.response["Error"]["Code"]
            status = exc.value.response["ResponseMetadata"]["HTTPStatusCode"]
            if actor is ANON:
                assert status == 403, (where, code)
            else:
                assert (code, status) in (("NoSuchBucket", 404), ("404", 404)), (where, code)
    if actor is not ANON:
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert names == {actor.bucket}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tokens(deployment: Deployment, tmp_path: Path) -> None:
    good = deployment.token("alice", "orga")
    with deployment.grpc(A, scope=A.scope, token=good) as c:
        assert c.get_object(A.bucket, "k").read() == b"A"
    with deployment.grpc(A, scope=B.scope, token=good) as c, pytest.raises(AccessDenied):
        c.head_bucket(B.bucket)
    header, claims, _sig = good.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    forged_claims["org"] = "orgb"
    forged_claims["sub"] = "bob"
    other_key = tmp_path / "other-key.json"
    other = subprocess.run(
        [sys.executable, "-m", "lightningstor_api.iam.server", "token", "--key-file",
         str(other_key), "--principal", "alice", "--org", "orga", "--audience", AUDIENCE],
        capture_output=True, text=True, check=True, env=clean_env(),
    ).stdout.strip()  # fmt: skip
    bad = {
        "wrong signature": f"{header}.{_b64(forged_claims)}.{_sig}",
        "another key": other,
        "wrong audience": deployment.token("alice", "orga", "--audience", "someone-else"),
        "expired": deployment.token("alice", "orga", "--ttl", "-120"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{claims}.",
        "HS256": f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{claims}.{_sig}",
        "garbage": "not-a-jwt",
    }
    for why, token in bad.items():
        with (
            deployment.grpc(A, scope=A.scope, token=token) as c,
            pytest.raises(AccessDenied) as exc,
        ):
            c.head_bucket(A.bucket)
        assert (
            type(exc.value).__name__ == "Unauthenticated"
            or "not authenticated" in str(exc.value)
            or "bearer token" in str(exc.value)
        ), (why, exc.value)


def short_lived_key(deployment: Deployment, admin: LightningStorClient) -> tuple[Any, datetime]:
    """An access key of alice's that expires soon, and its expiry, once it has worked. A key
    that expired before its first use (a loaded machine) is replaced by a longer-lived one."""
    lifetime = 2.0
    while True:
        expires = datetime.now(UTC) + timedelta(seconds=lifetime)
        key = admin.create_access_key(principal_id="alice", expires_at=expires)
        creds = {"access_key": key.access_key_id, "secret_key": key.secret_access_key or ""}
        try:
            with deployment.grpc(A, scope=A.scope, **creds) as c:
                c.head_bucket(A.bucket)
            return key, expires
        except AccessDenied:
            assert datetime.now(UTC) >= expires, "a key was refused before its expiry"
            lifetime *= 2
            assert lifetime <= 64, "no short-lived key could be used before it expired"


def test_expired_and_deleted_keys_are_refused(deployment: Deployment) -> None:
    with LightningStorClient(
        deployment.server.grpc_addr, scope=A.scope, **deployment.server.admin_keys()
    ) as admin:
        short, expires = short_lived_key(deployment, admin)
        doomed = admin.create_access_key(principal_id="alice")
    creds = {
        "short": {"access_key": short.access_key_id, "secret_key": short.secret_access_key or ""},
        "doomed": {
            "access_key": doomed.access_key_id,
            "secret_key": doomed.secret_access_key or "",
        },
    }
    with deployment.grpc(A, scope=A.scope, **creds["doomed"]) as c:
        c.head_bucket(A.bucket)
    s3 = make_client(
        "http://" + deployment.server.ports["s3"],
        doomed.access_key_id,
        doomed.secret_access_key or "",
        signature_version="s3v4",
    )
    url = s3.generate_presigned_url("get_object", Params={"Bucket": A.bucket, "Key": "k"})
    with urllib.request.urlopen(url) as reply:
        assert reply.read() == b"A"
    with LightningStorClient(
        deployment.server.grpc_addr, scope=A.scope, **deployment.server.admin_keys()
    ) as admin:
        admin.delete_access_key(doomed.access_key_id)
    # "short" expires (the server shares this machine's clock)
    wait_until(lambda: datetime.now(UTC) > expires + timedelta(seconds=0.5), message="expiry")
    for k in creds.values():
        with deployment.grpc(A, scope=A.scope, **k) as c, pytest.raises(AccessDenied):
            c.head_bucket(A.bucket)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=A.bucket)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(urllib.error.HTTPError) as http:
        urllib.request.urlopen(url)
    assert http.value.code == 403
    http.value.close()
