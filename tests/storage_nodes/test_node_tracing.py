"""Trace context across the process boundary: a server over real storage-node processes, all
with ``tracing.file`` set. The node's span of each chunk call is in the server's trace, under
one of the server's spans (the distributed backend sends ``traceparent`` with every node call,
the node continues it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.server import running_server
from tests.ops.test_trace_file import spans
from tests.s3.conftest import make_client
from tests.storage_nodes.nodes import running_nodes
from tests.storage_nodes.test_end_to_end import server_config
from tests.wait import wait_until

TRACED = {"LIGHTNINGSTOR_TRACING__FILE": "traces.jsonl", "OTEL_BSP_SCHEDULE_DELAY": "100"}
"""Relative: each process writes into its own working directory."""


def test_a_put_is_one_trace_from_the_server_into_the_storage_nodes(tmp_path: Path) -> None:
    body = b"n" * 100_000
    with running_nodes(tmp_path / "nodes", 3, env=TRACED) as nodes:
        config = server_config(tmp_path / "server.toml", nodes)
        workdir = tmp_path / "server"
        with running_server(workdir, args=["--config", str(config)], env=TRACED) as server:
            url = "http://" + server.ports["s3"]
            keys = server.admin_keys()
            s3 = make_client(url, keys["access_key"], keys["secret_key"])
            s3.create_bucket(Bucket="traced")
            put = s3.put_object(Bucket="traced", Key="k", Body=body)
            request_id = put["ResponseMetadata"]["RequestId"]

            def the_put() -> list[dict[str, Any]]:
                return [
                    s
                    for s in spans(workdir / "traces.jsonl")
                    if s["attributes"].get("lightningstor.request_id") == request_id
                ]

            (root,) = wait_until(the_put, message="the PUT's span in the server's file")
            trace_id = root["context"]["trace_id"]
            server_spans = {
                s["context"]["span_id"]: s
                for s in spans(workdir / "traces.jsonl")
                if s["context"]["trace_id"] == trace_id
            }
            (chunk_put,) = [s for s in server_spans.values() if s["name"] == "storage.put_chunk"]
            chunk_id = chunk_put["attributes"]["lightningstor.chunk_id"]

            for node in nodes:

                def node_puts(node: Any = node) -> list[dict[str, Any]]:
                    return [
                        s
                        for s in spans(node.workdir / "traces.jsonl")
                        if s["name"] == "storage.PutChunk" and s["context"]["trace_id"] == trace_id
                    ]

                (span,) = wait_until(node_puts, message=f"the PutChunk span of {node.name}")
                assert span["kind"] == "SpanKind.SERVER", span
                assert span["parent_id"] in server_spans, (span, sorted(server_spans))
                assert span["attributes"]["lightningstor.chunk_id"] == chunk_id, span
                assert span["attributes"]["lightningstor.bytes"] == len(body), span
                assert span["resource"]["attributes"]["service.name"] == (
                    "lightningstor-storage-node"
                )


def test_the_node_client_sends_the_current_context_and_nothing_without_one() -> None:
    from opentelemetry import context, trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from lightningstor_storage.tracing import outgoing_metadata

    assert outgoing_metadata() is None  # tracing off: no current span, nothing sent
    span = NonRecordingSpan(
        SpanContext(trace_id=0xAB, span_id=0xCD, is_remote=False, trace_flags=TraceFlags(1))
    )
    token = context.attach(trace.set_span_in_context(span))
    try:
        assert outgoing_metadata() == (("traceparent", f"00-{0xAB:032x}-{0xCD:016x}-01"),)
    finally:
        context.detach(token)
