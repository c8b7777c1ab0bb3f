"""Raw loopback sockets for the connection tests: idle, half-sent heads, slow bodies.

Attackers bind a source address of their own in 127.0.0.0/8 (127.0.0.2, …), so that the
per-address bound sees them apart from the legitimate client on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import resource
import selectors
import socket
import time
from collections.abc import Iterable, Iterator


def split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def connect(address: str, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(split(address), timeout=10, source_address=(source, 0))
    sock.setblocking(False)
    return sock


def open_many(address: str, count: int, source: str) -> list[socket.socket]:
    return [connect(address, source) for _ in range(count)]


def closed_by_peer(sock: socket.socket, received: bytearray | None = None) -> bytes | None:
    """What the server sent before closing (b"" for nothing), or None while it is open; what
    is read from an open socket is added to ``received``."""
    received = bytearray() if received is None else received
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return bytes(received)
        if not data:
            return bytes(received)
        received += data


def wait_closed(
    socks: Iterable[socket.socket], deadline: float, poke: float | None = None
) -> dict[socket.socket, bytes]:
    """Wait until the server has closed every socket (or the deadline passed); what each
    closed one received. ``poke``: send one header byte on the open ones that often."""
    pending = set(socks)
    closed: dict[socket.socket, bytes] = {}
    partial: dict[socket.socket, bytearray] = {sock: bytearray() for sock in pending}
    last_poke = time.monotonic()
    with selectors.DefaultSelector() as sel:
        for sock in pending:
            sel.register(sock, selectors.EVENT_READ)
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                got = closed_by_peer(sock, partial[sock])
                if got is not None:
                    closed[sock] = got
                    pending.discard(sock)
                    sel.unregister(sock)
            if poke is not None and time.monotonic() - last_poke >= poke:
                last_poke = time.monotonic()
                for sock in pending:
                    with contextlib.suppress(OSError):
                        sock.send(b"x")
    return closed


def close_all(socks: Iterable[socket.socket]) -> None:
    for sock in socks:
        sock.close()


@contextlib.contextmanager
def open_file_limit(soft: int) -> Iterator[None]:
    """This process's soft open-file limit at least ``soft`` (at most the hard limit)."""
    old_soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = soft if hard == resource.RLIM_INFINITY else min(soft, hard)
    if wanted > old_soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (old_soft, hard))
