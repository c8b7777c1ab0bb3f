"""The org-wide public access block (issue 13 §4): set with the admin CLI on one server, seen by
another over the same etcd without restart; ORed with each bucket's block; who may change it;
the audit of changes.

Actors: ``orga/alice``, admin of orga; ``orga/ed``, editor of orga (may change a bucket's block,
not the org's); ``orgb/ops``, admin of orgb; anonymous callers over raw HTTP.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2
from lightningstor_api.access.effective import FLAGS, effective_public_access_block
from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied, NoSuchPublicAccessBlockConfiguration
from lightningstor_types.scope import Scope
from tests.admin.cli import run_cli
from tests.fixtures.etcd import running_etcd
from tests.iam.iamproc import write_config
from tests.integration.server import ServerProcess, start_server
from tests.s3 import rawhttp
from tests.s3.conftest import make_client
from tests.wait import wait_until

pytestmark = [pytest.mark.timeout(240), pytest.mark.etcd]

BINDINGS = """
[iam]
[[iam.bindings]]
principal = "alice"
role = "admin"
org = "orga"
[[iam.bindings]]
principal = "ed"
role = "editor"
org = "orga"
[[iam.bindings]]
principal = "ops"
role = "admin"
org = "orgb"
"""
ORGA, ORGB = Scope("orga"), Scope("orgb")


def doc(principal: Any, bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "PublicRead", "Effect": "Allow", "Principal": principal,
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
    }]})  # fmt: skip


@dataclass
class Pair:
    a: ServerProcess
    b: ServerProcess
    keys: dict[str, dict[str, str]]

    def grpc(self, server: ServerProcess, who: str) -> LightningStorClient:
        return LightningStorClient(server.grpc_addr, timeout=20, **self.keys[who])

    def s3(self, server: ServerProcess, who: str) -> Any:
        k = self.keys[who]
        return make_client("http://" + server.ports["s3"], k["access_key"], k["secret_key"])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root = tmp_path_factory.mktemp("orgblock")
    with running_etcd(root / "etcd") as etcd, ExitStack() as stack:
        env = {
            "LIGHTNINGSTOR_CONFIG": str(write_config(root / "server.toml", BINDINGS)),
            "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
            "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(etcd.endpoints),
            "LIGHTNINGSTOR_STORAGE__LOCAL_DIR": str(root / "shared-chunks"),
            "LIGHTNINGSTOR_IAM__SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
            "LIGHTNINGSTOR_AUDIT_FILE": str(root / "audit-a.log"),
        }
        a = start_server(root / "a", env=env)
        stack.callback(a.stop)
        b = start_server(
            root / "b", env={**env, "LIGHTNINGSTOR_AUDIT_FILE": str(root / "audit-b.log")}
        )
        stack.callback(b.stop)
        keys = {"admin": a.admin_keys()}
        for who, scope in (("alice", ORGA), ("ed", ORGA), ("ops", ORGB)):
            with LightningStorClient(a.grpc_addr, scope=scope, **keys["admin"]) as c:
                made = c.create_access_key(principal_id=who)
            keys[who] = {"access_key": made.access_key_id, "secret_key": made.secret_access_key}
        yield Pair(a, b, keys)


def anonymous_get(server: ServerProcess, bucket: str) -> int:
    address = server.ports["s3"]
    return rawhttp.request(address, "GET", f"/orga%3A{bucket}/k", {"Host": address}).status


def test_effective_flags_are_the_or_of_bucket_and_org() -> None:
    for flag in FLAGS:
        on = bucket_pb2.PublicAccessBlockConfiguration(**{flag: True})
        bucket_only = records_pb2.BucketRecord(public_access_block=on)
        for record, org in ((bucket_only, None), (records_pb2.BucketRecord(), on)):
            got = effective_public_access_block(record, org)
            assert {f for f in FLAGS if getattr(got, f)} == {flag}
    assert not any(
        getattr(effective_public_access_block(records_pb2.BucketRecord(), None), f) for f in FLAGS
    )


def test_org_block_set_with_the_cli_holds_on_every_server_without_restart(
    monkeypatch: pytest.MonkeyPatch, pair: Pair
) -> None:
    with pair.grpc(pair.a, "alice") as alice:
        alice.create_bucket("site")
        alice.put_object("site", "k", b"hello")
        alice.put_bucket_policy("site", doc("*", "site"))
    wait_until(lambda: anonymous_get(pair.b, "site") == 200, timeout=60, message="public on b")
    s3_on_b = pair.s3(pair.b, "alice")
    assert s3_on_b.get_bucket_policy_status(Bucket="site")["PolicyStatus"]["IsPublic"] is True

    alice = pair.keys["alice"]
    put = run_cli(monkeypatch, pair.a, alice, "admin", "public-access-block", "put",
                  "--org", "orga", "--restrict-public-buckets")  # fmt: skip
    assert put.code == 0, put.err
    wait_until(lambda: anonymous_get(pair.b, "site") == 403, timeout=60, message="b restricts")
    assert anonymous_get(pair.a, "site") == 403  # the server written to: at once
    assert s3_on_b.get_bucket_policy_status(Bucket="site")["PolicyStatus"]["IsPublic"] is False
    with pair.grpc(pair.b, "alice") as c:
        assert c.get_object("site", "k").read() == b"hello"  # the org's own callers still read
        with pytest.raises(NoSuchPublicAccessBlockConfiguration):
            c.get_public_access_block("site")  # the bucket's own block is untouched
    got = run_cli(monkeypatch, pair.b, alice, "admin", "public-access-block", "get", "--json")
    assert got.code == 0, got.err
    assert got.json_lines() == [{
        "BlockPublicAcls": False, "IgnorePublicAcls": False,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": True,
    }]  # fmt: skip

    gone = run_cli(monkeypatch, pair.b, alice, "admin", "public-access-block", "delete")
    assert gone.code == 0, gone.err
    wait_until(lambda: anonymous_get(pair.a, "site") == 200, timeout=60, message="a serves")
    assert run_cli(monkeypatch, pair.a, alice, "admin", "public-access-block", "get").code != 0
    assert "applied: org orga public access block = restrict_public_buckets" in applied(pair.a)
    assert "applied: org orga public access block deleted" in applied(pair.b)


def applied(server: ServerProcess) -> list[str]:
    """The reasons of the org-wide block's audit lines of ``server`` (each has a file)."""
    path = server.workdir.parent / f"audit-{server.workdir.name}.log"
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return [x["reason"] for x in lines if x["action"].startswith("lightningstor:orgs:")]


