"""Traces without a collector: ``tracing.file`` writes spans as JSON lines. Background work
(GC) is a trace of its own, the readiness probe is not traced, and no metadata or storage call
is left as a trace of one span without a parent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.integration.server import running_server
from tests.ops.test_observability import get
from tests.s3.conftest import make_client
from tests.wait import wait_until


def spans(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_spans_in_a_file_background_work_rooted_probes_untraced(tmp_path: Path) -> None:
    traces = tmp_path / "traces.jsonl"
    env = {"LIGHTNINGSTOR_TRACING__FILE": str(traces), "OTEL_BSP_SCHEDULE_DELAY": "100"}
    with running_server(tmp_path / "server", env=env) as server:
        url = "http://" + server.ports["s3"]
        assert get(url + "/ready")[0] == 200  # a probe: its reads must leave no span
        keys = server.admin_keys()
        s3 = make_client(url, keys["access_key"], keys["secret_key"])
        s3.create_bucket(Bucket="traced")
        put = s3.put_object(Bucket="traced", Key="k", Body=b"t" * 100_000)
        request_id = put["ResponseMetadata"]["RequestId"]

        def request_span() -> list[dict[str, Any]]:
            return [
                s
                for s in spans(traces)
                if s["attributes"].get("lightningstor.request_id") == request_id
            ]

        (root,) = wait_until(request_span, message="the PUT's span in the file")
        assert root["name"] == "S3 PutObject" and root["kind"] == "SpanKind.SERVER"
        assert root["parent_id"] is None
        everything = spans(traces)  # all that ended before the PUT's span is written too
        by_id = {s["context"]["span_id"]: s for s in everything}
        gc = [s for s in everything if s["name"] == "gc"]
        assert gc and all(s["parent_id"] is None for s in gc), gc
        under_gc = [s for s in everything if s["parent_id"] == gc[0]["context"]["span_id"]]
        assert any(s["name"].startswith("metadata.") for s in under_gc), under_gc
        orphans = [
            (s["name"], s["parent_id"], s["attributes"], s["start_time"])
            for s in everything
            if s["name"].startswith(("metadata.", "storage.")) and s["parent_id"] not in by_id
        ]
        assert orphans == [], orphans
        probes = [s["name"] for s in everything if s["attributes"].get("url.path") == "/ready"]
        assert probes == [], probes  # FastAPI's own spans of the control app are off


def test_the_gateway_passes_the_callers_trace_on_to_the_server(tmp_path: Path) -> None:
    """An S3 request with a W3C ``traceparent`` through the stand-alone gateway (tracing on,
    no exporter of its own): the server's span of the gateway's gRPC call is in that trace,
    under the caller's span."""
    import secrets

    from tests.s3 import rawhttp
    from tests.s3.test_gateway import _start_gateway

    traces = tmp_path / "server-traces.jsonl"
    env = {"LIGHTNINGSTOR_TRACING__FILE": str(traces), "OTEL_BSP_SCHEDULE_DELAY": "100"}
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    with running_server(tmp_path / "server", env=env) as server:
        gateway_env = {"LIGHTNINGSTOR_TRACING__FILE": str(tmp_path / "gateway-traces.jsonl")}
        for endpoint in _start_gateway(server, tmp_path / "gw", 1, env=gateway_env):
            keys = server.admin_keys()
            address = endpoint.removeprefix("http://")
            signer = rawhttp.Signer(address, keys["access_key"], keys["secret_key"])
            reply = rawhttp.request(
                address, "GET", signer.presign("GET", "/"),
                {"Host": address, "traceparent": f"00-{trace_id}-{span_id}-01"},
            )  # fmt: skip
            assert reply.status == 200, reply.body

            def continued() -> list[dict[str, Any]]:
                return [
                    s
                    for s in spans(traces)
                    if s["context"]["trace_id"] == "0x" + trace_id
                    and s["kind"] == "SpanKind.SERVER"
                ]

            (call,) = wait_until(continued, message="the server's span in the caller's trace")
            assert call["name"] == "lightningstor.v1.BucketService/ListBuckets", call
            assert call["parent_id"] == "0x" + span_id
