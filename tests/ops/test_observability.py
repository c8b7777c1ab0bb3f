"""Health, readiness, metrics and access logs of a real server process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server import ServerProcess
from tests.wait import wait_until

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _NO_PROXY.open(request, timeout=10) as reply:
            return reply.status, reply.read(), {k.lower(): v for k, v in reply.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, err.read(), {k.lower(): v for k, v in err.headers.items()}


def sample(page: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` whose labels include ``labels`` (0 when absent)."""
    for line in page.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.partition("}")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def assert_process_metrics(page: str) -> None:
    """The standard ``process_*`` families of a live process, with plausible values."""
    import time

    assert sample(page, "process_resident_memory_bytes") > 0, page
    assert sample(page, "process_open_fds") > 0
    assert sample(page, "process_max_fds") > 0
    assert sample(page, "process_cpu_seconds_total") > 0
    assert 0 < sample(page, "process_start_time_seconds") <= time.time()
    assert "# TYPE process_cpu_seconds_total counter" in page


def test_health_and_ready(s3_url: str) -> None:
    status, body, _ = get(s3_url + "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body, _ = get(s3_url + "/ready")
    report = json.loads(body)
    assert status == 200
    assert report == {
        "status": "ready",
        "checks": {"metadata": "ok", "storage": "ok", "iam": "ok"},
    }


def test_metrics_count_a_known_sequence(s3: Any, s3_url: str, ops_server: ServerProcess) -> None:
    from lightningstor_client import LightningStorClient
    from lightningstor_types.errors import LightningStorError

    def page() -> str:
        status, body, headers = get(s3_url + "/metrics")
        assert status == 200
        assert headers["content-type"].startswith("text/plain")
        return body.decode()

    before = page()
    bucket = f"m-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x" * 4096)
    for _ in range(5):
        assert s3.get_object(Bucket=bucket, Key="k0")["Body"].read() == b"x" * 4096
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="absent")
    with LightningStorClient(ops_server.grpc_addr, **ops_server.admin_keys()) as c:
        c.head_bucket(bucket)
    # a refused call is counted too, and before its status reaches the client
    with LightningStorClient(ops_server.grpc_addr) as c, pytest.raises(LightningStorError):
        c.head_bucket(bucket)
    after = page()

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    ok = {"api": "s3", "status": "2xx"}
    assert delta("lightningstor_requests_total", operation="PutObject", **ok) == 3
    assert delta("lightningstor_requests_total", operation="GetObject", **ok) == 5
    assert delta("lightningstor_requests_total", operation="CreateBucket", **ok) == 1
    assert delta("lightningstor_requests_total", api="s3", operation="GetObject", status="4xx") == 1
    assert delta("lightningstor_s3_errors_total", operation="GetObject", code="NoSuchKey") == 1
    grpc_head = {"api": "grpc", "operation": "HeadBucket"}
    assert delta("lightningstor_requests_total", status="2xx", **grpc_head) == 1, after
    assert delta("lightningstor_requests_total", status="4xx", **grpc_head) == 1, after
    assert (
        delta(
            "lightningstor_request_duration_seconds_count",
            api="s3",
            operation="GetObject",
            status="2xx",
        )
        == 5
    )
    # 4 KiB bodies land in the 4 KiB bucket of the size histogram (le is inclusive)
    assert (
        delta(
            "lightningstor_object_size_bytes_bucket", api="s3", operation="PutObject", le="4096.0"
        )
        == 3
    )
    assert delta("lightningstor_transfer_bytes_total", api="s3", direction="out") >= 5 * 4096
    for family in (
        "lightningstor_objects",
        "lightningstor_storage_bytes",
        "lightningstor_multipart_uploads_active",
        "lightningstor_gc_backlog",
    ):
        assert f"# TYPE {family} gauge" in after, family


def test_feature_probes_are_not_counted_as_server_errors(s3: Any, s3_url: str) -> None:
    """A sub-resource we do not serve (``s3cmd info`` asks for ``?logging``, ``?website``, …) is
    still 501 for the client, but its status label is ``unimplemented``, not ``5xx``."""
    from botocore.exceptions import ClientError

    def page() -> str:
        return get(s3_url + "/metrics")[1].decode()

    bucket = f"probe-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    before = page()
    for probe in (s3.get_bucket_logging, s3.get_bucket_notification, s3.get_bucket_website):
        with pytest.raises(ClientError) as info:
            probe(Bucket=bucket)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
        assert info.value.response["Error"]["Code"] == "NotImplemented"
    after = page()

    def total(text: str, status: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("lightningstor_requests_total{") and f'status="{status}"' in line
        )

    assert total(after, "unimplemented") - total(before, "unimplemented") == 3
    assert total(after, "5xx") - total(before, "5xx") == 0
    assert (
        sample(after, "lightningstor_s3_errors_total", code="NotImplemented")
        - sample(before, "lightningstor_s3_errors_total", code="NotImplemented")
        == 3
    )


