"""Tenants at runtime (issue 13 item 5): an org onboarded with the admin CLI against a real
server, no restart; who may change tenant records, and what nobody may; the audit of changes.

Actors: the platform admin (the first-start key); ``acme/alice``, made org admin of acme at
runtime; ``acme/web/bob``, made viewer of project web by alice; ``ops``, admin of org ``other``
from the TOML bootstrap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from lightningstor_client import LightningStorClient
from lightningstor_types.errors import (
    AccessDenied,
    IamEntityInUse,
    IamLimitExceeded,
    InvalidArgument,
    NoSuchIamEntity,
)
from lightningstor_types.scope import Scope
from tests.admin.cli import run_cli
from tests.iam.iamproc import write_config
from tests.integration.server import ServerProcess, running_server

pytestmark = pytest.mark.timeout(180)

BOOTSTRAP = """
[iam]
max_bindings_per_org = 12
max_groups_per_org = 2

[[iam.bindings]]
principal = "ops"
role = "admin"
org = "other"
"""

ACME, WEB, OTHER = Scope("acme"), Scope("acme", "web"), Scope("other")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("tenants")
    env = {
        "LIGHTNINGSTOR_CONFIG": str(write_config(root / "server.toml", BOOTSTRAP)),
        "LIGHTNINGSTOR_AUDIT_FILE": str(root / "audit.log"),
    }
    with running_server(root / "server", env=env) as server:
        yield server


def audit(server: ServerProcess) -> list[dict[str, Any]]:
    path = server.workdir.parent / "audit.log"
    text = path.read_text() if path.exists() else ""
    return [json.loads(x) for x in text[: text.rfind("\n") + 1].splitlines() if x]


def keys_of(made: dict[str, Any]) -> dict[str, str]:
    return {"access_key": made["access_key_id"], "secret_key": made["secret_access_key"]}


def client(server: ServerProcess, keys: dict[str, str], scope: Scope | None = None) -> Any:
    return LightningStorClient(server.grpc_addr, scope=scope, timeout=20, **keys)


def onboard(monkeypatch: pytest.MonkeyPatch, server: ServerProcess) -> dict[str, dict[str, str]]:
    """The README's operator steps: an org admin, then (as that admin) a project viewer."""
    root = server.admin_keys()
    made = run_cli(monkeypatch, server, root, "admin", "principals", "create", "acme/alice",
                   "--role", "admin", "--json")  # fmt: skip
    assert made.code == 0, made.err
    alice = keys_of(made.json_lines()[0]["key"])
    made = run_cli(monkeypatch, server, alice, "--scope", "acme/web", "mb", "web-assets")
    assert made.code == 0, made.err  # the org admin makes the project's first bucket
    with client(server, alice, WEB) as c:
        c.put_object("web-assets", "index.html", b"<h1>acme</h1>")
    made = run_cli(monkeypatch, server, alice, "admin", "principals", "create", "acme/web/bob",
                   "--role", "viewer", "--json")  # fmt: skip
    assert made.code == 0, made.err
    return {"alice": alice, "bob": keys_of(made.json_lines()[0]["key"])}


