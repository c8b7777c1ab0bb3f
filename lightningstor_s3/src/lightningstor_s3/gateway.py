"""``lightningstor-s3-gateway``: the S3 API as a process of its own, over a server's gRPC API.

    lightningstor-s3-gateway --grpc-endpoint 10.0.0.5:9001 \\
        --credentials-file /etc/lightningstor/s3-keys.json --s3-addr 0.0.0.0:9000

``--grpc-endpoint https://HOST:PORT`` (or ``grpcs://``) reaches the server over TLS, verified
with ``--grpc-ca-file`` (default: the system trust store); ``--grpc-cert-file`` and
``--grpc-key-file`` present a client certificate (mutual TLS; the server may map it to the
gateway's own principal).

It serves the same app as the in-process frontend (:func:`~lightningstor_s3.app.create_app`)
over :class:`~lightningstor_s3.gateway_service.GrpcStorageService`, so every S3 feature goes
through the gRPC API. The configuration is the server's (``--config``, ``LIGHTNINGSTOR_*``):
``server.s3_addr``, ``server.s3_workers`` (uvicorn worker processes), ``server.tls`` and ``s3.*``.

Credentials: the gRPC API never hands out secrets, so the gateway checks signatures against a
JSON file of its own: one object or a list, each ``{"access_key_id", "secret_access_key",
"principal_id", "org_id", "project_id"?}`` (the server's ``admin-credentials.json`` is one).
Bound ports go to ``$LIGHTNINGSTOR_PORTS_FILE`` as ``{"s3": "host:port"}``, as the server does.
``/ready`` follows the server's gRPC health (:mod:`lightningstor_s3.gateway_hooks`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import uvloop
from uvicorn.supervisors import Multiprocess

from lightningstor_s3.app import create_app
from lightningstor_s3.connections import GuardedHttpToolsProtocol
from lightningstor_s3.exchange import ASGIApp
from lightningstor_s3.frontend import S3Frontend, bind_listener, connection_guard, uvicorn_config
from lightningstor_s3.gateway_hooks import GatewayHooks
from lightningstor_s3.gateway_service import GrpcStorageService
from lightningstor_types.config import Settings
from lightningstor_types.config_loader import ConfigError, build_arg_parser, settings_from_args
from lightningstor_types.files import write_ports_file
from lightningstor_types.grpc_client import ClientTls, resolve_endpoint
from lightningstor_types.logs import setup_logging
from lightningstor_types.memory import tune_allocator
from lightningstor_types.open_files import raise_open_file_limit
from lightningstor_types.scope import Principal
from lightningstor_types.service import ResolvedCredential

log = logging.getLogger("lightningstor_s3.gateway")

ENDPOINT_ENV = "LIGHTNINGSTOR_GATEWAY_GRPC_ENDPOINT"
CREDENTIALS_ENV = "LIGHTNINGSTOR_GATEWAY_CREDENTIALS_FILE"
CA_FILE_ENV = "LIGHTNINGSTOR_GATEWAY_GRPC_CA_FILE"
CERT_FILE_ENV = "LIGHTNINGSTOR_GATEWAY_GRPC_CERT_FILE"
KEY_FILE_ENV = "LIGHTNINGSTOR_GATEWAY_GRPC_KEY_FILE"
_TLS_FLAGS = (
    ("--grpc-ca-file", CA_FILE_ENV, "CA bundle (PEM) of the server's certificate; turns TLS on"),
    ("--grpc-cert-file", CERT_FILE_ENV, "client certificate (PEM) toward the server (mTLS)"),
    ("--grpc-key-file", KEY_FILE_ENV, "private key (PEM) of --grpc-cert-file"),
)


@dataclass
class StaticCredentials:
    """A :class:`~lightningstor_types.service.CredentialResolver` over a fixed set of keys."""

    keys: dict[str, ResolvedCredential] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> StaticCredentials:
        data = json.loads(path.read_text())
        entries = data if isinstance(data, list) else [data]
        keys = {}
        for entry in entries:
            principal = Principal(
                entry.get("principal_id", "admin"),
                entry.get("org_id", "default"),
                entry.get("project_id") or None,
            )
            key_id = entry["access_key_id"]
            keys[key_id] = ResolvedCredential(key_id, entry["secret_access_key"], principal)
        return cls(keys)

    async def resolve(self, access_key_id: str) -> ResolvedCredential | None:
        return self.keys.get(access_key_id)


def _upstream() -> tuple[str, ClientTls]:
    """The server's endpoint and the TLS toward it, from the environment main() set."""

    def path(env: str) -> Path | None:
        value = os.environ.get(env)
        return Path(value) if value else None

    tls = ClientTls(path(CA_FILE_ENV), path(CERT_FILE_ENV), path(KEY_FILE_ENV))
    return os.environ[ENDPOINT_ENV], tls


