"""A server of two processes (``[server] processes = 2``): one address, two workers, one page.

Real processes: the supervisor started like any server (port 0 addresses), boto3 and the gRPC
client against it, each worker's own metrics page read from its private unix socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from lightningstor.v1 import bucket_pb2, bucket_pb2_grpc
from lightningstor_client import LightningStorClient
from lightningstor_types.errors import NoSuchBucket
from tests import wait as waiting
from tests.integration.server import AdminSigner, ServerProcess, start_server
from tests.ops.test_observability import sample

TWO = {"LIGHTNINGSTOR_SERVER__PROCESSES": "2"}
DEADLINE = 60.0
START = 120.0  # two processes start one after the other, on a machine other tests share
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
GET_4XX = {"api": "s3", "operation": "-", "status": "4xx"}  # unsigned: refused before routing


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server(tmp_path_factory.mktemp("procs"), env=TWO, timeout=START)
    try:
        yield server
    finally:
        server.stop()


def worker_pids(server: ServerProcess) -> dict[int, int]:
    """The pid of each worker, from the supervisor's latest ``worker started`` line per index."""
    pids: dict[int, int] = {}
    for record in server.log_records():
        if record.get("msg") == "worker started":
            pids[int(record["worker"])] = int(record["pid"])  # type: ignore[call-overload]
    return pids