def test_org_block_refuses_a_public_policy_whatever_the_bucket_says(
    monkeypatch: pytest.MonkeyPatch, pair: Pair
) -> None:
    with pair.grpc(pair.a, "alice") as alice:
        alice.create_bucket("docs")
        alice.put_object("docs", "k", b"hello")
        alice.put_public_access_block("docs")  # a bucket block with every flag off
    put = run_cli(monkeypatch, pair.a, pair.keys["alice"], "admin", "public-access-block",
                  "put", "--block-public-policy")  # fmt: skip
    assert put.code == 0, put.err
    s3 = pair.s3(pair.b, "alice")

    def refused() -> bool:
        try:
            s3.put_bucket_policy(Bucket="docs", Policy=doc("*", "docs"))
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "AccessDenied"
        s3.delete_bucket_policy(Bucket="docs")  # accepted before b saw the block: undo
        return False

    wait_until(refused, timeout=60, message="b to refuse a public policy")
    with pair.grpc(pair.b, "alice") as c:
        with pytest.raises(AccessDenied):
            c.put_bucket_policy("docs", doc({"AWS": "*"}, "docs"))
        c.put_bucket_policy("docs", doc({"AWS": "arn:aws:iam::orgb:user/ops"}, "docs"))
        assert c.get_bucket_policy("docs")  # a policy naming a principal is not public
    with pair.grpc(pair.b, "ed") as ed:  # an editor may lift the bucket's block, not the org's
        ed.delete_public_access_block("docs")
        with pytest.raises(AccessDenied):
            ed.put_bucket_policy("docs", doc("*", "docs"))
        with pytest.raises(AccessDenied):
            ed.delete_org_public_access_block()
        with pytest.raises(AccessDenied):
            ed.get_org_public_access_block("orga")
    with pair.grpc(pair.a, "ops") as ops:  # another org's admin: neither
        with pytest.raises(AccessDenied):
            ops.delete_org_public_access_block("orga")
        with pytest.raises(AccessDenied):
            ops.put_org_public_access_block("orga")
        ops.put_org_public_access_block(restrict_public_buckets=True)  # its own org: yes
        assert ops.get_org_public_access_block().restrict_public_buckets
    with pair.grpc(pair.a, "admin") as operator:  # the platform admin: any org
        assert operator.get_org_public_access_block("orga").block_public_policy
        operator.delete_org_public_access_block("orga")
    with pair.grpc(pair.a, "alice") as alice:
        alice.put_bucket_policy("docs", doc("*", "docs"))
    denied = run_cli(monkeypatch, pair.a, pair.keys["ed"], "admin", "public-access-block",
                     "put", "--all")  # fmt: skip
    assert denied.code != 0
