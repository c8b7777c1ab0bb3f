"""Ports of servers that tests restart: kept from other processes while the server is down."""

from __future__ import annotations

import socket


class PortHold:
    """Holds loopback ports with bound sockets that do not listen: a connection is refused, as
    by the dead server, and no other process's bind to port 0 is given them. Released just
    before the server starts again on them; ``release`` is idempotent."""

    def __init__(self) -> None:
        self._sockets: list[socket.socket] = []

    def hold(self, *ports: int) -> None:
        for port in ports:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                # The dead server's connections linger in TIME_WAIT on the port: bind past them.
                sock.close()
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:  # taken already: nothing to hold, the restart will say so
                    sock.close()
                    continue
            self._sockets.append(sock)

    def release(self) -> None:
        for sock in self._sockets:
            sock.close()
        self._sockets.clear()
