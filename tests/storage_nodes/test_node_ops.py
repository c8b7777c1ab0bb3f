"""A storage node's /health, /ready, /metrics and gRPC health, on a real node process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import google_crc32c
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lightningstor_storage import ChunkNotFound, new_chunk_id
from lightningstor_storage.node.server import SERVICE_NAME
from lightningstor_storage.replicated.client import NodeClient
from tests.ops.test_observability import assert_process_metrics, get, sample
from tests.storage_nodes.nodes import NodeProcess, running_nodes
from tests.wait import wait_for_value

TOKEN = "scrape-secret"
OPS_ENV = {"LIGHTNINGSTOR_METRICS__ADDR": "127.0.0.1:0"}


def ops_url(node: NodeProcess) -> str:
    return "http://" + json.loads(node.ports_file.read_text())["metrics"]


def grpc_health(node: NodeProcess, service: str) -> int:
    with grpc.insecure_channel(node.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)  # type: ignore[no-untyped-call]
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        status: int = reply.status
        return status


def ready(node: NodeProcess) -> tuple[int, dict[str, object]]:
    status, body, _ = get(ops_url(node) + "/ready")
    report: dict[str, object] = json.loads(body)
    return status, report


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    with running_nodes(tmp_path / "n", 1, env=OPS_ENV) as started:
        yield started[0]


def test_health_and_ready_follow_the_data_directory(node: NodeProcess) -> None:
    status, body, _ = get(ops_url(node) + "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert ready(node) == (
        200,
        {"status": "ready", "checks": {"data_dir": "ok", "free_space": "ok"}},
    )
    serving = health_pb2.HealthCheckResponse.SERVING
    assert grpc_health(node, "") == grpc_health(node, SERVICE_NAME) == serving

    # Puts start in {data_dir}/chunks/tmp: a "chunks" that is no directory fails every put.
    chunks = node.data_dir / "chunks"
    shutil.rmtree(chunks)
    chunks.write_text("not a directory")
    status, report = wait_for_value(lambda: ready(node), lambda r: r[0] == 503)
    assert status == 503 and report["status"] == "not ready", report
    checks = report["checks"]
    assert isinstance(checks, dict)
    assert checks["free_space"] == "ok" and checks["data_dir"].startswith("NotADirectoryError")
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    assert (
        wait_for_value(lambda: grpc_health(node, SERVICE_NAME), lambda s: s == not_serving)
        == not_serving
    )
    assert grpc_health(node, "") == serving  # liveness: the process is fine
    assert get(ops_url(node) + "/health")[0] == 200

    chunks.unlink()
    assert wait_for_value(lambda: ready(node), lambda r: r[0] == 200)[0] == 200
    assert (
        wait_for_value(lambda: grpc_health(node, SERVICE_NAME), lambda s: s == serving) == serving
    )


def test_not_ready_below_min_free_bytes_and_metrics_need_the_token(tmp_path: Path) -> None:
    env = {
        **OPS_ENV,
        "LIGHTNINGSTOR_MIN_FREE_BYTES": "1000000TiB",
        "LIGHTNINGSTOR_METRICS__BEARER_TOKEN": TOKEN,
    }
    with running_nodes(tmp_path / "n", 1, env=env) as (node,):
        status, report = wait_for_value(lambda: ready(node), lambda r: r[0] == 503)
        checks = report["checks"]
        assert status == 503 and isinstance(checks, dict), report
        assert checks["data_dir"] == "ok"
        assert "below min_free_bytes 1000000 TiB" in checks["free_space"], checks
        url = ops_url(node) + "/metrics"
        assert get(url)[0] == 401
        assert get(url, {"Authorization": "Bearer wrong"})[0] == 401
        status, body, _ = get(url, {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200 and b"lightningstor_node_free_bytes" in body


def test_metrics_after_a_known_sequence(tmp_path: Path) -> None:
    import asyncio

    sizes = {new_chunk_id(): n for n in (1000, 70_000, 300_000)}
    gone, *kept = sizes

    async def traffic(address: str) -> None:
        client = NodeClient(address, timeout=10.0)
        try:
            for chunk_id, size in sizes.items():
                data = bytes(size)
                await client.put(chunk_id, data, google_crc32c.value(data))
            assert len(await client.read_all(kept[0])) == sizes[kept[0]]
            assert len(await client.read_all(kept[1])) == sizes[kept[1]]
            with pytest.raises(ChunkNotFound):
                await client.read_all(new_chunk_id())
            assert await client.delete(gone)
        finally:
            await client.close()

    def page(node: NodeProcess) -> str:
        status, body, headers = get(ops_url(node) + "/metrics")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        return body.decode()

    with running_nodes(tmp_path / "n", 1, env=OPS_ENV) as (node,):
        asyncio.run(traffic(node.address))
        text = page(node)
        requests = "lightningstor_node_requests_total"
        assert sample(text, requests, operation="PutChunk", code="OK") == 3
        assert sample(text, requests, operation="GetChunk", code="OK") == 2
        assert sample(text, requests, operation="GetChunk", code="NOT_FOUND") == 1
        assert sample(text, requests, operation="DeleteChunk", code="OK") == 1
        assert sample(text, "lightningstor_node_chunks") == 2
        assert sample(text, "lightningstor_node_stored_bytes") == sizes[kept[0]] + sizes[kept[1]]
        assert sample(text, "lightningstor_node_free_bytes") > 0
        assert sample(text, "lightningstor_node_capacity_bytes") >= sample(
            text, "lightningstor_node_free_bytes"
        )
        assert sample(text, "lightningstor_node_scrub_passes_total") == 0  # scrub off
        assert_process_metrics(text)

        # Restarted with the scrub on: the counts come from a listing, the first pass reads both.
        node.env["LIGHTNINGSTOR_SCRUB_RATE_BYTES_PER_SECOND"] = "1GiB"
        node.restart()
        text = wait_for_value(
            lambda: page(node), lambda t: sample(t, "lightningstor_node_scrub_passes_total") >= 1
        )
        assert sample(text, "lightningstor_node_scrub_passes_total") == 1
        assert sample(text, "lightningstor_node_scrub_chunks_total") == 2
        assert (
            sample(text, "lightningstor_node_scrub_bytes_total") == sizes[kept[0]] + sizes[kept[1]]
        )
        assert sample(text, "lightningstor_node_scrub_quarantined_total") == 0
        assert sample(text, "lightningstor_node_chunks") == 2
        assert sample(text, "lightningstor_node_stored_bytes") == sizes[kept[0]] + sizes[kept[1]]
        assert sample(text, requests, operation="PutChunk", code="OK") == 0  # a new process


def test_node_says_which_address_is_in_use(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from tests.storage_nodes.nodes import clean_env

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "lightningstor_storage.node.main",
             "--listen-addr", addr, "--data-dir", str(tmp_path / "data")],
            env=clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(tmp_path / "ports.json")}),
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    (line,) = [json.loads(x) for x in output.splitlines() if "cannot run" in x]
    assert line["level"] == "error" and f"cannot listen on {addr}" in line["msg"], line
    assert "Traceback" not in output, output
    assert not (tmp_path / "ports.json").exists()
