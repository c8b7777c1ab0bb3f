"""``lightningstor admin check`` on a store with a deleted chunk, a corrupt one and orphans.

The store is a real server's (local backend); the damage is done to its chunk directory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.cli import Run, run_cli
from tests.admin.conftest import admin_server
from tests.integration.server import ServerProcess, clean_env
from tests.s3.conftest import make_client

pytestmark = pytest.mark.timeout(180)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from admin_server(tmp_path_factory.mktemp("consistency"))


def chunk_paths(data_dir: Path) -> dict[str, Path]:
    root = data_dir / "chunks"
    return {p.name: p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"}


def snapshot(data_dir: Path) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in chunk_paths(data_dir).items()}


def plant(data_dir: Path, age_seconds: float) -> Path:
    """A chunk file that no record names, last modified ``age_seconds`` ago."""
    chunk_id = secrets.token_hex(16)
    path = data_dir / "chunks" / chunk_id[:2] / chunk_id[2:4] / chunk_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(1000))
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def put_new_chunk(s3: Any, data_dir: Path, key: str, body: bytes) -> str:
    """Put an object of one chunk; that chunk's id."""
    before = set(chunk_paths(data_dir))
    s3.put_object(Bucket="data", Key=key, Body=body)
    (chunk_id,) = set(chunk_paths(data_dir)) - before
    return chunk_id


def check(monkeypatch: pytest.MonkeyPatch, server: ServerProcess, *args: str) -> Run:
    return run_cli(monkeypatch, server, server.admin_keys(), "admin", "check", "--json", *args)


def findings(run: Run) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in run.json_lines():
        if "finding" in line:
            out.setdefault(line["finding"]["kind"], set()).add(line["finding"]["chunk_id"])
    return out


def summary(run: Run) -> dict[str, Any]:
    (last,) = [line["summary"] for line in run.json_lines() if "summary" in line]
    return dict(last)