@pytest.mark.skipif(shutil.which("s3cmd") is None, reason="s3cmd is not installed")
def test_s3cmd_info_fires_no_server_error(
    s3: Any, s3_url: str, ops_server: ServerProcess, tmp_path: Path
) -> None:
    """``s3cmd info`` probes sub-resources we do not serve: no 5xx in the metrics for it."""
    keys = json.loads((ops_server.data_dir / "admin-credentials.json").read_text())
    host = s3_url.removeprefix("http://")
    config = tmp_path / "s3cfg"
    config.write_text(
        f"[default]\naccess_key = {keys['access_key_id']}\n"
        f"secret_key = {keys['secret_access_key']}\nhost_base = {host}\n"
        f"host_bucket = {host}\nuse_https = False\n"
    )
    bucket = f"info-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    before = get(s3_url + "/metrics")[1].decode()
    proc = subprocess.run(
        ["s3cmd", "-c", str(config), "info", f"s3://{bucket}"],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    after = get(s3_url + "/metrics")[1].decode()
    assert f"s3://{bucket}/" in proc.stdout, proc.stderr

    def total(text: str, status: str) -> float:
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("lightningstor_requests_total{") and f'status="{status}"' in line
        )

    assert total(after, "5xx") == total(before, "5xx")
    assert total(after, "unimplemented") > total(before, "unimplemented")


def test_access_log_line_per_request(s3: Any, ops_server: ServerProcess) -> None:
    bucket = f"log-{uuid.uuid4().hex[:12]}"
    reply = s3.create_bucket(Bucket=bucket)
    request_id = reply["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"abc")

    # the server writes access lines after the response: wait for both of ours to be flushed
    def access_lines() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
        lines = [
            r for r in ops_server.log_records() if r.get("logger") == "lightningstor_s3.access"
        ]
        mine = [r for r in lines if r.get("request_id") == request_id]
        put = [r for r in lines if r.get("operation") == "PutObject" and bucket in r["msg"]]
        return (mine, put) if mine and put else None

    mine, put = wait_until(access_lines, message="the CreateBucket and PutObject access lines")
    assert len(mine) == 1
    line = mine[0]
    assert line["operation"] == "CreateBucket"
    assert line["status"] == 200
    assert line["scope"] == "default"  # the admin's org: the scope the request acted in
    assert isinstance(line["duration_ms"], float)
    assert put and put[-1]["bytes_in"] >= 3
    grpc_lines = [
        r for r in ops_server.log_records() if r.get("logger") == "lightningstor_api.access"
    ]
    assert all(
        {"request_id", "operation", "scope", "status", "duration_ms"} <= set(r) for r in grpc_lines
    )


async def test_grpc_access_lines_count_streamed_bytes(ops_server: ServerProcess) -> None:
    """Streamed messages are counted as gRPC (de)serializes them: every byte, each once."""
    from lightningstor_client import AsyncLightningStorClient

    size = 3 * 1024 * 1024 + 5  # several 1 MiB messages each way, and a short last one
    bucket = f"grpc-bytes-{uuid.uuid4().hex[:8]}"
    async with AsyncLightningStorClient(ops_server.grpc_addr, **ops_server.admin_keys()) as c:
        await c.create_bucket(bucket)
        await c.put_object(bucket, "k", b"z" * size)
        got = 0
        async with await c.get_object(bucket, "k") as stream:
            async for piece in stream:
                got += len(piece)
    assert got == size

    def lines(operation: str) -> list[dict[str, Any]]:
        return [
            r
            for r in ops_server.log_records()
            if r.get("logger") == "lightningstor_api.access" and r.get("operation") == operation
        ]

    wait_until(lambda: lines("PutObject") and lines("GetObject"), message="the gRPC access lines")
    put, got_line = lines("PutObject")[-1], lines("GetObject")[-1]
    # The content plus per-message framing and the header message: never less, never twice.
    assert size < put["bytes_in"] < size + 4096
    assert size < got_line["bytes_out"] < size + 4096
    assert put["bytes_out"] > 0 and got_line["bytes_in"] > 0  # the unary sides, as before


def test_the_server_reports_its_process_metrics(s3_url: str) -> None:
    status, body, _ = get(s3_url + "/metrics")
    assert status == 200
    assert_process_metrics(body.decode())


def test_the_server_logs_where_it_listens_once(ops_server: ServerProcess) -> None:
    records = ops_server.log_records()
    s3 = [r for r in records if str(r.get("msg", "")).lower() == "s3 listening"]
    assert len(s3) == 1 and s3[0]["addr"] == ops_server.ports["s3"], s3
    assert not any("color_message" in r for r in records)