def create_gateway_app() -> ASGIApp:
    """The gateway's app from the environment (what each uvicorn worker process calls)."""
    settings = Settings()
    credentials = StaticCredentials.from_file(Path(os.environ[CREDENTIALS_ENV]))
    endpoint, tls = _upstream()
    service = GrpcStorageService(endpoint, keys=credentials.keys.values(), tls=tls)
    # This worker's own guard (the class uvicorn pickled to it is shared by name).
    GuardedHttpToolsProtocol.guard = connection_guard(settings)
    return create_app(service, credentials, settings, GatewayHooks(service, settings))


async def serve(settings: Settings) -> None:
    """One process: serve until SIGTERM/SIGINT, then stop gracefully."""
    credentials = StaticCredentials.from_file(Path(os.environ[CREDENTIALS_ENV]))
    endpoint, tls = _upstream()
    service = GrpcStorageService(endpoint, keys=credentials.keys.values(), tls=tls)
    app = create_app(service, credentials, settings, GatewayHooks(service, settings))
    frontend = S3Frontend(app, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await frontend.start()
    try:
        write_ports_file({"s3": frontend.bound_address})
        log.info("S3 gateway serving", extra={"addr": frontend.bound_address})
        await stop.wait()
    finally:
        await frontend.stop()
        await service.close()


def serve_workers(settings: Settings) -> None:
    """Several uvicorn worker processes sharing one listening socket."""
    config = uvicorn_config(
        "lightningstor_s3.gateway:create_gateway_app",  # type: ignore[arg-type]
        settings,
        factory=True,
        workers=settings.server.s3_workers,
        http=GuardedHttpToolsProtocol,
    )
    sock = bind_listener(settings.server.s3_addr)
    sock.listen(config.backlog)  # queue connections until the workers accept them
    host, port = sock.getsockname()[:2]
    write_ports_file({"s3": f"{host}:{port}"})
    Multiprocess(config, sockets=[sock]).run()


def build_parser() -> argparse.ArgumentParser:
    parser = build_arg_parser(
        "lightningstor-s3-gateway",
        distribution="lightningstor-s3",
        description=(
            "LightningStor stand-alone S3 gateway: the S3 API over a server's gRPC API; each "
            "request acts with its caller's own rights."
        ),
        only=("--s3-addr", "--log-level"),
    )
    parser.add_argument(
        "--grpc-endpoint",
        default=os.environ.get(ENDPOINT_ENV, "127.0.0.1:9001"),
        help=(
            f"host:port (https://host:port for TLS) of a LightningStor server's gRPC API "
            f"(env {ENDPOINT_ENV})"
        ),
    )
    for flag, env, what in _TLS_FLAGS:
        parser.add_argument(flag, default=os.environ.get(env) or None, help=f"{what} (env {env})")
    parser.add_argument(
        "--credentials-file",
        default=os.environ.get(CREDENTIALS_ENV),
        help=f"JSON file of the S3 access keys the gateway accepts (env {CREDENTIALS_ENV})",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ConfigError as err:
        print(f"lightningstor-s3-gateway: configuration error: {err}", file=sys.stderr)
        sys.exit(2)
    if not args.credentials_file:
        print("lightningstor-s3-gateway: --credentials-file is required", file=sys.stderr)
        sys.exit(2)
    tls_files = [getattr(args, flag[2:].replace("-", "_")) for flag, _, _ in _TLS_FLAGS]
    try:  # refuse here, not in each worker, an endpoint or TLS option that cannot work
        tls = ClientTls(*(Path(f) if f else None for f in tls_files))
        resolve_endpoint(args.grpc_endpoint, tls)
    except ValueError as err:
        print(f"lightningstor-s3-gateway: {err}", file=sys.stderr)
        sys.exit(2)
    setup_logging(settings.logging.level, settings.logging.format)
    raise_open_file_limit()  # each connection is a descriptor
    # Worker processes read these (and LIGHTNINGSTOR_CONFIG) from the environment.
    os.environ[ENDPOINT_ENV] = args.grpc_endpoint
    os.environ[CREDENTIALS_ENV] = str(Path(args.credentials_file).absolute())
    for (_, env, _), value in zip(_TLS_FLAGS, tls_files, strict=True):
        if value:
            os.environ[env] = str(Path(value).absolute())
    if getattr(args, "config", None):
        os.environ.setdefault("LIGHTNINGSTOR_CONFIG", str(args.config))
    tune_allocator()  # bodies stream through in 1 MiB pieces, as in the server
    try:
        if settings.server.s3_workers > 1:
            serve_workers(settings)
        else:
            uvloop.run(serve(settings))
    except OSError as err:  # the S3 address in use or not local, a file it cannot read, …
        log.error("cannot run: %s", err)
        sys.exit(1)


if __name__ == "__main__":
    main()
