"""The server process: the core, the gRPC API, health, and any installed S3 frontends.

Shutdown (SIGTERM or SIGINT): health turns NOT_SERVING, frontends and the gRPC server stop
accepting calls, in-flight calls get ``server.shutdown_grace_seconds`` to finish, then the core
closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import tempfile
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import grpc
import grpc.aio
from grpc_health.v1 import (  # type: ignore[import-untyped, unused-ignore]
    health,
    health_pb2,
    health_pb2_grpc,
)

from lightningstor.v1 import (
    bucket_pb2,
    bucket_pb2_grpc,
    credential_pb2,
    credential_pb2_grpc,
    object_pb2,
    object_pb2_grpc,
)
from lightningstor_api.core.service import Core
from lightningstor_api.grpc.buckets import BucketServicer
from lightningstor_api.grpc.calls import CallInterceptor
from lightningstor_api.grpc.credentials import CredentialServicer
from lightningstor_api.grpc.objects import ObjectServicer
from lightningstor_api.identity import CredentialManager, ensure_admin_credential, load_secret_box
from lightningstor_types.config import Settings
from lightningstor_types.service import (
    CredentialOperations,
    CredentialResolver,
    Frontend,
    FrontendFactory,
    StorageService,
)

log = logging.getLogger(__name__)

FRONTENDS_GROUP = "lightningstor.frontends"
PORTS_FILE_ENV = "LIGHTNINGSTOR_PORTS_FILE"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
SERVICE_NAMES = (
    bucket_pb2.DESCRIPTOR.services_by_name["BucketService"].full_name,
    object_pb2.DESCRIPTOR.services_by_name["ObjectService"].full_name,
    credential_pb2.DESCRIPTOR.services_by_name["CredentialService"].full_name,
)


def discover_frontends() -> list[EntryPoint]:
    """The frontends installed with the server (entry-point group ``lightningstor.frontends``)."""
    return sorted(entry_points(group=FRONTENDS_GROUP), key=lambda ep: ep.name)


def build_grpc_server(core: StorageService, credentials: CredentialOperations) -> grpc.aio.Server:
    """A gRPC server with the three API services (health is added by :func:`serve`)."""
    server = grpc.aio.server(
        interceptors=[CallInterceptor()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    bucket_pb2_grpc.add_BucketServiceServicer_to_server(BucketServicer(core), server)
    object_pb2_grpc.add_ObjectServiceServicer_to_server(ObjectServicer(core), server)
    credential_pb2_grpc.add_CredentialServiceServicer_to_server(
        CredentialServicer(credentials), server
    )
    return server


def bind(server: grpc.aio.Server, addr: str) -> str:
    """Listen on ``addr`` (``host:port``, port 0 = any free port); the address actually bound."""
    try:
        port = server.add_insecure_port(addr)
    except RuntimeError as err:  # what grpc raises for an address in use or not local
        raise OSError(f"cannot listen on {addr}: {err}") from None
    if port == 0:
        raise OSError(f"cannot listen on {addr}")
    host = addr.rpartition(":")[0]
    return f"{host}:{port}"


def write_ports_file(ports: dict[str, str]) -> None:
    """Publish the bound addresses as JSON to ``$LIGHTNINGSTOR_PORTS_FILE`` (atomically)."""
    target = os.environ.get(PORTS_FILE_ENV)
    if not target:
        return
    path = Path(target)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(ports, f)
        f.flush()
        os.fsync(f.fileno())
    Path(tmp).replace(path)


async def _start_frontends(
    settings: Settings,
    core: Core,
    credentials: CredentialResolver,
    started: dict[str, Frontend],
) -> None:
    """Start every installed, enabled frontend over ``core``, recording each in ``started``."""
    found = discover_frontends()
    if not found:
        log.info("no S3 frontend installed", extra={"group": FRONTENDS_GROUP})
    for ep in found:
        factory: FrontendFactory = ep.load()
        frontend = factory(core, credentials, settings)
        if frontend is None:
            log.info("%s disabled by the configuration", ep.name)
            continue
        await frontend.start()
        started[ep.name] = frontend
        log.info("%s listening", ep.name, extra={"addr": frontend.bound_address})


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def serve(settings: Settings) -> None:
    """Run the server until SIGTERM/SIGINT, then shut down gracefully."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    core = await Core.open(settings)
    try:
        box = await asyncio.to_thread(load_secret_box, settings)
        credentials = CredentialManager(core.cc, box)
        await ensure_admin_credential(credentials, settings.server.data_dir)
        await _serve_core(settings, core, credentials, stop)
    finally:
        await core.close()
    log.info("stopped")


async def _serve_core(
    settings: Settings, core: Core, credentials: CredentialManager, stop: asyncio.Event
) -> None:
    grace = settings.server.shutdown_grace_seconds
    server = build_grpc_server(core, credentials)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    grpc_addr = bind(server, settings.server.grpc_addr)
    await server.start()
    frontends: dict[str, Frontend] = {}
    try:
        await core.start_background()
        await _start_frontends(settings, core, credentials, frontends)
        for name in ("", *SERVICE_NAMES):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("grpc listening", extra={"addr": grpc_addr})
        log.info("data directory", extra={"path": str(settings.server.data_dir.absolute())})
        ports = {"grpc": grpc_addr} | {n: f.bound_address for n, f in frontends.items()}
        write_ports_file(ports)
        await stop.wait()
        log.info("shutting down", extra={"grace_seconds": grace})
    finally:
        # Stop accepting, let calls in flight finish within the grace period, then return.
        await health_servicer.enter_graceful_shutdown()
        await asyncio.gather(*(f.stop() for f in frontends.values()))
        await server.stop(grace)
