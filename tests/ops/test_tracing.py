"""Traces of a real server, received by a real OTLP/gRPC collector started here.

The collector is an ``opentelemetry-proto`` ``TraceService`` servicer on a free loopback port: it
speaks the protocol the exporter speaks, and keeps every span it receives.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from botocore.exceptions import ClientError
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from lightningstor.v1 import object_pb2, object_pb2_grpc
from tests.integration.server import AdminSigner, ServerProcess, running_server
from tests.s3.conftest import make_client
from tests.wait import wait_for_value, wait_until

SERVER_SPAN = trace_pb2.Span.SPAN_KIND_SERVER


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps the spans of every export request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[trace_pb2.Span] = []

    def Export(  # noqa: N802 - the RPC's name
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        with self._lock:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    self._spans.extend(scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def spans(self) -> list[trace_pb2.Span]:
        with self._lock:
            return list(self._spans)


def attributes(span: trace_pb2.Span) -> dict[str, object]:
    out: dict[str, object] = {}
    for kv in span.attributes:
        field = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, field) if field else None
    return out


def descendants(spans: list[trace_pb2.Span], root: trace_pb2.Span) -> list[trace_pb2.Span]:
    """Every span under ``root`` (children, their children, …)."""
    found: list[trace_pb2.Span] = []
    parents = {root.span_id}
    grew = True
    while grew:
        grew = False
        for span in spans:
            if span.parent_span_id in parents and span.span_id not in parents:
                parents.add(span.span_id)
                found.append(span)
                grew = True
    return found


@pytest.fixture(scope="module")
def collector() -> Iterator[tuple[Collector, int]]:
    servicer = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(grace=None)


@pytest.fixture(scope="module")
def traced_server(
    collector: tuple[Collector, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    env = {
        "LIGHTNINGSTOR_TRACING__OTLP_ENDPOINT": f"http://127.0.0.1:{collector[1]}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export every 0.1 s: the test waits less
    }
    with running_server(tmp_path_factory.mktemp("traced"), env=env) as proc:
        yield proc


def server_span(
    collector: Collector, match: Callable[[trace_pb2.Span], bool], timeout: float = 30.0
) -> tuple[trace_pb2.Span, list[trace_pb2.Span]]:
    """The server span ``match`` picks, once it was exported, and the spans exported so far."""

    def found() -> tuple[trace_pb2.Span, list[trace_pb2.Span]] | None:
        spans = collector.spans()
        hits = [s for s in spans if s.kind == SERVER_SPAN and match(s)]
        return (hits[0], spans) if hits else None

    return wait_until(found, timeout, "the server span")


def names_under(spans: list[trace_pb2.Span], root: trace_pb2.Span) -> set[str]:
    return {s.name for s in descendants(spans, root)}


def spans_under(
    collector: Collector, root: trace_pb2.Span, names: set[str]
) -> list[trace_pb2.Span]:
    """The exported spans, once spans of every name in ``names`` were exported under ``root``
    (children may come in a later batch than their root)."""
    return wait_for_value(
        collector.spans,
        lambda spans: names <= names_under(spans, root),
        message=f"spans {sorted(names)} under {root.name}",
    )


BODY = b"hello traces " * 1000
"""Above storage.inline_max_bytes, so that it goes to a chunk (a small body is stored inline)."""


def test_s3_put_is_one_trace_frontend_authorize_metadata_storage(
    traced_server: ServerProcess, collector: tuple[Collector, int]
) -> None:
    keys = traced_server.admin_keys()
    s3 = make_client("http://" + traced_server.ports["s3"], keys["access_key"], keys["secret_key"])
    s3.create_bucket(Bucket="traced")
    reply = s3.put_object(Bucket="traced", Key="a.txt", Body=BODY)
    request_id = reply["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]

    root, spans = server_span(
        collector[0], lambda s: attributes(s).get("lightningstor.request_id") == request_id
    )
    attrs = attributes(root)
    assert root.name == "S3 PutObject"
    assert root.parent_span_id == b""  # the request's root span
    assert attrs["http.request.method"] == "PUT"
    assert attrs["http.response.status_code"] == 200
    spans = spans_under(collector[0], root, {"authorize", "metadata.txn", "storage.put_chunk"})
    under = descendants(spans, root)
    assert all(s.trace_id == root.trace_id for s in under)
    by_name = {s.name: s for s in under}
    assert attributes(by_name["authorize"])["lightningstor.allowed"] is True
    assert attributes(by_name["authorize"])["lightningstor.action"] == "lightningstor:objects:put"
    assert attributes(by_name["storage.put_chunk"])["lightningstor.bytes"] == len(BODY)
    assert attributes(by_name["metadata.txn"])["db.system"] == "embedded"

    # The access line of that request carries the trace id.
    trace_id = root.trace_id.hex()

    def access_lines() -> list[dict[str, object]]:
        return [
            r
            for r in traced_server.log_records()
            if r.get("logger") == "lightningstor_s3.access" and r.get("request_id") == request_id
        ]

    lines = wait_until(access_lines, message="the request's access line")
    assert lines[0]["trace_id"] == trace_id, lines

    # A GET: its storage read is a child too, with the bytes it streamed.
    got = s3.get_object(Bucket="traced", Key="a.txt")
    assert got["Body"].read() == BODY
    get_id = got["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    root, spans = server_span(
        collector[0], lambda s: attributes(s).get("lightningstor.request_id") == get_id
    )
    assert root.name == "S3 GetObject"
    spans = spans_under(collector[0], root, {"storage.get_chunk"})
    read = next(s for s in descendants(spans, root) if s.name == "storage.get_chunk")
    assert attributes(read)["lightningstor.bytes"] == len(BODY)
    assert "Failed to detach context" not in traced_server.logs()


def test_grpc_call_and_a_denied_s3_request(
    traced_server: ServerProcess, collector: tuple[Collector, int]
) -> None:
    keys = traced_server.admin_keys()
    request_id = f"trace-test-{uuid.uuid4().hex}"
    with grpc.insecure_channel(traced_server.grpc_addr) as raw:
        channel = grpc.intercept_channel(raw, AdminSigner(**keys))
        stub = object_pb2_grpc.ObjectServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.HeadObject(
                object_pb2.HeadObjectRequest(bucket="no-such-bucket-here", key="k"),
                metadata=[("x-request-id", request_id)],
                timeout=10,
            )
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    root, spans = server_span(
        collector[0], lambda s: attributes(s).get("lightningstor.request_id") == request_id
    )
    attrs = attributes(root)
    assert root.name == "lightningstor.v1.ObjectService/HeadObject"
    assert attrs["rpc.system"] == "grpc" and attrs["rpc.method"] == "HeadObject"
    assert attrs["rpc.grpc.status_code"] == "NOT_FOUND"
    assert attrs["lightningstor.error_code"] == "NoSuchBucket"
    assert root.status.code != trace_pb2.Status.STATUS_CODE_ERROR  # a client error, not ours
    spans = spans_under(collector[0], root, {"authorize", "metadata.get"})

    # A request signed with a wrong secret: a server span with its 403, no authorize child.
    s3 = make_client("http://" + traced_server.ports["s3"], keys["access_key"], "wrong-secret")
    with pytest.raises(ClientError) as denied:
        s3.list_buckets()
    denied_id = denied.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    root, spans = server_span(
        collector[0], lambda s: attributes(s).get("lightningstor.request_id") == denied_id
    )
    assert attributes(root)["http.response.status_code"] == 403
    assert attributes(root)["lightningstor.error_code"] == "SignatureDoesNotMatch"
    assert "authorize" not in names_under(spans, root)


def test_off_by_default_installs_nothing(tmp_path: Path) -> None:
    """Without [tracing] the per-request path has no tracing wrapper at all."""
    import asyncio

    from lightningstor_api.core.context import CoreContext
    from lightningstor_api.core.service import Core
    from lightningstor_api.tracing import TracedStorage, TracedStore
    from lightningstor_s3.app import create_app
    from lightningstor_s3.dispatch import S3Dispatcher
    from lightningstor_types.config import Settings

    async def check() -> None:
        settings = Settings(server={"data_dir": tmp_path})  # type: ignore[arg-type]
        core = await Core.open(settings)
        try:
            assert type(core.cc) is CoreContext
            assert not isinstance(core.cc.store, TracedStore)
            assert not isinstance(core.cc.storage, TracedStorage)
        finally:
            await core.close()
        app: Any = create_app(core, None, settings)  # type: ignore[arg-type]
        closure = {c.cell_contents for c in app.__closure__ or ()}
        assert any(isinstance(c, S3Dispatcher) for c in closure)

    asyncio.run(check())


STOP_WITHIN = 10.0
"""The stop's bound with an unreachable collector and ``export_timeout_seconds = 1`` (measured
on an idle machine: 1.4 s; with the setting at 10 s, 10.3 s, so the bound tells them apart and
still leaves a loaded machine room)."""


@pytest.mark.parametrize("collector_kind", ["silent", "refusing"])
def test_an_unreachable_collector_does_not_hold_up_the_stop(
    tmp_path: Path, collector_kind: str
) -> None:
    """SIGTERM with spans still queued for a collector that accepts TCP and never answers, or
    where nothing listens: the server flushes for at most ``export_timeout_seconds`` per export
    and exits 0."""
    import socket
    import subprocess

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        if collector_kind == "silent":
            hole.listen(16)  # the kernel completes the handshakes; nobody reads or answers
        env = {
            "LIGHTNINGSTOR_TRACING__OTLP_ENDPOINT": f"http://127.0.0.1:{hole.getsockname()[1]}",
            "LIGHTNINGSTOR_TRACING__EXPORT_TIMEOUT_SECONDS": "1",
        }
        with running_server(tmp_path / "server", env=env) as server:
            keys = server.admin_keys()
            s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
            for i in range(5):  # spans to flush at the stop (exports are 5 s apart by default)
                s3.create_bucket(Bucket=f"unexported-{i}")
            server.terminate()
            try:
                code = server.wait(STOP_WITHIN)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running {STOP_WITHIN:g} s after SIGTERM:\n{server.logs()}")
            assert code == 0, server.logs()
            assert any(r.get("msg") == "stopped" for r in server.log_records()), server.logs()
