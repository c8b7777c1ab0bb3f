"""The S3 frontend the server loads through the ``lightningstor.frontends`` entry point.

:func:`create_frontend` is the :class:`~lightningstor_types.service.FrontendFactory`: it returns
None when ``s3.enabled`` is false, otherwise an :class:`S3Frontend` that serves
:func:`~lightningstor_s3.app.create_app` with uvicorn (httptools; the loop is the server's own,
uvloop) inside the server's event loop. The socket is bound by us, so ``server.s3_addr`` with
port 0 works and :attr:`S3Frontend.bound_address` reports the port chosen. uvicorn's signal
handling is left out: the server owns SIGTERM/SIGINT and calls :meth:`S3Frontend.stop`, which
stops accepting, lets requests in flight finish within ``server.shutdown_grace_seconds``, and
closes.

In-process, the frontend is one worker: the core (and its embedded metadata store) lives in this
process. ``server.s3_workers`` applies to the stand-alone gateway (:mod:`lightningstor_s3.gateway`);
a server of several processes (``server.processes``) runs one frontend in each, all on one
socket address (SO_REUSEPORT, set before the bind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator

import uvicorn

from lightningstor_s3.app import create_app
from lightningstor_s3.connections import ConnectionGuard, guarded_protocol
from lightningstor_s3.exchange import ASGIApp
from lightningstor_types.config import Settings, split_address
from lightningstor_types.open_files import S3_SHARE, connection_budget
from lightningstor_types.service import CredentialResolver, ServerHooks, StorageService

log = logging.getLogger("lightningstor_s3")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process that embeds it owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def connection_guard(
    settings: Settings, sink: Callable[[str], None] | None = None
) -> ConnectionGuard:
    """The S3 listener's guard: ``[connections]``, its bound capped by the open-file limit."""
    limits = settings.connections
    budget = connection_budget(limits.max_connections, S3_SHARE)
    if budget < limits.max_connections:
        log.warning(
            "connections.max_connections lowered to half the open-file limit",
            extra={"configured": limits.max_connections, "used": budget},
        )
    server = settings.server
    proxy_from = server.trusted_proxies if server.proxy_protocol else None
    return ConnectionGuard(limits, budget, sink, proxy_from=proxy_from)


def uvicorn_config(
    app: ASGIApp,
    settings: Settings,
    guard: ConnectionGuard | None = None,
    **overrides: object,
) -> uvicorn.Config:
    """The uvicorn configuration of the S3 listener (shared with the gateway), its connections
    under ``guard`` (default: one from the settings)."""
    host, port = split_address(settings.server.s3_addr)
    tls = settings.server.tls
    options: dict[str, object] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        # httptools, small writes of a turn in one send, connections under the guard
        "http": guarded_protocol(guard or connection_guard(settings)),
        "lifespan": "off",
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
        "timeout_keep_alive": settings.connections.idle_timeout_seconds,
        "timeout_graceful_shutdown": int(settings.server.shutdown_grace_seconds) or 1,
    }
    if tls is not None:
        options["ssl_certfile"] = str(tls.cert_file)
        options["ssl_keyfile"] = str(tls.key_file)
        if tls.ca_file is not None:
            import ssl

            options["ssl_ca_certs"] = str(tls.ca_file)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    options.update(overrides)
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]


def bind_listener(address: str, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port``; OSError naming the address when it cannot be (in use,
    not local). ``reuse_port``: the server's other processes bind it too (SO_REUSEPORT), and
    the kernel spreads new connections over them."""
    host, port = split_address(address)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {address}: {err.strerror or err}") from None
    sock.set_inheritable(True)  # uvicorn's workers take it over
    return sock


class S3Frontend:
    """The S3 API served in the running event loop."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        hooks: ServerHooks | None = None,
        *,
        reuse_port: bool = False,
    ) -> None:
        sink = hooks.connection_limit if hooks is not None else None
        self._guard = connection_guard(settings, sink)
        self._config = uvicorn_config(app, settings, self._guard)
        self._server = _EmbeddedServer(self._config)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._address = settings.server.s3_addr
        # Only a worker of a multi-process server shares its port: elsewhere a second server on
        # the same address must fail to start, not silently take half the connections.
        self._reuse_port = reuse_port

    @property
    def bound_address(self) -> str:
        """``host:port`` actually bound (the port chosen when the configuration says 0)."""
        return self._address

    async def start(self) -> None:
        """Bind, start serving, and return once the listener accepts connections."""
        if self._task is not None:
            raise RuntimeError("the S3 frontend is already started")
        sock = bind_listener(self._address, reuse_port=self._reuse_port)
        self._socket = sock
        host, port = sock.getsockname()[:2]
        self._address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="s3-frontend")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what made it stop
                raise RuntimeError("the S3 frontend stopped while starting")
            await asyncio.sleep(0.01)
        # The caller logs where it listens (the server's "s3 listening", the gateway's own).

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (within the grace period), close."""
        task, self._task = self._task, None
        if task is None:
            return
        self._server.should_exit = True
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.1)
                self._abort_idle_tls()
            await task
        finally:
            await self._guard.close()
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def _abort_idle_tls(self) -> None:
        """Drop connections that are closing once no request is in flight.

        uvicorn closes idle keep-alive connections on shutdown; over TLS a close waits for the
        client's close_notify, which an idle client never sends, so shutdown would sit out the
        whole grace period. With no request running nothing is lost by aborting them.
        """
        state = self._server.server_state
        if state.tasks:
            return
        for connection in list(state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None and transport.is_closing():
                transport.abort()


def create_frontend(
    service: StorageService,
    credentials: CredentialResolver,
    settings: Settings,
    hooks: ServerHooks | None = None,
) -> S3Frontend | None:
    """The ``lightningstor.frontends`` entry point: the S3 API, or None when disabled."""
    if not settings.s3.enabled:
        return None
    if settings.server.s3_workers > 1:
        log.warning(
            "server.s3_workers=%d is ignored in-process: the S3 API shares the server's process "
            "and core; set server.processes, or run the stand-alone gateway, to scale out",
            settings.server.s3_workers,
        )
    app = create_app(service, credentials, settings, hooks)
    return S3Frontend(app, settings, hooks, reuse_port=settings.server.processes > 1)
