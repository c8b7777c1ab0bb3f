"""A server over three storage nodes (RF 3, write quorum 2) stays ready with one node down,
says which node in ``/ready``'s ``degraded`` and the ``lightningstor_storage_nodes_degraded``
gauge, and is not ready once a write quorum no longer answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.server import ServerProcess, running_server
from tests.ops.test_observability import get, sample
from tests.s3.conftest import make_client
from tests.storage_nodes.nodes import restore, running_nodes
from tests.storage_nodes.test_end_to_end import server_config
from tests.wait import wait_until


def ready(server: ServerProcess) -> tuple[int, dict[str, Any]]:
    status, body, _ = get(f"http://{server.ports['s3']}/ready")
    return status, json.loads(body)


def grpc_health(server: ServerProcess) -> int:
    with grpc.insecure_channel(server.grpc_addr) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    return int(reply.status)


def test_ready_while_a_write_quorum_answers(tmp_path: Path) -> None:
    with running_nodes(tmp_path / "nodes", 3) as nodes:
        config = server_config(tmp_path / "server.toml", nodes)
        with running_server(tmp_path / "server", args=["--config", str(config)]) as server:
            keys = server.admin_keys()
            s3 = make_client(f"http://{server.ports['s3']}", keys["access_key"], keys["secret_key"])
            s3.create_bucket(Bucket="ready")
            assert ready(server) == (
                200,
                {
                    "status": "ready",
                    "checks": {"metadata": "ok", "storage": "ok", "iam": "ok"},
                    "degraded": [],
                },
            )

            nodes[0].kill()
            wait_until(
                lambda: ready(server)[1]["degraded"] == [nodes[0].address], message="degraded"
            )
            status, report = ready(server)
            assert status == 200 and report["checks"]["storage"] == "ok", report
            assert grpc_health(server) == health_pb2.HealthCheckResponse.SERVING
            _, page, _ = get(f"http://{server.ports['s3']}/metrics")
            assert sample(page.decode(), "lightningstor_storage_nodes_degraded") == 1
            s3.put_object(Bucket="ready", Key="k", Body=b"still writable")  # the quorum is there
            assert s3.get_object(Bucket="ready", Key="k")["Body"].read() == b"still writable"

            nodes[1].kill()
            wait_until(lambda: ready(server)[0] == 503, message="not ready without a write quorum")
            report = ready(server)[1]
            assert report["checks"]["storage"].startswith(
                "StorageUnavailable: 1 of 3 storage nodes can take writes"
            ), report
            assert report["degraded"] == sorted([nodes[0].address, nodes[1].address])
            wait_until(
                lambda: grpc_health(server) == health_pb2.HealthCheckResponse.NOT_SERVING,
                message="NOT_SERVING",
            )

            restore(nodes)
            wait_until(lambda: ready(server)[1]["degraded"] == [], message="all nodes back")
            assert ready(server)[0] == 200
            # gRPC health follows the same probe on its own watch: it may turn a moment later.
            wait_until(
                lambda: grpc_health(server) == health_pb2.HealthCheckResponse.SERVING,
                message="SERVING again",
            )
