"""The gRPC listener's handshake deadline, idle GOAWAY and connection bound (enforced by
gRPC core from the server's options), on a real server process."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.connections.sockets import close_all, closed_by_peer, open_many, wait_closed
from tests.wait import wait_until

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
