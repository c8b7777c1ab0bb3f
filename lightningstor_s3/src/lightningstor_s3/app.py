"""The S3 ASGI application: FastAPI for control paths, raw ASGI for S3 traffic.

:func:`create_app` returns one ASGI callable. Unsigned ``GET``/``HEAD`` requests for the control
paths (``/health``, ``/ready``, ``/metrics``) go to a small FastAPI app; everything else is
S3 and goes to :class:`~lightningstor_s3.dispatch.S3Dispatcher`, which streams bodies through
``receive``/``send`` directly (docs/architecture.md §2: FastAPI's streaming costs 6x on small GETs).

A control path never hides a bucket: an anonymous S3 request reaches a bucket only by naming
its scope (``/org:bucket``), which no control path does, so only a request without credentials
reaches the control app, and a signed ``GET /health`` lists the bucket ``health``.
(``/metrics`` may carry ``Authorization: Bearer …``, which no S3 signature looks like, when
``metrics.bearer_token`` is set.)

``/ready`` and ``/metrics`` come from the :class:`~lightningstor_types.service.ServerHooks`
(the server's, or the stand-alone gateway's, whose ``/ready`` follows its upstream server and
whose ``/metrics`` is 404); without hooks ``/ready`` reports ready and ``/metrics`` is 404.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from lightningstor_s3.dispatch import S3Dispatcher
from lightningstor_s3.exchange import ASGIApp, Receive, Scope, Send
from lightningstor_s3.tracing import NamingHooks, traced
from lightningstor_types.config import Settings
from lightningstor_types.ops_http import bearer_ok, readiness_json
from lightningstor_types.service import CredentialResolver, ServerHooks, StorageService

CONTROL_PATHS = frozenset({"/health", "/ready", "/metrics"})


def create_control_app(
    settings: Settings | None = None, hooks: ServerHooks | None = None
) -> FastAPI:
    """Liveness, readiness and metrics: no S3 credentials needed."""
    # Probes are not traced, and FastAPI's own telemetry (spans, metrics, exporters from the
    # environment) stays off: the server's tracing and metrics are configured in one place.
    app = FastAPI(
        title="LightningStor S3 control",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False, "auto_configure": False},
    )
    token = None
    if settings is not None and settings.metrics.bearer_token is not None:
        token = settings.metrics.bearer_token.get_secret_value()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        if hooks is None:
            return JSONResponse({"status": "ready", "checks": {}})
        status, body = readiness_json(await hooks.readiness())
        return JSONResponse(body, status_code=status)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        page = await hooks.metrics_page() if hooks is not None else None
        if page is None:
            return Response("metrics are not served here\n", status_code=404)
        if not bearer_ok(request.headers.get("authorization"), token):
            return Response(
                "unauthorized\n", status_code=401, headers={"www-authenticate": "Bearer"}
            )
        body, content_type = page
        return Response(body, media_type=content_type)

    return app


def is_control_request(scope: Scope) -> bool:
    """An unsigned GET/HEAD of a control path (``/metrics``: possibly with a bearer token)."""
    path = scope.get("path")
    if scope.get("method") not in ("GET", "HEAD") or path not in CONTROL_PATHS:
        return False
    for name, value in scope.get("headers", ()):
        bearer = path == "/metrics" and value.startswith(b"Bearer ")
        if name.lower() == b"authorization" and not bearer:
            return False
    return b"X-Amz-Signature" not in scope.get("query_string", b"")


def create_app(
    service: StorageService,
    credentials: CredentialResolver,
    settings: Settings,
    hooks: ServerHooks | None = None,
) -> ASGIApp:
    """The ASGI app of the S3 API over ``service``; signatures checked with ``credentials``."""
    control = create_control_app(settings, hooks)
    tracing = settings.tracing.enabled  # off: no tracing work per request
    dispatcher = S3Dispatcher(
        service, credentials, settings, NamingHooks(hooks) if tracing else hooks
    )
    s3: ASGIApp = traced(dispatcher) if tracing else dispatcher

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_control_request(scope):
            await s3(scope, receive, send)
        else:  # control paths, lifespan (websockets are refused by FastAPI)
            await control(scope, receive, send)

    return app