def cli_process(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    keys = server.admin_keys()
    env = clean_env({"LIGHTNINGSTOR_ACCESS_KEY_ID": keys["access_key"],
                     "LIGHTNINGSTOR_SECRET_ACCESS_KEY": keys["secret_key"]})  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "lightningstor_client.cli", "--endpoint", server.grpc_addr, *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_check_finds_deleted_corrupt_and_orphaned_chunks(
    monkeypatch: pytest.MonkeyPatch, store: ServerProcess
) -> None:
    keys = store.admin_keys()
    s3 = make_client("http://" + store.ports["s3"], keys["access_key"], keys["secret_key"])
    s3.create_bucket(Bucket="data")
    lost = put_new_chunk(s3, store.data_dir, "lost", b"l" * 5000)
    rotten = put_new_chunk(s3, store.data_dir, "rotten", b"r" * 5000)
    put_new_chunk(s3, store.data_dir, "fine", b"f" * 5000)
    upload = s3.create_multipart_upload(Bucket="data", Key="parts")["UploadId"]
    etags = [
        s3.upload_part(Bucket="data", Key="parts", UploadId=upload, PartNumber=n, Body=body)["ETag"]
        for n, body in ((1, b"1" * (5 * MIB)), (2, b"2" * 100))
    ]
    s3.complete_multipart_upload(
        Bucket="data", Key="parts", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )  # fmt: skip

    clean = check(monkeypatch, store)
    assert clean.code == 0, clean.out + clean.err
    assert summary(clean)["consistent"] and findings(clean) == {}
    assert summary(clean)["referenced_chunks"] == 5

    # The damage: a referenced chunk deleted, another with a flipped byte, an old orphan and
    # a young one (an upload that may still commit).
    paths = chunk_paths(store.data_dir)
    paths[lost].unlink()
    raw = bytearray(paths[rotten].read_bytes())
    raw[10] ^= 0xFF
    paths[rotten].write_bytes(bytes(raw))
    old_orphan = plant(store.data_dir, age_seconds=2 * 86400)
    young_orphan = plant(store.data_dir, age_seconds=0)
    before = snapshot(store.data_dir)

    dry = check(monkeypatch, store, "--grace", "3600")
    assert dry.code == 1, dry.err
    assert findings(dry) == {"missing": {lost}, "corrupt": {rotten}, "orphan": {old_orphan.name}}
    s = summary(dry)
    assert (s["missing"], s["corrupt"], s["orphans"], s["unreferenced_in_grace"]) == (1, 1, 1, 1)
    assert s["consistent"] is False and s["remaining"] == 3 and s["orphans_deleted"] == 0
    assert s["stored_chunks"] == 4 + 2  # one of five deleted, two planted
    assert snapshot(store.data_dir) == before  # a dry run changes nothing

    presence = check(monkeypatch, store, "--grace", "3600", "--no-verify")
    assert findings(presence) == {"missing": {lost}, "orphan": {old_orphan.name}}

    human = run_cli(monkeypatch, store, keys, "admin", "check", "--grace", "3600")
    assert human.code == 1
    assert "NOT consistent" in human.out and "ORPHAN" in human.out and lost in human.out

    repaired = check(monkeypatch, store, "--grace", "3600", "--repair")
    assert repaired.code == 1  # the missing and the corrupt chunk have no other copy
    s = summary(repaired)
    assert (s["orphans"], s["orphans_deleted"], s["remaining"]) == (1, 1, 2)
    assert not old_orphan.exists() and young_orphan.exists()
    after = snapshot(store.data_dir)
    assert after == {k: v for k, v in before.items() if k != old_orphan.name}

    again = check(monkeypatch, store, "--grace", "3600")
    assert findings(again) == {"missing": {lost}, "corrupt": {rotten}}

    # The entry point itself, and its exit codes: 1 now, 0 once the damaged objects are gone.
    proc = cli_process(store, "admin", "check", "--grace", "3600")
    assert proc.returncode == 1 and "NOT consistent" in proc.stdout, proc.stderr
    for key in ("lost", "rotten"):
        s3.delete_object(Bucket="data", Key=key)
    assert run_cli(monkeypatch, store, keys, "admin", "gc", "run").code == 0
    young_orphan.unlink()
    proc = cli_process(store, "admin", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("consistent")


def test_bad_check_arguments_change_nothing(
    monkeypatch: pytest.MonkeyPatch, store: ServerProcess
) -> None:
    orphan = plant(store.data_dir, age_seconds=2 * 86400)
    before = snapshot(store.data_dir)
    for args in (("--grace", "-1", "--repair"), ("--max-findings", "-5", "--repair")):
        bad = check(monkeypatch, store, *args)
        assert bad.code == 1 and "InvalidArgument" in bad.err
    assert snapshot(store.data_dir) == before
    limited = check(monkeypatch, store, "--max-findings", "1")
    assert orphan.name in limited.out
    orphan.unlink()


def test_findings_are_bounded_and_counted(
    monkeypatch: pytest.MonkeyPatch, store: ServerProcess
) -> None:
    planted = [plant(store.data_dir, age_seconds=86400) for _ in range(5)]
    limited = check(monkeypatch, store, "--max-findings", "2")
    assert sum(len(ids) for ids in findings(limited).values()) == 2
    s = summary(limited)
    assert s["orphans"] == 5 and s["findings_omitted"] == 3
    human = run_cli(monkeypatch, store, store.admin_keys(), "admin", "check", "--repair",
                    "--max-findings", "2")  # fmt: skip
    assert human.code == 0 and "3 findings not listed" in human.out
    assert not any(p.exists() for p in planted)


def test_sealed_chunks_check_clean_and_a_damaged_one_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SSE-S3 chunks are stored longer than their plaintext (a tag per block): the check and
    repair compare them at their stored size, so an intact store is consistent."""
    with contextlib.contextmanager(admin_server)(tmp_path / "sealed") as server:
        keys = server.admin_keys()
        s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
        s3.create_bucket(Bucket="data")
        before = set(chunk_paths(server.data_dir))
        s3.put_object(
            Bucket="data", Key="k", Body=os.urandom(300_000), ServerSideEncryption="AES256"
        )
        (sealed,) = set(chunk_paths(server.data_dir)) - before
        clean = check(monkeypatch, server)
        assert clean.code == 0, clean.out + clean.err
        assert summary(clean)["consistent"] and findings(clean) == {}
        path = chunk_paths(server.data_dir)[sealed]
        raw = bytearray(path.read_bytes())
        raw[70_000] ^= 0x01
        path.write_bytes(bytes(raw))
        assert findings(check(monkeypatch, server)) == {"corrupt": {sealed}}
