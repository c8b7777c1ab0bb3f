"""Backup of the embedded metadata store while the server runs and writes, and a restore from it.

The restore follows the README: the metadata backup first, then the chunk directory copied
after it (so every chunk the backup references exists), the secret key and the admin key file;
a server started on the restored directory serves every object the backup holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server import clean_env, running_server, server_command
from tests.s3.conftest import make_client
from tests.wait import wait_until

MIB = 1024 * 1024


def body(key: str, size: int) -> bytes:
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def client(server: Any) -> Any:
    keys = server.admin_keys()
    return make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])


def backup(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        server_command("backup", *args),
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_backup_while_writing_then_restore(tmp_path: Path) -> None:
    source = tmp_path / "a" / "data"
    restored = tmp_path / "b" / "data"
    before = {f"before/{i}": 1000 * i + 1 for i in range(10)}
    before["before/two-chunks"] = 9 * MIB  # more than one 8 MiB chunk
    during: dict[str, int] = {}
    stop = threading.Event()
    lock = threading.Lock()
    errors: list[BaseException] = []

    with running_server(tmp_path / "a", data_dir=source) as server:
        s3 = client(server)
        s3.create_bucket(Bucket="keep")
        for key, size in before.items():
            s3.put_object(Bucket="keep", Key=key, Body=body(key, size))

        def writer() -> None:
            w = client(server)
            i = 0
            try:
                while not stop.is_set() and i < 300:
                    key = f"during/{i}"
                    w.put_object(Bucket="keep", Key=key, Body=body(key, 20_000 + i))
                    with lock:
                        during[key] = 20_000 + i  # acknowledged
                    i += 1
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            # A writer that failed ends the wait too: its error is asserted below.
            wait_until(
                lambda: len(during) >= 3 or not thread.is_alive(),
                60,
                "three writes before the backup",
            )
            with lock:
                acknowledged_first = set(during)  # committed before the backup began
            done = backup("--data-dir", str(source), "--to", str(restored / "metadata.db"))
        finally:
            stop.set()
            thread.join(60)
        assert not errors, errors
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["keys"] > len(before) and report["backup"] == str(restored / "metadata.db")
        assert not list(restored.glob(".metadata.db.*"))  # no temporary file left
        # After the metadata backup: the chunks (a live directory: skip in-flight temp files).
        shutil.copytree(
            source / "chunks", restored / "chunks", ignore=shutil.ignore_patterns("tmp")
        )
        for name in ("secret.key", "admin-credentials.json"):
            shutil.copy2(source / name, restored / name)

    with running_server(tmp_path / "b", data_dir=restored) as server:
        s3 = client(server)
        for key, size in before.items():
            assert s3.get_object(Bucket="keep", Key=key)["Body"].read() == body(key, size), key
        listed = {
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket="keep")
            for o in page.get("Contents", [])
        }
        assert set(before) <= listed
        restored_during = listed - set(before)
        assert restored_during <= set(during)  # nothing that was never acknowledged
        assert len(acknowledged_first) >= 3 and acknowledged_first <= restored_during
        for key in restored_during:  # every object the backup holds has all its chunks
            got = s3.get_object(Bucket="keep", Key=key)["Body"].read()
            assert got == body(key, during[key]), key


def test_backup_refuses_etcd_and_a_missing_store(tmp_path: Path) -> None:
    target = tmp_path / "out" / "metadata.db"
    etcd = {
        "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
        "LIGHTNINGSTOR_METADATA__ENDPOINTS": "127.0.0.1:2379",
    }
    done = backup("--to", str(target), "--data-dir", str(tmp_path / "d"), env=etcd)
    assert done.returncode == 2 and "etcdctl snapshot save" in done.stderr, done.stderr
    done = backup("--to", str(target), "--data-dir", str(tmp_path / "nothing-here"))
    assert done.returncode == 1 and "no embedded metadata store" in done.stderr, done.stderr
    assert not target.exists()
    assert not (target.parent.exists() and list(target.parent.iterdir()))
    done = backup("--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and "--to" in done.stderr
