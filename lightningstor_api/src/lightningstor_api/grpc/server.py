"""The server process: the core, the gRPC API, health, metrics, and any installed S3 frontends.

Health: the gRPC health service reports SERVING while the readiness probe
(:mod:`lightningstor_api.health`: metadata, storage, IAM) passes and NOT_SERVING while it does
not; frontends get the same probe (and the metrics page) through
:class:`~lightningstor_api.telemetry.Hooks`. With ``[server.tls]`` the gRPC listener serves TLS,
and ``ca_file`` makes it require client certificates signed by that CA (mTLS).

Shutdown (SIGTERM or SIGINT): health turns NOT_SERVING, frontends and the gRPC server stop
accepting calls, in-flight calls get ``server.shutdown_grace_seconds`` to finish, then the core
closes.

One process of several (``[server] processes``, :mod:`lightningstor_api.workers`): the
listeners bind with SO_REUSEPORT, only worker 0 does the first-start work and the background
tasks, and ``/metrics`` serves the merged page of every worker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import EntryPoint, entry_points

import grpc
import grpc.aio
from grpc_health.v1 import (  # type: ignore[import-untyped, unused-ignore]
    health,
    health_pb2,
    health_pb2_grpc,
)

from lightningstor.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    bucket_pb2,
    bucket_pb2_grpc,
    credential_pb2,
    credential_pb2_grpc,
    iam_admin_pb2,
    iam_admin_pb2_grpc,
    object_pb2,
    object_pb2_grpc,
    objectlock_pb2,
    objectlock_pb2_grpc,
    usage_pb2,
    usage_pb2_grpc,
)
from lightningstor_api.connections import DescriptorWatch, grpc_connection_options
from lightningstor_api.core.admin import Admin
from lightningstor_api.core.service import Core
from lightningstor_api.grpc.admin import AdminServicer
from lightningstor_api.grpc.auth import AuthInterceptor, configure_authentication
from lightningstor_api.grpc.buckets import BucketServicer
from lightningstor_api.grpc.calls import CallInterceptor
from lightningstor_api.grpc.credentials import CredentialServicer
from lightningstor_api.grpc.forwarded import Network
from lightningstor_api.grpc.iam_admin import IamAdminServicer
from lightningstor_api.grpc.objectlock import ObjectLockServicer
from lightningstor_api.grpc.objects import ObjectServicer
from lightningstor_api.grpc.tracing import TracingInterceptor
from lightningstor_api.grpc.usage import UsageServicer
from lightningstor_api.health import ReadinessProbe
from lightningstor_api.iam import EmbeddedAuthorizer, build_authorizer
from lightningstor_api.identity import CredentialManager, ensure_admin_credential, load_secret_box
from lightningstor_api.metrics_merge import ServerPage
from lightningstor_api.tasks import cancel
from lightningstor_api.telemetry import PRIMARY_ONLY_GAUGES, Hooks, Telemetry
from lightningstor_api.tenants import TenantAdmin, TenantDirectory
from lightningstor_api.tracing import enabled as tracing_enabled
from lightningstor_api.tracing import setup_tracing
from lightningstor_api.workers import SINGLE, WorkerRole, socket_path
from lightningstor_types.config import ConnectionSettings, Settings, TlsSettings
from lightningstor_types.files import write_ports_file
from lightningstor_types.ops_http import OpsListener
from lightningstor_types.service import (
    CredentialOperations,
    CredentialResolver,
    Frontend,
    FrontendFactory,
    ServerHooks,
    StorageService,
)
from lightningstor_types.spans import background

log = logging.getLogger(__name__)

FRONTENDS_GROUP = "lightningstor.frontends"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
SERVICE_NAMES = (
    bucket_pb2.DESCRIPTOR.services_by_name["BucketService"].full_name,
    object_pb2.DESCRIPTOR.services_by_name["ObjectService"].full_name,
    objectlock_pb2.DESCRIPTOR.services_by_name["ObjectLockService"].full_name,
    credential_pb2.DESCRIPTOR.services_by_name["CredentialService"].full_name,
    usage_pb2.DESCRIPTOR.services_by_name["UsageService"].full_name,
    iam_admin_pb2.DESCRIPTOR.services_by_name["IamAdminService"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
)


def discover_frontends() -> list[EntryPoint]:
    """The frontends installed with the server (entry-point group ``lightningstor.frontends``)."""
    return sorted(entry_points(group=FRONTENDS_GROUP), key=lambda ep: ep.name)


def build_grpc_server(
    core: StorageService,
    credentials: CredentialOperations,
    admin: Admin,
    *,
    access_log: bool = True,
    usage: Core | None = None,
    traced: bool = False,
    reuse_port: bool = False,
    connections: ConnectionSettings | None = None,
    tenants: TenantAdmin | None = None,
    trusted_gateways: Sequence[Network] = (),
) -> grpc.aio.Server:
    """A gRPC server with the API services (health is added by :func:`serve`); with ``usage``,
    its UsageService too, and every call counted in its request meter. ``reuse_port``: other
    processes may listen on the same address (SO_REUSEPORT). ``connections``: the bounds and
    keepalive policy of its connections (default: ``[connections]``'s defaults). ``tenants``:
    its IamAdminService (default: one that answers IamManagedExternally). ``trusted_gateways``:
    peers whose forwarded S3 client facts are believed (``forwarded.py``)."""
    record = usage.request_meter.record if usage is not None else None
    interceptors: list[grpc.aio.ServerInterceptor] = [
        CallInterceptor(access_log=access_log, record=record, trusted_gateways=trusted_gateways),
        AuthInterceptor(),
    ]
    if traced:  # outermost: its span is current while the others run
        interceptors.insert(0, TracingInterceptor())
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
            *grpc_connection_options(connections or ConnectionSettings()),
        ],
    )
    bucket_pb2_grpc.add_BucketServiceServicer_to_server(BucketServicer(core), server)
    object_pb2_grpc.add_ObjectServiceServicer_to_server(ObjectServicer(core), server)
    objectlock_pb2_grpc.add_ObjectLockServiceServicer_to_server(ObjectLockServicer(core), server)
    credential_pb2_grpc.add_CredentialServiceServicer_to_server(
        CredentialServicer(credentials), server
    )
    if usage is not None:
        usage_pb2_grpc.add_UsageServiceServicer_to_server(UsageServicer(usage.cc), server)
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(admin), server)
    if tenants is None and usage is not None:
        tenants = TenantAdmin(usage.cc, None)
    if tenants is not None:
        iam_admin_pb2_grpc.add_IamAdminServiceServicer_to_server(IamAdminServicer(tenants), server)
    return server


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    """TLS credentials from ``[server.tls]``; with ``ca_file``, client certificates required.

    grpc's TLS is 1.2 or 1.3 (its minimum is 1.2); the Python API cannot raise the minimum, so
    ``min_version = "1.3"`` applies to the S3 listener only (a warning says so).
    """
    if tls.min_version != "1.2":
        log.warning("server.tls.min_version=%s is not enforced on gRPC (TLS 1.2+)", tls.min_version)
    ca = tls.ca_file.read_bytes() if tls.ca_file is not None else None
    return grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=ca,
        require_client_auth=ca is not None,
    )


def bind(server: grpc.aio.Server, addr: str, tls: TlsSettings | None = None) -> str:
    """Listen on ``addr`` (``host:port``, port 0 = any free port); the address actually bound."""
    try:
        if tls is not None:
            port = server.add_secure_port(addr, server_credentials(tls))
        else:
            port = server.add_insecure_port(addr)
    except RuntimeError as err:  # what grpc raises for an address in use or not local
        raise OSError(f"cannot listen on {addr}: {err}") from None
    if port == 0:
        raise OSError(f"cannot listen on {addr}")
    host = addr.rpartition(":")[0]
    return f"{host}:{port}"


async def _start_frontends(
    settings: Settings,
    core: Core,
    credentials: CredentialResolver,
    hooks: ServerHooks,
    started: dict[str, Frontend],
) -> None:
    """Start every installed, enabled frontend over ``core``, recording each in ``started``."""
    found = discover_frontends()
    if not found:
        log.info("no S3 frontend installed", extra={"group": FRONTENDS_GROUP})
    for ep in found:
        factory: FrontendFactory = ep.load()
        frontend = factory(core, credentials, settings, hooks=hooks)
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


async def serve(settings: Settings, role: WorkerRole = SINGLE) -> None:
    """Run the server (or worker ``role`` of it) until SIGTERM/SIGINT, then shut down
    gracefully."""
    # What the process really is: ``processes`` left at its default (the CPU count) in a server
    # run in-process as one process must not make its listeners share their ports.
    server = settings.server.model_copy(update={"processes": role.count})
    settings = settings.model_copy(update={"server": server})
    stop = asyncio.Event()
    _stop_on_signals(stop)
    provider = setup_tracing(settings)
    try:
        await _serve_process(settings, stop, role)
    finally:
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)  # flushes the spans still queued
    log.info("stopped")


async def _serve_process(
    settings: Settings, stop: asyncio.Event, role: WorkerRole = SINGLE
) -> None:
    authorizer = build_authorizer(settings)
    core = await Core.open(settings, authorizer=authorizer)
    directory: TenantDirectory | None = None
    try:
        if isinstance(authorizer, EmbeddedAuthorizer):  # external: the IAM owns its tenants
            directory = TenantDirectory(
                core.cc.store,
                core.cc.keys,
                settings.iam,
                authorizer,
                resync_seconds=settings.metadata.cache_ttl_seconds,
            )
            await directory.start()
        box = await asyncio.to_thread(load_secret_box, settings)
        credentials = CredentialManager(core.cc, box)
        if role.primary:  # the others start once it is ready: the key exists by then
            with background("startup.admin_credential"):
                await ensure_admin_credential(credentials, settings.server.data_dir)
        await asyncio.to_thread(configure_authentication, settings, credentials)
        tenants = TenantAdmin(core.cc, directory)
        await _serve_core(settings, core, credentials, stop, role, tenants)
    finally:
        if directory is not None:
            await directory.stop()
        await core.close()


def _health_setter(
    servicer: health.aio.HealthServicer,
) -> Callable[[bool], Awaitable[None]]:
    async def set_status(ready: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ready
            else (health_pb2.HealthCheckResponse.NOT_SERVING)
        )
        for name in ("", *SERVICE_NAMES):
            await servicer.set(name, status)

    return set_status


async def _serve_core(
    settings: Settings,
    core: Core,
    credentials: CredentialManager,
    stop: asyncio.Event,
    role: WorkerRole = SINGLE,
    tenants: TenantAdmin | None = None,
) -> None:
    grace = settings.server.shutdown_grace_seconds
    server = build_grpc_server(
        core,
        credentials,
        core.admin,
        access_log=settings.logging.access_log,
        usage=core,
        traced=tracing_enabled(settings),
        reuse_port=role.shared,
        connections=settings.connections,
        tenants=tenants,
        trusted_gateways=settings.server.trusted_gateways,
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    grpc_addr = bind(server, settings.server.grpc_addr, settings.server.tls)
    cc = core.cc
    probe = ReadinessProbe(
        cc.store, cc.storage, cc.authorizer, probe_key=settings.metadata.prefix.encode()
    )
    telemetry = Telemetry(storage=cc.storage)
    page = telemetry.scrape
    if role.shared:
        sockets = [socket_path(settings, i) for i in range(role.count)]
        merged = ServerPage(telemetry.page_bytes, role.index, sockets, PRIMARY_ONLY_GAUGES)
        page = merged.scrape
    hooks = Hooks(settings, probe, telemetry, usage=core.request_meter.record, page=page)
    await server.start()
    frontends: dict[str, Frontend] = {}
    tasks: list[asyncio.Task[None]] = []
    listeners: list[OpsListener] = []
    try:
        await core.start_background(maintenance=role.primary, exclusive=not role.shared)
        credentials.start()
        await _start_frontends(settings, core, credentials, hooks, frontends)
        tasks.append(asyncio.create_task(probe.watch(_health_setter(health_servicer))))
        tasks.append(asyncio.create_task(DescriptorWatch().run()))
        metrics_listener = None
        if settings.metrics.enabled:
            if role.primary:  # the store gauges: one scan per server, not one per worker
                tasks.append(asyncio.create_task(telemetry.refresh_loop(cc)))
            if role.shared:  # this worker's own page, for the merged one
                own = f"unix:{socket_path(settings, role.index)}"
                listeners.append(OpsListener(own, telemetry.scrape, hooks.readiness, None))
                await listeners[-1].start()
            metrics_listener = await _start_metrics_listener(settings, page, hooks, role)
            if metrics_listener is not None:
                listeners.append(metrics_listener)
        await probe.check()  # the first report (health is set by the watch task)
        log.info(
            "grpc listening", extra={"addr": grpc_addr, "tls": settings.server.tls is not None}
        )
        log.info("data directory", extra={"path": str(settings.server.data_dir.absolute())})
        ports = {"grpc": grpc_addr} | {n: f.bound_address for n, f in frontends.items()}
        if metrics_listener is not None:
            ports["metrics"] = metrics_listener.bound_address
        write_ports_file(ports)
        await stop.wait()
        log.info("shutting down", extra={"grace_seconds": grace})
    finally:
        # Stop accepting, let calls in flight finish within the grace period, then return.
        for task in tasks:
            await cancel(task)
        await health_servicer.enter_graceful_shutdown()
        for listener in listeners:
            await listener.stop()
        await asyncio.gather(*(f.stop() for f in frontends.values()))
        await server.stop(grace)
        await credentials.stop()
        telemetry.close()


async def _start_metrics_listener(
    settings: Settings,
    page: Callable[[], Awaitable[tuple[bytes, str]]],
    hooks: ServerHooks,
    role: WorkerRole,
) -> OpsListener | None:
    """The ``metrics.addr`` listener, when one is configured (else the S3 port serves it)."""
    m = settings.metrics
    if m.addr is None:
        return None
    token = m.bearer_token.get_secret_value() if m.bearer_token is not None else None
    listener = OpsListener(m.addr, page, hooks.readiness, token, reuse_port=role.shared)
    await listener.start()
    log.info("metrics listening", extra={"addr": listener.bound_address})
    return listener
