"""``lightningstor admin`` against a real server: keys, buckets, GC, storage status, and who may."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from botocore.exceptions import ClientError

from lightningstor.v1 import admin_pb2, admin_pb2_grpc
from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied
from lightningstor_types.scope import Scope
from tests.admin.cli import run_cli
from tests.integration.server import AdminSigner, ServerProcess
from tests.s3.conftest import make_client

pytestmark = pytest.mark.timeout(120)


def s3_client(server: ServerProcess, key_id: str, secret: str) -> Any:
    return make_client("http://" + server.ports["s3"], key_id, secret)


def key_for(server: ServerProcess, principal: str, scope: Scope) -> dict[str, str]:
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as admin:
        made = admin.create_access_key(principal_id=principal, scope=scope)
    assert made.secret_access_key
    return {"access_key": made.access_key_id, "secret_key": made.secret_access_key}


def chunk_files(data_dir: Path) -> set[str]:
    root = data_dir / "chunks"
    return {p.name for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"}


# ---- keys ----


def test_keys_create_list_delete(monkeypatch: pytest.MonkeyPatch, server: ServerProcess) -> None:
    admin = server.admin_keys()
    made = run_cli(monkeypatch, server, admin, "admin", "keys", "create", "--json",
                   "--description", "ci")  # fmt: skip
    assert made.code == 0, made.err
    (key,) = made.json_lines()
    key_id, secret = key["access_key_id"], key["secret_access_key"]
    assert key["principal_id"] == "admin" and len(secret) == 40

    # The new key is the admin's own (no --principal): it works over S3.
    s3 = s3_client(server, key_id, secret)
    s3.create_bucket(Bucket="made-by-new-key")
    s3.put_object(Bucket="made-by-new-key", Key="k", Body=b"x")
    assert s3.get_object(Bucket="made-by-new-key", Key="k")["Body"].read() == b"x"

    listed = run_cli(monkeypatch, server, admin, "admin", "keys", "list", "--json")
    assert listed.code == 0, listed.err
    keys = {k["access_key_id"]: k for k in listed.json_lines()}
    assert keys[key_id]["description"] == "ci"
    assert all(k["secret_access_key"] is None for k in keys.values())
    assert secret not in listed.out
    human = run_cli(monkeypatch, server, admin, "admin", "keys", "list")
    assert key_id in human.out and secret not in human.out

    deleted = run_cli(monkeypatch, server, admin, "admin", "keys", "delete", key_id)
    assert deleted.code == 0 and key_id in deleted.out
    with pytest.raises(ClientError) as denied:
        s3.list_objects_v2(Bucket="made-by-new-key")
    assert denied.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    after = run_cli(monkeypatch, server, admin, "admin", "keys", "list", "--json")
    assert key_id not in {k["access_key_id"] for k in after.json_lines()}
    again = run_cli(monkeypatch, server, admin, "admin", "keys", "delete", key_id)
    assert again.code == 1 and "NoSuchAccessKey" in again.err


def test_keys_for_another_principal_and_scope_with_expiry(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess
) -> None:
    admin = server.admin_keys()
    made = run_cli(monkeypatch, server, admin, "admin", "keys", "create", "--org", "acme",
                   "--project", "web", "--principal", "carl", "--expires", "3600")  # fmt: skip
    assert made.code == 0, made.err
    assert "The secret is shown only now" in made.out
    key_id = next(
        line.split()[-1] for line in made.out.splitlines() if line.startswith("access key id")
    )
    listed = run_cli(monkeypatch, server, admin, "admin", "keys", "list", "--org", "acme",
                     "--project", "web", "--principal", "carl", "--json")  # fmt: skip
    (key,) = listed.json_lines()
    assert key["access_key_id"] == key_id
    assert key["scope"] == {"org_id": "acme", "project_id": "web"}
    assert key["expires_at"] is not None
    # Not the admin's own scope: the caller's keys do not include it.
    own = run_cli(monkeypatch, server, admin, "admin", "keys", "list", "--json")
    assert key_id not in {k["access_key_id"] for k in own.json_lines()}


def test_bad_key_arguments_change_nothing(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess
) -> None:
    admin = server.admin_keys()
    before = run_cli(monkeypatch, server, admin, "admin", "keys", "list", "--json").json_lines()
    bad_time = run_cli(monkeypatch, server, admin, "admin", "keys", "create", "--expires", "soon")
    assert bad_time.code != 0 and "--expires" in bad_time.err
    bad_scope = run_cli(monkeypatch, server, admin, "admin", "keys", "create", "--org", "Bad Org")
    assert bad_scope.code == 1 and "InvalidArgument" in bad_scope.err
    after = run_cli(monkeypatch, server, admin, "admin", "keys", "list", "--json").json_lines()
    assert after == before


# ---- buckets ----


def test_buckets_of_every_scope_and_of_one(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess
) -> None:
    admin = server.admin_keys()
    with LightningStorClient(server.grpc_addr, scope=Scope("acme", "web"), **admin) as c:
        c.create_bucket("web-site")
    with LightningStorClient(server.grpc_addr, scope=Scope("zeta"), **admin) as c:
        c.create_bucket("zeta-logs")
    every = run_cli(monkeypatch, server, admin, "admin", "buckets", "--json").json_lines()
    names = [(b["scope"]["org_id"], b["scope"]["project_id"], b["name"]) for b in every]
    assert ("acme", "web", "web-site") in names and ("zeta", None, "zeta-logs") in names
    assert names == sorted(names, key=lambda n: (n[0], n[1] or "_", n[2]))
    one = run_cli(monkeypatch, server, admin, "admin", "buckets", "--org", "acme",
                  "--project", "web")  # fmt: skip
    assert one.code == 0 and "web-site" in one.out and "zeta-logs" not in one.out


def test_list_all_buckets_pages(server: ServerProcess) -> None:
    with LightningStorClient(server.grpc_addr, scope=Scope("paged"), **server.admin_keys()) as c:
        for i in range(5):
            c.create_bucket(f"page-{i}")
    with grpc.insecure_channel(server.grpc_addr) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(
            grpc.intercept_channel(channel, AdminSigner(**server.admin_keys()))
        )
        seen, token = [], ""
        while True:
            page = stub.ListAllBuckets(
                admin_pb2.ListAllBucketsRequest(max_buckets=2, continuation_token=token)
            )
            assert len(page.buckets) <= 2
            seen += [b.name for b in page.buckets if b.scope.org_id == "paged"]
            token = page.next_continuation_token
            if not token:
                break
        assert seen == [f"page-{i}" for i in range(5)]
        with pytest.raises(grpc.RpcError) as bad:
            stub.ListAllBuckets(admin_pb2.ListAllBucketsRequest(continuation_token="!!"))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# ---- garbage collection ----


def test_gc_status_and_run(monkeypatch: pytest.MonkeyPatch, server: ServerProcess) -> None:
    admin = server.admin_keys()
    s3 = s3_client(server, admin["access_key"], admin["secret_key"])
    s3.create_bucket(Bucket="gc-bucket")
    s3.put_object(Bucket="gc-bucket", Key="doomed", Body=b"d" * 10_000)
    stored = chunk_files(server.data_dir)
    s3.delete_object(Bucket="gc-bucket", Key="doomed")  # its data record goes to the journal

    status = run_cli(monkeypatch, server, admin, "admin", "gc", "status", "--json")
    assert status.code == 0, status.err
    (before,) = status.json_lines()
    assert before["journal_entries"] >= 1
    assert before["oldest_entry_age_seconds"] >= 0
    assert before["interval_seconds"] == 3600

    ran = run_cli(monkeypatch, server, admin, "admin", "gc", "run", "--json")
    assert ran.code == 0, ran.err
    (result,) = ran.json_lines()
    assert result["entries"] >= 1 and result["chunks_deleted"] >= 1
    assert result["bytes_freed"] >= 10_000 and result["error"] == ""
    assert len(chunk_files(server.data_dir)) < len(stored)

    human = run_cli(monkeypatch, server, admin, "admin", "gc", "status")
    assert "journal entries:  0" in human.out
    (after,) = run_cli(monkeypatch, server, admin, "admin", "gc", "status", "--json").json_lines()
    assert after["journal_entries"] == 0
    assert after["last_run"]["finished_at"] == result["finished_at"]


def test_storage_status_local(monkeypatch: pytest.MonkeyPatch, server: ServerProcess) -> None:
    done = run_cli(monkeypatch, server, server.admin_keys(), "admin", "storage", "status", "--json")
    (status,) = done.json_lines()
    assert status["backend"] == "local" and status["nodes"] == [] and status["repair"] is None
    human = run_cli(monkeypatch, server, server.admin_keys(), "admin", "storage", "status")
    assert human.out.startswith("backend: local")


# ---- who may ----

ADMIN_COMMANDS = [
    ("buckets",),
    ("gc", "status"),
    ("gc", "run"),
    ("storage", "status"),
    ("check", "--grace", "0"),
]


@pytest.mark.parametrize("command", ADMIN_COMMANDS, ids=" ".join)
def test_an_org_admin_is_denied_platform_calls(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, command: tuple[str, ...]
) -> None:
    ops = key_for(server, "ops", Scope("acme"))  # admin of org acme, not of the platform
    journal_before = run_cli(monkeypatch, server, server.admin_keys(), "admin", "gc", "status",
                             "--json").json_lines()[0]["journal_entries"]  # fmt: skip
    files_before = chunk_files(server.data_dir)
    denied = run_cli(monkeypatch, server, ops, "admin", *command)
    assert denied.code == 1
    assert "AccessDenied" in denied.err
    assert chunk_files(server.data_dir) == files_before
    journal_after = run_cli(monkeypatch, server, server.admin_keys(), "admin", "gc", "status",
                            "--json").json_lines()[0]["journal_entries"]  # fmt: skip
    assert journal_after == journal_before


def test_denials_are_permission_denied_over_grpc(server: ServerProcess) -> None:
    ops = key_for(server, "ops", Scope("acme"))
    with grpc.insecure_channel(server.grpc_addr) as channel:
        stub = admin_pb2_grpc.AdminServiceStub(grpc.intercept_channel(channel, AdminSigner(**ops)))
        calls = [
            lambda: stub.GetGcStatus(admin_pb2.GetGcStatusRequest()),
            lambda: stub.RunGc(admin_pb2.RunGcRequest()),
            lambda: stub.GetStorageStatus(admin_pb2.GetStorageStatusRequest()),
            lambda: stub.ListAllBuckets(admin_pb2.ListAllBucketsRequest()),
            lambda: list(stub.CheckConsistency(admin_pb2.CheckConsistencyRequest())),
        ]
        for call in calls:
            with pytest.raises(grpc.RpcError) as err:
                call()
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with LightningStorClient(server.grpc_addr, **ops) as client, pytest.raises(AccessDenied):
        client.gc_status()


def test_read_only_operator_may_check_but_not_repair(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess
) -> None:
    auditor = key_for(server, "auditor", Scope("acme"))
    orphan = plant_orphan(server.data_dir)
    status = run_cli(monkeypatch, server, auditor, "admin", "gc", "status")
    assert status.code == 0, status.err
    dry = run_cli(monkeypatch, server, auditor, "admin", "check", "--json")
    assert dry.code == 1, dry.err  # the planted orphan
    assert orphan.name in dry.out
    repair = run_cli(monkeypatch, server, auditor, "admin", "check", "--repair")
    assert repair.code == 1 and "AccessDenied" in repair.err
    assert orphan.exists()
    run = run_cli(monkeypatch, server, auditor, "admin", "gc", "run")
    assert run.code == 1 and "AccessDenied" in run.err
    fixed = run_cli(monkeypatch, server, server.admin_keys(), "admin", "check", "--repair")
    assert fixed.code == 0, fixed.out + fixed.err
    assert not orphan.exists()


def plant_orphan(data_dir: Path, age_seconds: float = 2 * 86400) -> Path:
    """A chunk file that no record names, last modified ``age_seconds`` ago."""
    import os
    import secrets
    import time

    chunk_id = secrets.token_hex(16)
    path = data_dir / "chunks" / chunk_id[:2] / chunk_id[2:4] / chunk_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not referenced by anything")
    old = time.time() - age_seconds
    os.utime(path, (old, old))
    return path
