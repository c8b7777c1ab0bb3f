"""The storage-node process: the local backend behind the ``StorageNode`` service and health.

Start: open the data directory (node id, drain mark), remove temporary files a crash left, bind
(``listen_addr``, port 0 = any free port; TLS when configured, client certificates required when
the TLS section names a CA), publish ``{"storage": "host:port"}`` (and ``"metrics"``) to
``$LIGHTNINGSTOR_PORTS_FILE``, turn health SERVING; the ``StorageNode`` service's health then
follows readiness (:mod:`.health`). With ``metrics.addr`` set, ``/metrics``, ``/health`` and
``/ready`` are served there. SIGTERM or SIGINT: health NOT_SERVING, stop accepting calls, give
calls in flight ``shutdown_grace_seconds``, then close the backend. While it runs, the node
scrubs its own chunks at ``scrub_rate_bytes_per_second`` (:mod:`.scrub`). With ``[tracing]``
exporting, each call that carries its caller's trace context is a span in that trace
(:mod:`.tracing`); the spans still queued are flushed at the stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import grpc
import grpc.aio
from grpc_health.v1 import (  # type: ignore[import-untyped, unused-ignore]
    health,
    health_pb2,
    health_pb2_grpc,
)

from lightningstor.storage.v1 import storage_pb2, storage_pb2_grpc
from lightningstor_storage.local import LocalBackend
from lightningstor_storage.node.health import node_readiness
from lightningstor_storage.node.metrics import NodeMetrics, RequestCounter
from lightningstor_storage.node.scrub import NodeScrubber
from lightningstor_storage.node.servicer import StorageNodeServicer
from lightningstor_storage.node.state import NodeState
from lightningstor_storage.node.tracing import NodeTracingInterceptor
from lightningstor_storage.tracing import setup_tracing
from lightningstor_types.config import MetricsSettings, StorageNodeSettings, TlsSettings
from lightningstor_types.files import write_ports_file
from lightningstor_types.ops_http import OpsListener
from lightningstor_types.readiness import ReadinessChecks

__all__ = ["MAX_MESSAGE_BYTES", "SERVICE_NAME", "bind", "serve"]

log = logging.getLogger(__name__)

SERVICE_NAME = storage_pb2.DESCRIPTOR.services_by_name["StorageNode"].full_name
MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    """TLS for the listener; with ``ca_file`` only clients holding a certificate it signed."""
    key = tls.key_file.read_bytes()
    cert = tls.cert_file.read_bytes()
    ca = tls.ca_file.read_bytes() if tls.ca_file is not None else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def bind(server: grpc.aio.Server, addr: str, tls: TlsSettings | None = None) -> str:
    """Listen on ``addr`` (port 0 = any free port); the address actually bound."""
    try:
        if tls is None:
            port = server.add_insecure_port(addr)
        else:
            port = server.add_secure_port(addr, server_credentials(tls))
    except RuntimeError as err:  # what grpc raises for an address in use or not local
        raise OSError(f"cannot listen on {addr}: {err}") from None
    if port == 0:
        raise OSError(f"cannot listen on {addr}")
    return f"{addr.rpartition(':')[0]}:{port}"


async def serve(settings: StorageNodeSettings) -> None:
    """Run a storage node until SIGTERM/SIGINT, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    provider = setup_tracing(settings.tracing, "lightningstor-storage-node")
    try:
        state = await NodeState.open(settings.data_dir, settings.zone)
        backend = LocalBackend(settings.data_dir)
        try:
            swept = await backend.sweep_temp(0)  # no put runs yet: every temporary file is one
            if swept:
                log.info("removed temporary files of an earlier run", extra={"count": swept})
            await _serve(settings, backend, state, stop)
        finally:
            await state.close()
            await backend.close()
    finally:
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)  # flushes the spans still queued
    log.info("stopped")


async def _serve(
    settings: StorageNodeSettings, backend: LocalBackend, state: NodeState, stop: asyncio.Event
) -> None:
    requests = RequestCounter()
    interceptors: list[grpc.aio.ServerInterceptor] = [requests]
    if settings.tracing.enabled:  # first: its span is current while the call is counted
        interceptors.insert(0, NodeTracingInterceptor())
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    storage_pb2_grpc.add_StorageNodeServicer_to_server(StorageNodeServicer(backend, state), server)
    scrub: asyncio.Task[None] | None = None
    scrubber: NodeScrubber | None = None
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    addr = bind(server, settings.listen_addr, settings.tls)
    readiness = node_readiness(settings, state)
    metrics = NodeMetrics(backend, state, requests, lambda: scrubber.stats if scrubber else None)
    listener: OpsListener | None = None
    watch: asyncio.Task[None] | None = None
    await server.start()
    try:
        await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        watch = asyncio.create_task(readiness.watch(_health_setter(health_servicer)))
        ports = {"storage": addr}
        if settings.metrics.addr is not None:
            listener = await _start_listener(settings.metrics, metrics, readiness)
            ports["metrics"] = listener.bound_address
        log.info(
            "storage node listening",
            extra={
                "addr": addr,
                "tls": settings.tls is not None,
                "node_id": state.node_id,
                "zone": state.zone,
                "draining": state.draining,
                "data_dir": str(settings.data_dir.absolute()),
            },
        )
        write_ports_file(ports)
        if settings.scrub_rate_bytes_per_second > 0:
            scrubber = NodeScrubber(backend, settings.scrub_rate_bytes_per_second)
            scrub = asyncio.create_task(scrubber.run_forever(), name="lightningstor-scrub")
        await stop.wait()
        log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
    finally:
        for task in (scrub, watch):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await health_servicer.enter_graceful_shutdown()
        if listener is not None:
            await listener.stop()
        await server.stop(settings.shutdown_grace_seconds)


def _health_setter(servicer: health.aio.HealthServicer) -> Callable[[bool], Awaitable[None]]:
    """Readiness drives the ``StorageNode`` service's health (``""`` stays SERVING: liveness)."""

    async def set_status(ready: bool) -> None:
        status = health_pb2.HealthCheckResponse
        await servicer.set(SERVICE_NAME, status.SERVING if ready else status.NOT_SERVING)

    return set_status


async def _start_listener(
    settings: MetricsSettings, metrics: NodeMetrics, readiness: ReadinessChecks
) -> OpsListener:
    """``/metrics``, ``/health`` and ``/ready`` on ``metrics.addr``."""
    assert settings.addr is not None
    token = settings.bearer_token.get_secret_value() if settings.bearer_token else None
    page = metrics.page if settings.enabled else None
    listener = OpsListener(settings.addr, page, readiness.check, token)
    await listener.start()
    log.info("metrics listening", extra={"addr": listener.bound_address})
    return listener
