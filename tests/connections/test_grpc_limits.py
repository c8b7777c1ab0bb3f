"""The gRPC listener's handshake deadline, idle GOAWAY, connection bound, ping enforcement and
maximum connection age (enforced by gRPC core from the server's options), on real server
processes."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lightningstor.v1 import bucket_pb2, bucket_pb2_grpc, object_pb2, object_pb2_grpc
from lightningstor_client import LightningStorClient
from tests.connections.http2 import ENHANCE_YOUR_CALM, NO_ERROR, Http2Connection, goaways
from tests.connections.sockets import close_all, closed_by_peer, open_many, wait_closed
from tests.integration.server import AdminSigner
from tests.wait import let_time_pass, wait_until

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess

DEADLINE = 15.0  # only guards against hangs: the limits under test are 1 s


def test_a_connection_without_a_handshake_is_dropped(quick_server: ServerProcess) -> None:
    socks = open_many(quick_server.grpc_addr, 5, "127.0.0.5")
    try:
        assert len(wait_closed(socks, time.monotonic() + DEADLINE)) == len(socks)
    finally:
        close_all(socks)


def test_an_idle_connection_gets_goaway(quick_server: ServerProcess) -> None:
    idle = threading.Event()
    ready = threading.Event()

    def on_state(state: grpc.ChannelConnectivity) -> None:
        if state == grpc.ChannelConnectivity.READY:
            ready.set()
        elif state == grpc.ChannelConnectivity.IDLE and ready.is_set():
            idle.set()

    with grpc.insecure_channel(quick_server.grpc_addr) as channel:
        channel.subscribe(on_state)
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=DEADLINE
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        # The server closes the connection one idle second later; the channel goes IDLE.
        assert idle.wait(DEADLINE)
        channel.unsubscribe(on_state)


def test_connections_past_the_bound_are_closed_at_accept(bounded_server: ServerProcess) -> None:
    """With a bound of 5, of 8 connections that never handshake at least 3 are closed at once
    (the 60 s handshake deadline is far) and at most 5 stay open. "At least": on a busy machine
    a connection of an earlier call that the server has not yet seen close still counts."""
    socks = open_many(bounded_server.grpc_addr, 8, "127.0.0.6")
    closed: dict[object, bytes] = {}

    def enough_closed() -> bool:
        for sock in socks:
            if sock not in closed and (got := closed_by_peer(sock)) is not None:
                closed[sock] = got
        return len(closed) >= 3

    try:
        wait_until(enough_closed, DEADLINE * 2, "connections past the bound to be closed")
        assert len(socks) - len(closed) <= 5
        assert all(got == b"" for got in closed.values())  # closed at accept: nothing sent
    finally:
        close_all(socks)


def test_a_client_pinging_too_often_gets_goaway(ping_server: ServerProcess) -> None:
    """Pings closer together than ``grpc_min_ping_interval_seconds`` are strikes; past two,
    the server answers GOAWAY ENHANCE_YOUR_CALM ("too_many_pings") and closes the connection."""
    conn = Http2Connection(ping_server.grpc_addr)
    try:
        for i in range(5):
            conn.ping(bytes([i]))
        frames = conn.frames_until_closed(time.monotonic() + DEADLINE)
    finally:
        conn.close()
    (goaway,) = goaways(frames)
    assert goaway.error_code == ENHANCE_YOUR_CALM, goaway
    assert goaway.debug == b"too_many_pings", goaway


def test_a_client_pinging_at_the_allowed_rate_keeps_its_connection(
    ping_server: ServerProcess,
) -> None:
    """Six pings 0.75 s apart, each acked, no GOAWAY: no strike at the configured 0.5 s (at the
    10 s default the fourth would be the third strike), so the TOML's value is the one enforced.
    A GOAWAY after an ack shows up while the next ping's ack is awaited."""
    conn = Http2Connection(ping_server.grpc_addr)
    try:
        for i in range(6):
            if i:
                let_time_pass(0.75, "pings further apart than the 0.5 s minimum are no strikes")
            conn.ping(bytes([i]))
            frames = conn.ping_ack(bytes([i]), time.monotonic() + DEADLINE)
            assert goaways(frames) == [], frames
    finally:
        conn.close()


def test_a_connection_past_its_max_age_gets_goaway(aging_server: ServerProcess) -> None:
    """An idle connection older than ``grpc_max_connection_age_seconds`` (1 s) is sent GOAWAY
    (no error: the client is to reconnect) and closed: with no call in flight, nothing waits
    for the grace."""
    conn = Http2Connection(aging_server.grpc_addr)
    try:
        frames = conn.frames_until_closed(time.monotonic() + DEADLINE)
    finally:
        conn.close()
    found = goaways(frames)
    assert found and all(g.error_code == NO_ERROR for g in found), found
    assert found[-1].debug == b"max_age", found


def test_a_call_in_flight_at_max_age_finishes_within_the_grace_and_not_after(
    aging_server: ServerProcess,
) -> None:
    """Two calls open on one connection when it reaches its age (1 s): an upload that ends
    within the grace (3 s) succeeds; a health watch still open when the grace runs out is cut."""
    aged = threading.Event()
    ready = threading.Event()
    go_on = threading.Event()

    def on_state(state: grpc.ChannelConnectivity) -> None:
        if state == grpc.ChannelConnectivity.READY:
            ready.set()
        elif ready.is_set() and state != grpc.ChannelConnectivity.READY:
            aged.set()  # GOAWAY: the channel leaves the connection for new calls

    def upload(bucket: str) -> Iterator[object_pb2.PutObjectRequest]:
        header = object_pb2.PutObjectHeader(bucket=bucket, key="k")
        yield object_pb2.PutObjectRequest(header=header)
        yield object_pb2.PutObjectRequest(content=b"first half, ")
        assert go_on.wait(DEADLINE), "the upload was never let finish"
        yield object_pb2.PutObjectRequest(content=b"second half")

    keys = aging_server.admin_keys()
    with grpc.insecure_channel(aging_server.grpc_addr) as raw:
        channel = grpc.intercept_channel(raw, AdminSigner(**keys))
        bucket = f"aging-{uuid.uuid4().hex[:8]}"
        raw.subscribe(on_state)
        bucket_pb2_grpc.BucketServiceStub(channel).CreateBucket(
            bucket_pb2.CreateBucketRequest(name=bucket), timeout=DEADLINE
        )
        watch = health_pb2_grpc.HealthStub(raw).Watch(
            health_pb2.HealthCheckRequest(), timeout=DEADLINE * 2
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        put = object_pb2_grpc.ObjectServiceStub(channel).PutObject.future(
            upload(bucket), timeout=DEADLINE * 2
        )
        assert aged.wait(DEADLINE), "no GOAWAY at the connection's max age"
        go_on.set()
        reply = put.result(timeout=DEADLINE)
        assert reply.size == len(b"first half, second half")
        with pytest.raises(grpc.RpcError) as cut:
            next(watch)
        assert cut.value.code() == grpc.StatusCode.UNAVAILABLE, cut.value  # type: ignore[attr-defined]
        raw.unsubscribe(on_state)

    with (
        LightningStorClient(aging_server.grpc_addr, timeout=DEADLINE, **keys) as client,
        client.get_object(bucket, "k") as stream,
    ):
        assert stream.read() == b"first half, second half"