@pytest.fixture(scope="module")
def people(server: ServerProcess) -> dict[str, dict[str, str]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return onboard(monkeypatch, server)


def test_an_org_is_onboarded_at_runtime_with_the_cli(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, people: dict[str, dict[str, str]]
) -> None:
    with client(server, people["bob"]) as bob:  # bob's own scope is acme/web
        assert [b.name for b in bob.list_buckets()] == ["web-assets"]
        assert bob.get_object("web-assets", "index.html").read() == b"<h1>acme</h1>"
        with pytest.raises(AccessDenied):  # a viewer
            bob.put_object("web-assets", "x", b"x")
        with pytest.raises(AccessDenied):  # of the project only
            bob.list_buckets(scope=ACME)
    listed = run_cli(monkeypatch, server, people["alice"], "admin", "bindings", "list", "--json")
    assert listed.code == 0, listed.err
    seen = {(b["principal"], b["role"], b["project"], b["source"]) for b in listed.json_lines()}
    assert seen == {
        ("acme/alice", "admin", "", "runtime"),
        ("acme/web/bob", "viewer", "web", "runtime"),
    }
    principals = run_cli(monkeypatch, server, people["alice"], "admin", "principals", "list")
    assert "acme/alice" in principals.out and "acme/web/bob" in principals.out
    # Changes are audited with what changed, beside the decision that allowed them.
    applied = [x["reason"] for x in audit(server) if str(x["reason"]).startswith("applied:")]
    assert any("acme/web/bob holds viewer at org/acme/project/web" in r for r in applied), applied
    assert any(
        x["principal"] == "acme/alice"
        for x in audit(server)
        if x["action"] == "lightningstor:iam:write"
    )


def test_an_org_admin_never_grants_beyond_its_org(
    server: ServerProcess, people: dict[str, dict[str, str]]
) -> None:
    with client(server, people["alice"]) as alice:
        for principal, org in (("acme/alice", "*"), ("other/eve", "other"), ("eve", "default")):
            with pytest.raises(AccessDenied):
                alice.create_binding("admin", principal=principal, org=org)
        with pytest.raises(AccessDenied):  # roles are the platform's
            alice.put_role("mine", ["lightningstor:objects:read"])
        with pytest.raises(AccessDenied):  # nor read another org's
            alice.list_bindings(org="other")
        # Cross-org grants are for bucket policies and ACLs, never for bindings.
        with pytest.raises(InvalidArgument):
            alice.create_binding("viewer", principal="other/ops", org="acme")
        with pytest.raises(InvalidArgument):
            alice.put_group("readers", ["other/ops"])
        # Nothing was stored.
        assert {b.principal for b in alice.list_bindings()} == {"acme/alice", "acme/web/bob"}
    with client(server, server.admin_keys()) as root:
        assert [b.principal for b in root.list_bindings(org="*")] == []
    denied = [
        x
        for x in audit(server)
        if x["action"] == "lightningstor:iam:write" and x["decision"] == "deny"
    ]
    assert {x["resource"] for x in denied} >= {"org/*", "org/other", "org/default"}


def test_a_project_viewer_cannot_manage_tenants_nor_escalate(
    server: ServerProcess, people: dict[str, dict[str, str]]
) -> None:
    with client(server, people["bob"]) as bob:
        with pytest.raises(AccessDenied):
            bob.create_binding("admin", principal="bob", org="acme", project="web")
        with pytest.raises(AccessDenied):
            bob.list_bindings(org="acme")


def test_a_role_wider_than_the_callers_own_cannot_be_granted(
    server: ServerProcess, people: dict[str, dict[str, str]]
) -> None:
    with client(server, server.admin_keys()) as root:
        root.put_role("deleter", ["lightningstor:objects:delete", "lightningstor:objects:list"])
        # carol: an editor of project web only, with iam:write there through a custom role.
        root.put_role("project-iam", ["lightningstor:iam:*", "lightningstor:objects:list"])
        root.create_binding("project-iam", principal="acme/web/carol", org="acme", project="web")
        made = root.create_access_key(principal_id="carol", scope=WEB)
    carol = {"access_key": made.access_key_id, "secret_key": made.secret_access_key or ""}
    with client(server, carol) as c:
        with pytest.raises(AccessDenied):  # objects:delete is more than carol holds
            c.create_binding("deleter", principal="dan", org="acme", project="web")
        with pytest.raises(AccessDenied):  # a narrower role at a wider scope: no
            c.create_binding("project-iam", principal="acme/dan", org="acme")
    reasons = [str(x["reason"]) for x in audit(server) if x["principal"] == "acme/web/carol"]
    assert any("lightningstor:objects:delete" in r and "does not hold" in r for r in reasons)
    with client(server, server.admin_keys()) as root:
        with pytest.raises(IamEntityInUse):  # a binding still names it
            root.delete_role("project-iam")
        (bound,) = [b for b in root.list_bindings(org="acme") if b.role == "project-iam"]
        root.delete_binding(bound.id, org="acme")
        root.delete_role("project-iam")
        root.delete_role("deleter")
        with pytest.raises(NoSuchIamEntity):
            root.delete_role("deleter")
    with client(server, carol) as c, pytest.raises(AccessDenied):  # revoked at once
        c.list_bindings(org="acme")


def test_bootstrap_records_are_listed_and_stay(
    server: ServerProcess, people: dict[str, dict[str, str]]
) -> None:
    with client(server, server.admin_keys()) as root:
        (ops,) = root.list_bindings(org="other")
        assert (ops.principal, ops.role, ops.source, ops.id) == ("ops", "admin", "config", "")
        with pytest.raises(NoSuchIamEntity):  # not a runtime binding: the TOML file owns it
            root.delete_binding("ops", org="other")
        with pytest.raises(InvalidArgument):  # a runtime role never redefines a bootstrap one
            root.put_role("viewer", ["lightningstor:*"])
        sources = {r.name: r.source for r in root.list_roles()}
        assert sources["admin"] == "builtin" and sources["viewer"] == "builtin"


def test_a_group_grants_each_member_and_revoking_the_binding_ends_it(
    server: ServerProcess, people: dict[str, dict[str, str]]
) -> None:
    with client(server, people["alice"]) as alice:
        alice.put_group("readers", ["acme/web/erin"])
        made = alice.create_access_key(principal_id="erin", scope=WEB)
        erin = {"access_key": made.access_key_id, "secret_key": made.secret_access_key or ""}
        with client(server, erin) as e, pytest.raises(AccessDenied):
            e.list_objects("web-assets")
        binding = alice.create_binding("viewer", group="readers", org="acme", project="web")
        assert alice.create_binding("viewer", group="readers", org="acme", project="web") == binding
        with client(server, erin) as e:
            assert [o.key for o in e.list_objects("web-assets").objects] == ["index.html"]
        with pytest.raises(IamEntityInUse):
            alice.delete_group("readers")
        alice.delete_binding(binding.id)
        with client(server, erin) as e, pytest.raises(AccessDenied):
            e.list_objects("web-assets")
        alice.delete_group("readers")
        assert alice.list_groups() == []


def test_a_project_admin_manages_its_project_and_learns_nothing_of_the_org(
    server: ServerProcess, people: dict[str, dict[str, str]]
) -> None:
    with client(server, people["alice"]) as alice:
        alice.create_binding("admin", principal="acme/web/pat", org="acme", project="web")
        made = alice.create_access_key(principal_id="pat", scope=WEB)
        (own,) = [b for b in alice.list_bindings() if b.principal == "acme/alice"]
    pat = {"access_key": made.access_key_id, "secret_key": made.secret_access_key or ""}
    with client(server, pat) as p:
        made_b = p.create_binding("viewer", principal="quinn", org="acme", project="web")
        p.delete_binding(made_b.id, org="acme")
        # An org-level binding that exists, and one that does not: the same refusal.
        for binding_id in (own.id, "0" * 20):
            with pytest.raises(AccessDenied):
                p.delete_binding(binding_id, org="acme")
    with client(server, people["alice"]) as alice:
        ids = {b.id for b in alice.list_bindings()}
        assert own.id in ids and made_b.id not in ids


def test_an_org_holds_at_most_the_configured_runtime_bindings_and_groups(
    server: ServerProcess,
) -> None:
    with client(server, server.admin_keys()) as root:
        for i in range(12):
            root.create_binding("viewer", principal=f"full/p{i}", org="full")
        with pytest.raises(IamLimitExceeded):
            root.create_binding("viewer", principal="full/one-more", org="full")
        root.create_binding("viewer", principal="full/p0", org="full")  # the same: no new one
        assert len(root.list_bindings(org="full")) == 12
        root.put_group("g1", [], org="full")
        root.put_group("g2", [], org="full")
        root.put_group("g2", ["full/p1"], org="full")  # replacing one is not one more
        with pytest.raises(IamLimitExceeded):
            root.put_group("g3", [], org="full")
        assert [g.name for g in root.list_groups(org="full")] == ["g1", "g2"]
