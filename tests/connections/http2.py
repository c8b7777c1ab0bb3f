"""A bare HTTP/2 connection, frame by frame: what a gRPC library hides (PINGs sent at will, the
GOAWAY frames and their error codes) is what the gRPC connection tests look at."""

from __future__ import annotations

import contextlib
import socket
import time
from dataclasses import dataclass

from tests.connections.sockets import split

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, PING, GOAWAY = 0x4, 0x6, 0x7
ACK = 0x1
NO_ERROR, ENHANCE_YOUR_CALM = 0x0, 0xB


@dataclass(frozen=True)
class Frame:
    kind: int
    flags: int
    stream: int
    payload: bytes


@dataclass(frozen=True)
class GoAway:
    last_stream: int
    error_code: int
    debug: bytes


def frame(kind: int, flags: int, payload: bytes = b"", stream: int = 0) -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload
    )


class Http2Connection:
    """A client connection past the preface and the SETTINGS exchange; the server's SETTINGS
    and PINGs are acked as they come, as every client must (a graceful GOAWAY waits for the
    ack of its ping)."""

    def __init__(self, address: str) -> None:
        self.sock = socket.create_connection(split(address), timeout=10)
        self._buffer = b""
        self.sock.sendall(PREFACE + frame(SETTINGS, 0))

    def close(self) -> None:
        self.sock.close()

    def ping(self, data: bytes) -> None:
        self.sock.sendall(frame(PING, 0, data.ljust(8, b"\0")[:8]))

    def _read(self, size: int, deadline: float) -> bytes | None:
        while len(self._buffer) < size:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise AssertionError("no frame from the server before the deadline") from None
            except ConnectionResetError:
                return None
            if not data:
                return None
            self._buffer += data
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def next_frame(self, deadline: float) -> Frame | None:
        """The next frame from the server (None: it closed the connection)."""
        head = self._read(9, deadline)
        if head is None:
            return None
        length = int.from_bytes(head[:3], "big")
        payload = self._read(length, deadline) if length else b""
        if payload is None:
            return None
        got = Frame(head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, payload)
        if got.kind == SETTINGS and not got.flags & ACK:
            self._ack(frame(SETTINGS, ACK))
        elif got.kind == PING and not got.flags & ACK:
            self._ack(frame(PING, ACK, got.payload))
        return got

    def _ack(self, data: bytes) -> None:
        """Acks are best effort: a server that has already sent its GOAWAY and closed refuses
        them, and what it sent before closing is still to be read."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(data)

    def frames_until_closed(self, deadline: float) -> list[Frame]:
        """Every frame the server sends until it closes the connection."""
        frames = []
        while (got := self.next_frame(deadline)) is not None:
            frames.append(got)
        return frames

    def ping_ack(self, data: bytes, deadline: float) -> list[Frame]:
        """The frames up to and including the server's ack of the ping ``data``."""
        frames = []
        while (got := self.next_frame(deadline)) is not None:
            frames.append(got)
            if got.kind == PING and got.flags & ACK and got.payload == data.ljust(8, b"\0")[:8]:
                return frames
        raise AssertionError(f"the connection closed before the ping was acked: {frames}")


def goaways(frames: list[Frame]) -> list[GoAway]:
    return [
        GoAway(
            int.from_bytes(f.payload[:4], "big") & 0x7FFFFFFF,
            int.from_bytes(f.payload[4:8], "big"),
            f.payload[8:],
        )
        for f in frames
        if f.kind == GOAWAY
    ]
