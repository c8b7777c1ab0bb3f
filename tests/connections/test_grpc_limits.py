"""The gRPC listener's handshake deadline, idle GOAWAY and connection bound (enforced by
gRPC core from the server's options), on a real server process."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.connections.sockets import close_all, closed_by_peer, connect, open_many, wait_closed

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
    """Five connections are held and a sixth is closed at accept. A connection of an earlier
    call (the start-up probe) that the server has not yet seen close still counts against the
    bound on a busy machine, so a round where a held one was closed instead is tried again."""
    deadline = time.monotonic() + DEADLINE
    while True:
        held = open_many(bounded_server.grpc_addr, 5, "127.0.0.6")
        extra = connect(bounded_server.grpc_addr, "127.0.0.6")
        try:
            assert wait_closed([extra], deadline) == {extra: b""}
            if all(closed_by_peer(sock) is None for sock in held):  # the 60 s handshake is far
                return
        finally:
            close_all([*held, extra])
        assert time.monotonic() < deadline, "a held connection was closed in every round"
