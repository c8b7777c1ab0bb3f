"""``lightningstor admin check`` and ``storage status`` on the replicated backend: a server
process over three storage nodes (RF=3), a replica deleted from one node's disk and an orphan
planted on another. Background repair is off (scrub rate 0), so only the check repairs."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.cli import Run, run_cli
from tests.integration.server import ServerProcess, running_server
from tests.s3.conftest import make_client
from tests.storage_nodes.nodes import NodeProcess, restore, running_nodes
from tests.wait import wait_until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path_factory.mktemp("nodes"), 3) as started:
        yield started


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, cluster: list[NodeProcess]
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("server")
    lines = [
        "[storage]",
        'backend = "distributed"',
        'chunk_size = "1MiB"',
        "gc_interval_seconds = 3600",
        "[storage.distributed]",
        "replication_factor = 3",
        "scrub_rate_bytes_per_second = 0",
        "request_timeout_seconds = 10",
    ]
    for node in cluster:
        lines += ["[[storage.distributed.nodes]]", f'address = "{node.address}"']
    config = workdir / "server.toml"
    config.write_text("\n".join(lines) + "\n")
    with running_server(workdir, env={"LIGHTNINGSTOR_CONFIG": str(config)}) as proc:
        yield proc


def wait_for(predicate: Any, what: str, timeout: float = 30.0) -> None:
    wait_until(predicate, timeout, what)


def plant(node: NodeProcess, age_seconds: float) -> Path:
    chunk_id = secrets.token_hex(16)
    path = node.data_dir / "chunks" / chunk_id[:2] / chunk_id[2:4] / chunk_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(500))
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def check(monkeypatch: pytest.MonkeyPatch, server: ServerProcess, *args: str) -> Run:
    return run_cli(monkeypatch, server, server.admin_keys(), "admin", "check", "--json", *args)


def parse(run: Run) -> tuple[dict[str, set[str]], dict[str, Any]]:
    found: dict[str, set[str]] = {}
    summary: dict[str, Any] = {}
    for line in run.json_lines():
        if "finding" in line:
            found.setdefault(line["finding"]["kind"], set()).add(line["finding"]["chunk_id"])
        else:
            summary = line["summary"]
    return found, summary


def test_storage_status_names_every_node(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, cluster: list[NodeProcess]
) -> None:
    done = run_cli(monkeypatch, server, server.admin_keys(), "admin", "storage", "status", "--json")
    assert done.code == 0, done.err
    (status,) = done.json_lines()
    assert status["backend"] == "replicated"
    assert (status["replication_factor"], status["write_quorum"]) == (3, 2)
    nodes = {n["address"]: n for n in status["nodes"]}
    assert set(nodes) == {n.address for n in cluster}
    assert all(n["up"] and n["node_id"] and n["capacity_bytes"] > 0 for n in nodes.values())
    assert status["repair"]["scrub_rate_bytes_per_second"] == 0
    human = run_cli(monkeypatch, server, server.admin_keys(), "admin", "storage", "status")
    assert "backend: replicated" in human.out and cluster[0].address in human.out


def test_a_missing_replica_is_reported_then_restored(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, cluster: list[NodeProcess]
) -> None:
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    s3.create_bucket(Bucket="replicated")
    before = set(cluster[0].chunk_files())
    s3.put_object(Bucket="replicated", Key="k", Body=b"r" * 300_000)
    wait_for(lambda: len(set(cluster[0].chunk_files()) - before) == 1, "the chunk on node 0")
    (chunk_id,) = set(cluster[0].chunk_files()) - before
    wait_for(lambda: all(chunk_id in n.chunk_files() for n in cluster), "all three replicas")

    clean = check(monkeypatch, server)
    assert clean.code == 0, clean.out + clean.err

    cluster[1].chunk_files()[chunk_id].unlink()
    orphan = plant(cluster[2], age_seconds=2 * 86400)

    dry_run = check(monkeypatch, server, "--grace", "3600")
    assert dry_run.code == 1
    found, summary = parse(dry_run)
    assert found == {"under_replicated": {chunk_id}, "orphan": {orphan.name}}
    assert summary["under_replicated"] == 1 and summary["remaining"] == 2
    assert chunk_id not in cluster[1].chunk_files() and orphan.exists()  # nothing changed

    repaired = check(monkeypatch, server, "--grace", "3600", "--repair")
    assert repaired.code == 0, repaired.out + repaired.err
    _, summary = parse(repaired)
    assert (summary["replicas_restored"], summary["orphans_deleted"], summary["remaining"]) == (
        1, 1, 0,
    )  # fmt: skip
    assert chunk_id in cluster[1].chunk_files() and not orphan.exists()
    assert s3.get_object(Bucket="replicated", Key="k")["Body"].read() == b"r" * 300_000

    again = check(monkeypatch, server, "--grace", "3600")
    assert again.code == 0, again.out


def test_a_node_down_leaves_its_chunks_unknown(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, cluster: list[NodeProcess]
) -> None:
    """Every chunk has a replica on each of the three nodes: with one down, no chunk is known
    to be whole, and the check says so (exit 1), never "consistent"."""
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    s3.create_bucket(Bucket="node-down")
    before = set(cluster[0].chunk_files())
    s3.put_object(Bucket="node-down", Key="k", Body=b"d" * 200_000)
    wait_for(lambda: len(set(cluster[0].chunk_files()) - before) == 1, "the chunk on node 0")
    (chunk_id,) = set(cluster[0].chunk_files()) - before
    wait_for(lambda: all(chunk_id in n.chunk_files() for n in cluster), "all three replicas")
    assert check(monkeypatch, server, "--grace", "3600").code == 0

    cluster[0].kill()
    try:
        down = check(monkeypatch, server, "--grace", "3600")
        assert down.code == 1, down.out + down.err
        found, summary = parse(down)
        assert chunk_id in found["unknown"], found
        assert summary["unknown"] >= 1 and summary["remaining"] >= 1, summary
        human = run_cli(monkeypatch, server, keys, "admin", "check", "--grace", "3600")
        assert human.code == 1 and "NOT consistent" in human.out, human.out
    finally:
        restore(cluster)
    wait_for(lambda: check(monkeypatch, server, "--grace", "3600").code == 0, "consistent again")


def test_sse_s3_over_storage_nodes_stores_only_ciphertext_and_checks_clean(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, cluster: list[NodeProcess]
) -> None:
    """Issue 15 §3: the nodes hold sealed chunks only; the check compares their replicas at
    their stored size (longer than the plaintext by a tag per block), so it finds nothing."""
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    s3.create_bucket(Bucket="sealed")
    marker = b"NODE-PLAINTEXT-" + os.urandom(8).hex().encode()
    body = b"".join(marker + os.urandom(4000) for _ in range(600))  # ~2.4 MiB: three chunks
    before = [set(n.chunk_files()) for n in cluster]
    s3.put_object(Bucket="sealed", Key="k", Body=body, ServerSideEncryption="AES256")

    def new(i: int) -> set[str]:
        return set(cluster[i].chunk_files()) - before[i]

    wait_for(
        lambda: len(new(0)) == 3 and all(new(i) == new(0) for i in range(len(cluster))),
        "the three sealed chunks on every node (RF 3)",
    )
    assert s3.get_object(Bucket="sealed", Key="k")["Body"].read() == body
    for node in cluster:
        for path in node.chunk_files().values():
            assert marker not in path.read_bytes(), path
    found, summary = parse(check(monkeypatch, server))
    assert found == {} and summary["consistent"], summary
