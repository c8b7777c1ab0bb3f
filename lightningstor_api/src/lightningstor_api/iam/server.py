"""``lightningstor-iam``: the embedded policy engine served as the IAM service, and its tokens.

    lightningstor-iam serve [--config F] [--addr 127.0.0.1:9003] [--key-file F]
                            [--service-token-file F] [--audit-file F]
    lightningstor-iam token --principal ID --org ORG [--project P] [--ttl SECONDS]
                            [--config F] [--key-file F] [--audience A]

``serve`` answers ``lightningstor.iam.v1.IamService`` from the ``[iam]`` roles and bindings of the
configuration, and publishes the public key of its token-signing key (a P-256 JWK in
``--key-file``, default ``{server.data_dir}/iam-signing-key.json``, created on first use) through
``GetServerInfo``. With ``--service-token-file``, ``Authorize`` requires
``authorization: Bearer <that token>``. The bound address goes to ``$LIGHTNINGSTOR_PORTS_FILE``
as ``{"iam": "host:port"}`` (and ``"metrics"``: with ``metrics.addr`` set, ``/metrics`` there
serves the ``process_*`` figures and ``/health``, ``/ready`` the probes). Logs as every process
does (``logging.level``, ``logging.format``).

``token`` prints a bearer token signed with the same key (for operators and tests).
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)

from lightningstor.iam.v1 import iam_pb2, iam_pb2_grpc
from lightningstor_api.iam import audit
from lightningstor_api.iam.policy import PolicyEngine
from lightningstor_api.iam.tokens import (
    DEFAULT_ISSUER,
    SIGNING_KEY_FILE,
    load_or_create_signing_key,
    mint,
    public_jwks,
)
from lightningstor_types.config import Settings
from lightningstor_types.config_loader import ConfigError, load_config
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.files import write_ports_file
from lightningstor_types.logs import setup_logging
from lightningstor_types.ops_http import OpsListener
from lightningstor_types.scope import Principal
from lightningstor_types.service import Readiness, RequestContext

log = logging.getLogger("lightningstor.iam")

DEFAULT_ADDR = "127.0.0.1:9003"
MAX_CHECKS = 1000


class IamServicer(iam_pb2_grpc.IamServiceServicer):
    """``IamService`` over a :class:`PolicyEngine`."""

    def __init__(
        self,
        engine: PolicyEngine,
        *,
        issuer: str,
        jwks: dict[str, Any],
        service_token: str | None = None,
    ) -> None:
        self._engine = engine
        self._issuer = issuer
        self._jwks = json.dumps(jwks)
        self._service_token = service_token
        self.calls = 0

    async def Authorize(  # noqa: N802 - the RPC's name
        self, request: iam_pb2.AuthorizeRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> iam_pb2.AuthorizeResponse:
        self.calls += 1
        if self._service_token is not None:
            sent = dict(context.invocation_metadata() or ()).get("authorization", "")
            expected = f"Bearer {self._service_token}"
            if not hmac.compare_digest(str(sent).encode(), expected.encode()):
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad service token")
        if len(request.checks) > MAX_CHECKS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "too many checks")
        out = iam_pb2.AuthorizeResponse()
        for check in request.checks:
            p = check.principal
            try:
                principal = Principal(p.principal_id, p.org_id, p.project_id or None)
            except InvalidArgument:
                out.decisions.add(allowed=False, reason="invalid principal", ttl_seconds=0)
                continue
            subject: Principal | None = None
            if check.HasField("subject"):
                s = check.subject
                try:
                    subject = Principal(s.principal_id, s.org_id, s.project_id or None)
                except InvalidArgument:
                    out.decisions.add(allowed=False, reason="invalid subject", ttl_seconds=0)
                    continue
            d = self._engine.decide(principal, check.action, check.resource, subject)
            ctx = RequestContext(
                principal=principal,
                request_id=check.context.get("request_id", ""),
                api="iam",
                source_address=check.context.get("source_address", context.peer()),
            )
            audit.record(ctx, check.action, check.resource, d.allowed, d.reason, subject)
            out.decisions.add(allowed=d.allowed, reason=d.reason, ttl_seconds=int(d.ttl_seconds))
        return out

    async def GetServerInfo(  # noqa: N802 - the RPC's name
        self, request: iam_pb2.GetServerInfoRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> iam_pb2.GetServerInfoResponse:
        return iam_pb2.GetServerInfoResponse(issuer=self._issuer, jwks_json=self._jwks)


def _key_file(args: argparse.Namespace, settings: Settings) -> Path:
    if args.key_file:
        return Path(args.key_file)
    return settings.server.data_dir / SIGNING_KEY_FILE


async def serve(args: argparse.Namespace, settings: Settings, token: str | None) -> None:
    key = load_or_create_signing_key(_key_file(args, settings))
    servicer = IamServicer(
        PolicyEngine.from_settings(settings.iam),
        issuer=settings.iam.issuer or DEFAULT_ISSUER,
        jwks=public_jwks(key),
        service_token=token,
    )
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    iam_pb2_grpc.add_IamServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(args.addr)
    if port == 0:
        raise OSError(f"cannot listen on {args.addr}")
    addr = f"{args.addr.rpartition(':')[0]}:{port}"
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("iam listening", extra={"addr": addr})
    ports = {"iam": addr}
    listener = await _metrics_listener(settings)
    if listener is not None:
        ports["metrics"] = listener.bound_address
    write_ports_file(ports)
    await stop.wait()
    if listener is not None:
        await listener.stop()
    await server.stop(2)


async def _metrics_listener(settings: Settings) -> OpsListener | None:
    """``/metrics`` (the process's figures), ``/health`` and ``/ready`` on ``metrics.addr``."""
    m = settings.metrics
    if m.addr is None:
        return None
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)

    async def page() -> tuple[bytes, str]:
        return generate_latest(registry), CONTENT_TYPE_LATEST

    async def ready() -> Readiness:  # in-process policy: serving is being ready
        return Readiness(ready=True, checks={})

    token = m.bearer_token.get_secret_value() if m.bearer_token is not None else None
    listener = OpsListener(m.addr, page if m.enabled else None, ready, token)
    await listener.start()
    log.info("metrics listening", extra={"addr": listener.bound_address})
    return listener


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lightningstor-iam", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the embedded policy engine as the IAM service")
    s.add_argument("--addr", default=DEFAULT_ADDR, help="host:port to listen on (port 0 = any)")
    s.add_argument("--service-token-file", help="require this bearer token on Authorize")
    s.add_argument("--audit-file", help="write the audit lines to this file")
    t = sub.add_parser("token", help="print a bearer token signed by the IAM's key")
    t.add_argument("--principal", required=True)
    t.add_argument("--org", required=True)
    t.add_argument("--project")
    t.add_argument("--audience", help="aud claim (default: iam.audience)")
    t.add_argument("--ttl", type=float, default=3600.0, help="seconds until it expires")
    for p in (s, t):
        p.add_argument("--config", help="the TOML configuration ([iam] and server.data_dir)")
        p.add_argument("--key-file", help="signing key (default {data_dir}/iam-signing-key.json)")
        p.add_argument("--data-dir", help="server.data_dir, where the default key file lives")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.data_dir:
        overrides["server"] = {"data_dir": args.data_dir}
    try:
        settings = load_config(Settings, config_file=args.config, overrides=overrides)
    except ConfigError as err:
        print(f"lightningstor-iam: configuration error: {err}", file=sys.stderr)
        sys.exit(2)
    if args.command == "token":
        key = load_or_create_signing_key(_key_file(args, settings))
        try:
            principal = Principal(args.principal, args.org, args.project or None)
        except InvalidArgument as err:
            print(f"lightningstor-iam: {err}", file=sys.stderr)
            sys.exit(2)
        print(
            mint(
                key,
                principal,
                issuer=settings.iam.issuer or DEFAULT_ISSUER,
                audience=args.audience or settings.iam.audience,
                ttl_seconds=args.ttl,
            )
        )
        return
    setup_logging(settings.logging.level, settings.logging.format)
    audit.open_sink(args.audit_file)
    try:
        token = (
            Path(args.service_token_file).read_text().strip() if args.service_token_file else None
        )
        asyncio.run(serve(args, settings, token))
    except OSError as err:
        log.error("cannot run: %s", err)
        sys.exit(1)


if __name__ == "__main__":
    main()