def worker_page(server: ServerProcess, index: int) -> str:
    """Worker ``index``'s own metrics page, from its private socket."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(server.data_dir / "run" / f"worker-{index}.sock"))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nhost: w\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return body.decode()


def http_get(url: str) -> int:
    """A GET on a connection of its own (urllib opens one per request); the status."""
    try:
        with _NO_PROXY.open(url, timeout=10) as reply:
            reply.read()
            return int(reply.status)
    except urllib.error.HTTPError as err:
        err.read()
        return err.code


def merged_page(server: ServerProcess) -> str:
    with _NO_PROXY.open(f"http://{server.ports['s3']}/metrics", timeout=10) as reply:
        return str(reply.read().decode())


def s3_client(server: ServerProcess) -> Any:
    from tests.s3.conftest import make_client

    keys = server.admin_keys()
    return make_client(f"http://{server.ports['s3']}", keys["access_key"], keys["secret_key"])


def anonymous_gets(server: ServerProcess, n: int) -> list[int]:
    """``n`` unsigned GETs of an object, each on a fresh connection (AccessDenied, counted)."""
    return [http_get(f"http://{server.ports['s3']}/b/k{i}") for i in range(n)]


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie is dead too


def wait_until(check: Any, what: str) -> None:
    waiting.wait_until(check, DEADLINE, what)


def test_s3_and_grpc_work_on_the_shared_addresses(two: ServerProcess) -> None:
    s3 = s3_client(two)
    bucket = f"p-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 4096)
    with LightningStorClient(two.grpc_addr, **two.admin_keys()) as client:
        with client.get_object(bucket, "k") as stream:
            assert stream.read() == b"x" * 4096
        client.put_object(bucket, "g", b"from grpc")
    assert s3.get_object(Bucket=bucket, Key="g")["Body"].read() == b"from grpc"
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="absent")
    assert json.loads((two.workdir / "ports.json").read_text()) == two.ports


def test_fresh_connections_reach_both_workers_and_the_merged_counter_is_exact(
    two: ServerProcess,
) -> None:
    before = [
        sample(worker_page(two, i), "lightningstor_requests_total", **GET_4XX) for i in (0, 1)
    ]
    merged_before = sample(merged_page(two), "lightningstor_requests_total", **GET_4XX)
    assert merged_before == sum(before)

    statuses = anonymous_gets(two, 40)

    assert statuses == [403] * 40

    def served() -> list[float]:
        after = [
            sample(worker_page(two, i), "lightningstor_requests_total", **GET_4XX) for i in (0, 1)
        ]
        return [a - b for a, b in zip(after, before, strict=True)]

    # A request is counted once its response is sent: the last one may still be on its way.
    wait_until(lambda: sum(served()) == 40, "40 requests counted")
    assert all(n > 0 for n in served()), served()  # the kernel spread the connections
    # whichever worker answers the scrape, the page is the whole server's
    for _ in range(6):
        page = merged_page(two)
        assert sample(page, "lightningstor_requests_total", **GET_4XX) == merged_before + 40


def test_fresh_grpc_channels_reach_both_workers(two: ServerProcess) -> None:
    head = {"api": "grpc", "operation": "HeadBucket", "status": "4xx"}
    before = [sample(worker_page(two, i), "lightningstor_requests_total", **head) for i in (0, 1)]
    signer = AdminSigner(**two.admin_keys())
    for _ in range(30):
        # a subchannel pool of its own: else grpc may reuse another channel's connection
        options = [("grpc.use_local_subchannel_pool", 1)]
        with grpc.insecure_channel(two.grpc_addr, options=options) as channel:
            stub = bucket_pb2_grpc.BucketServiceStub(grpc.intercept_channel(channel, signer))
            with pytest.raises(grpc.RpcError) as err:
                stub.HeadBucket(bucket_pb2.HeadBucketRequest(name="absent"), timeout=10)
            assert err.value.code() == grpc.StatusCode.NOT_FOUND

    def counts() -> list[float]:
        return [sample(worker_page(two, i), "lightningstor_requests_total", **head) for i in (0, 1)]

    # A call is counted once its status is sent: the last one may still be on its way.
    wait_until(lambda: sum(counts()) - sum(before) == 30, "30 calls counted")
    after = counts()
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert all(n > 0 for n in served), served
    assert sample(merged_page(two), "lightningstor_requests_total", **head) == sum(after)


def test_each_lightningstor_client_has_a_connection_of_its_own(two: ServerProcess) -> None:
    """Clients made in one process do not share a connection (gRPC would by default), so a
    service with several clients reaches every worker."""
    head = {"api": "grpc", "operation": "HeadBucket", "status": "4xx"}

    def counts() -> list[float]:
        return [sample(worker_page(two, i), "lightningstor_requests_total", **head) for i in (0, 1)]

    before = counts()
    clients = [LightningStorClient(two.grpc_addr, **two.admin_keys()) for _ in range(20)]
    try:
        for client in clients:
            with pytest.raises(NoSuchBucket):
                client.head_bucket("absent")
    finally:
        for client in clients:
            client.close()
    wait_until(lambda: sum(counts()) - sum(before) == 20, "20 calls counted")
    served = [a - b for a, b in zip(counts(), before, strict=True)]
    assert all(n > 0 for n in served), served


def test_store_gauges_are_worker_0s_and_appear_once(two: ServerProcess) -> None:
    page = merged_page(two)
    own = worker_page(two, 0)
    for name in ("lightningstor_objects", "lightningstor_gc_backlog", "target_info"):
        lines = [line for line in page.splitlines() if line.startswith(name)]
        assert len(lines) == 1, (name, lines)
    assert sample(page, "lightningstor_objects") == sample(own, "lightningstor_objects")
    # worker 1 runs no store scan: its own page has the family but no value
    assert [
        line
        for line in worker_page(two, 1).splitlines()
        if line.startswith("lightningstor_objects")
    ] == []


def test_every_worker_logs_with_its_index_and_only_worker_0_does_first_start(
    two: ServerProcess,
) -> None:
    records = two.log_records()
    listening = {r["worker"] for r in records if r.get("msg") == "grpc listening"}
    assert listening == {0, 1}
    admin = [r for r in records if str(r.get("msg", "")).startswith("created the first admin")]
    assert [r["worker"] for r in admin] == [0]
    ours = [r for r in records if str(r.get("logger", "")).startswith("lightningstor_api.grpc")]
    assert ours and all(r.get("worker") in (0, 1) for r in ours)
    # one JSON document per line: no line of one process cut into by another's
    for line in two.logs().splitlines():
        if line.startswith("{"):
            json.loads(line)
    assert (two.data_dir / "run").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("index", [1, 0])
def test_a_killed_worker_is_restarted_and_the_other_keeps_serving(
    two: ServerProcess, index: int
) -> None:
    old = worker_pids(two)[index]
    os.kill(old, signal.SIGKILL)

    def exits() -> list[dict[str, Any]]:
        return [r for r in two.log_records() if r.get("msg") == "worker exited unexpectedly"]

    # reaped by the supervisor: every thread of it gone, its sockets closed
    wait_until(lambda: any(r["pid"] == old for r in exits()), "the supervisor to reap it")
    # meanwhile the other worker alone takes every new connection, S3 and gRPC
    assert anonymous_gets(two, 10) == [403] * 10
    with LightningStorClient(two.grpc_addr, **two.admin_keys()) as client:
        assert client.list_buckets() is not None

    ports = two.data_dir / "run" / f"worker-{index}.ports.json"  # removed before each start
    wait_until(
        lambda: worker_pids(two).get(index, old) != old and ports.exists(),
        f"worker {index} to be restarted and listening",
    )
    last = exits()[-1]
    assert (last["worker"], last["pid"], last["code"]) == (index, old, -signal.SIGKILL)
    before = sample(worker_page(two, index), "lightningstor_requests_total", **GET_4XX)
    assert anonymous_gets(two, 40) == [403] * 40
    assert sample(worker_page(two, index), "lightningstor_requests_total", **GET_4XX) > before
    # worker 0 back (or never gone): the store gauges are on the merged page again, once
    wait_until(lambda: "\nlightningstor_objects " in merged_page(two), "the store gauges")
    assert two.proc.poll() is None


def test_sigterm_stops_the_supervisor_and_every_worker(tmp_path: Path) -> None:
    env = {**TWO, "LIGHTNINGSTOR_METRICS__ADDR": "127.0.0.1:0"}
    server = start_server(tmp_path / "srv", env=env, timeout=START)
    try:
        pids = worker_pids(server)
        assert sorted(pids) == [0, 1]
        # the metrics.addr listener is shared too, and serves the merged page
        assert anonymous_gets(server, 4) == [403] * 4
        with _NO_PROXY.open(f"http://{server.ports['metrics']}/metrics", timeout=10) as reply:
            page = reply.read().decode()
        assert sample(page, "lightningstor_requests_total", **GET_4XX) == 4
        assert http_get(f"http://{server.ports['s3']}/metrics") == 404  # not on the S3 port
        server.terminate()
        assert server.wait() == 0
    finally:
        server.stop()
    for pid in pids.values():
        assert pid_gone(pid), pid
    stopped = [r for r in server.log_records() if r.get("msg") == "stopped"]
    assert sorted(str(r.get("worker", "supervisor")) for r in stopped) == ["0", "1", "supervisor"]


def test_an_address_in_use_stops_the_start_and_leaves_no_worker(tmp_path: Path) -> None:
    with socket.socket() as taken:  # held without SO_REUSEPORT: nobody may share it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        addr = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(RuntimeError, match="server exited with 1"):
            start_server(tmp_path / "srv", args=["--s3-addr", addr], env=TWO)
    log = (tmp_path / "srv" / "server.log").read_text()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    pids = [r["pid"] for r in records if r.get("msg") == "worker started"]
    assert pids == pids[:1]  # worker 0 only: the others never start
    for pid in pids:
        assert pid_gone(pid)
    assert any(r.get("msg") == "worker exited while starting" for r in records)
    assert not (tmp_path / "srv" / "ports.json").exists()
    with contextlib.suppress(FileNotFoundError):
        assert not list((tmp_path / "srv" / "data" / "run").glob("*.sock"))
