"""Keys for someone else (issue 12, items 1 and 6), over gRPC against real server processes, with
the embedded engine and with an external IAM (``lightningstor-iam serve``).

A principal allowed ``credentials:create:others`` in its org may mint (or delete) a key for
another identity only if it already holds every permission any binding gives that identity.
Actors: ``default/opsd`` (admin of org default), ``orga/alice`` (admin of orga), ``orga/carol``
(editor of orga), ``orga/auditor`` (a role at ``org = "*"``), ``orga/partner`` (viewer of orgb),
``orga/web/pete`` (viewer of orgb), ``orgb/bob`` (admin of orgb).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied, InvalidArgument, NoSuchAccessKey
from lightningstor_types.scope import Scope
from tests.iam.iamproc import IamProcess, start_iam, write_config
from tests.integration.server import ServerProcess, start_server

pytestmark = pytest.mark.timeout(300)

IAM = """
[iam.roles]
auditor = ["lightningstor:buckets:list", "lightningstor:buckets:read", "lightningstor:admin:read"]
[[iam.bindings]]
principal = "opsd"
role = "admin"
org = "default"
[[iam.bindings]]
principal = "alice"
role = "admin"
org = "orga"
[[iam.bindings]]
principal = "carol"
role = "editor"
org = "orga"
[[iam.bindings]]
principal = "orga/auditor"
role = "auditor"
org = "*"
[[iam.bindings]]
principal = "orga/partner"
role = "viewer"
org = "orgb"
[[iam.bindings]]
principal = "orga/web/pete"
role = "viewer"
org = "orgb"
[[iam.bindings]]
principal = "bob"
role = "admin"
org = "orgb"
"""

DEFAULT, ORGA, WEB, ORGB = Scope("default"), Scope("orga"), Scope("orga", "web"), Scope("orgb")
HOMES = {
    "opsd": DEFAULT,
    "alice": ORGA,
    "carol": ORGA,
    "auditor": ORGA,
    "partner": ORGA,
    "pete": WEB,
    "bob": ORGB,
}


@dataclass
class Deployment:
    mode: str
    server: ServerProcess
    audit_file: Path
    keys: dict[str, dict[str, str]]
    key_ids: dict[str, str]
    iam: IamProcess | None

    def client(self, who: str, scope: Scope | None = None) -> LightningStorClient:
        creds = self.server.admin_keys() if who == "admin" else self.keys[who]
        return LightningStorClient(self.server.grpc_addr, scope=scope, timeout=20, **creds)

    def key_count(self, principal_id: str, scope: Scope) -> int:
        with self.client("admin") as admin:
            return len(admin.list_access_keys(principal_id=principal_id, scope=scope))

    def audit(self) -> list[dict[str, Any]]:
        text = self.audit_file.read_text() if self.audit_file.exists() else ""
        return [json.loads(x) for x in text[: text.rfind("\n") + 1].splitlines() if x]


@pytest.fixture(scope="module", params=["embedded", "external"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp(f"minting-{request.param}")
    audit_file = root / "server-audit.log"
    env = {"LIGHTNINGSTOR_AUDIT_FILE": str(audit_file)}
    iam: IamProcess | None = None
    if request.param == "embedded":
        env["LIGHTNINGSTOR_CONFIG"] = str(write_config(root / "server.toml", IAM))
    else:
        iam = start_iam(root / "iam", write_config(root / "iam.toml", IAM))
        env |= {"LIGHTNINGSTOR_IAM__MODE": "external", "LIGHTNINGSTOR_IAM__ENDPOINT": iam.addr}
    server = start_server(root / "server", env=env)
    try:
        dep = Deployment(request.param, server, audit_file, {}, {}, iam)
        with dep.client("admin") as admin:  # the platform admin holds everything: allowed
            for who, home in HOMES.items():
                made = admin.create_access_key(principal_id=who, scope=home)
                dep.keys[who] = {
                    "access_key": made.access_key_id,
                    "secret_key": made.secret_access_key or "",
                }
                dep.key_ids[who] = made.access_key_id
        for scope, bucket, body in (
            (ORGA, "alpha-private", b"alpha"),
            (ORGB, "beta-private", b"beta"),
        ):
            with dep.client("admin", scope) as admin:
                admin.create_bucket(bucket)
                admin.put_object(bucket, "secret", body)
        yield dep
    finally:
        server.stop()
        if iam is not None:
            iam.stop()


def _refused(dep: Deployment, minter: str, scope: Scope, spelled: str, target: str) -> None:
    """``minter`` cannot mint a key for ``spelled`` in ``scope``, and none appears."""
    home = HOMES.get(target, DEFAULT)
    before = dep.key_count(target, home)
    with dep.client(minter) as c, pytest.raises(AccessDenied):
        c.create_access_key(principal_id=spelled, scope=scope)
    assert dep.key_count(target, home) == before, (minter, spelled)


def test_an_org_admin_cannot_mint_a_key_of_the_platform_admin(deployment: Deployment) -> None:
    for spelled in ("admin", "default/admin"):
        _refused(deployment, "opsd", DEFAULT, spelled, "admin")
    # The decision names the minter and the key's principal.
    denied = [
        x
        for x in deployment.audit()
        if x["action"] == "lightningstor:credentials:create:others" and x["decision"] == "deny"
    ]
    assert {(x["principal"], x.get("subject")) for x in denied} >= {
        ("default/opsd", "default/admin")
    }
    if deployment.iam is not None:  # the IAM was told whom the key would be for
        lines = deployment.iam.wait_audit_lines(1)
        assert any(
            x.get("subject") == "default/admin" and x["decision"] == "deny" for x in lines
        ), lines


def test_no_key_for_a_principal_bound_at_every_org(deployment: Deployment) -> None:
    for spelled in ("auditor", "orga/auditor"):
        _refused(deployment, "alice", ORGA, spelled, "auditor")
    with deployment.client("auditor", ORGB) as auditor:  # what such a key could do
        assert [b.name for b in auditor.list_buckets()] == ["beta-private"]


def test_no_key_for_a_principal_granted_in_another_org(deployment: Deployment) -> None:
    for spelled in ("partner", "orga/partner"):
        _refused(deployment, "alice", ORGA, spelled, "partner")
    for spelled in ("pete", "orga/web/pete"):
        _refused(deployment, "alice", WEB, spelled, "pete")
    with deployment.client("partner", ORGB) as partner:  # what such a key could do
        assert partner.get_object("beta-private", "secret").read() == b"beta"


def test_a_home_spelled_outside_the_keys_scope_is_invalid(deployment: Deployment) -> None:
    for spelled in ("orgb/bob", "default/admin", "orga/web/pete", "a//b", "a/b/c/d"):
        with deployment.client("alice") as c, pytest.raises(InvalidArgument):
            c.create_access_key(principal_id=spelled, scope=ORGA)


def test_a_key_for_someone_within_the_minters_authority_is_allowed(
    deployment: Deployment,
) -> None:
    with deployment.client("alice") as alice:
        for spelled in ("carol", "orga/carol"):
            made = alice.create_access_key(principal_id=spelled, scope=ORGA)
            assert made.principal_id == "carol"
            creds = {"access_key": made.access_key_id, "secret_key": made.secret_access_key}
            with LightningStorClient(deployment.server.grpc_addr, **creds) as carol:
                assert carol.get_object("alpha-private", "secret").read() == b"alpha"
            alice.delete_access_key(made.access_key_id)
    allowed = [
        x
        for x in deployment.audit()
        if x["action"] == "lightningstor:credentials:create:others" and x["decision"] == "allow"
    ]
    assert ("orga/alice", "orga/carol") in {(x["principal"], x.get("subject")) for x in allowed}


def test_another_identitys_key_is_deleted_only_within_the_deleters_authority(
    deployment: Deployment,
) -> None:
    for who in ("auditor", "partner", "pete"):
        with deployment.client("alice") as alice, pytest.raises(AccessDenied):
            alice.delete_access_key(deployment.key_ids[who], scope=HOMES[who])
    with deployment.client("auditor", ORGB) as auditor:  # still works
        assert auditor.list_buckets()


def test_deleting_a_key_says_nothing_about_other_tenants_keys(deployment: Deployment) -> None:
    """bob (admin of orgb) learns nothing from alice's real key id that a random id would not
    tell him, in his own scope (NoSuchAccessKey) or naming hers (AccessDenied)."""
    real, random_id = deployment.key_ids["alice"], "LS" + secrets.token_hex(9).upper()
    for scope in (None, ORGA):
        outcomes = []
        for key_id in (real, random_id):
            with deployment.client("bob") as bob, pytest.raises(Exception) as exc:
                bob.delete_access_key(key_id, scope=scope)
            outcomes.append((type(exc.value), exc.value.message))  # type: ignore[attr-defined]
        assert outcomes[0] == outcomes[1], (scope, outcomes)
        assert outcomes[0][0] is (NoSuchAccessKey if scope is None else AccessDenied)
    with deployment.client("alice") as alice:  # alice's key was never touched
        assert alice.list_access_keys(principal_id="alice")
