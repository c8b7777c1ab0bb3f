"""The S3 ASGI application: FastAPI for control paths, raw ASGI for S3 traffic.

:func:`create_app` returns one ASGI callable. Unsigned ``GET``/``HEAD`` requests for the control
paths (``/health``, ``/ready``; ``/metrics`` later) go to a small FastAPI app; everything else is
S3 and goes to :class:`~lightningstor_s3.dispatch.S3Dispatcher`, which streams bodies through
``receive``/``send`` directly (DESIGN.md §2: FastAPI's streaming costs 6x on small GETs).

A control path never hides a bucket: S3 serves no anonymous request, so only a request without
credentials reaches the control app, and a signed ``GET /health`` lists the bucket ``health``.
"""

from __future__ import annotations

from fastapi import FastAPI

from lightningstor_s3.dispatch import S3Dispatcher
from lightningstor_s3.exchange import ASGIApp, Receive, Scope, Send
from lightningstor_types.config import Settings
from lightningstor_types.service import CredentialResolver, StorageService

CONTROL_PATHS = frozenset({"/health", "/ready"})


def create_control_app() -> FastAPI:
    """Liveness and readiness (and, later, metrics): plain JSON, no credentials needed."""
    app = FastAPI(title="LightningStor S3 control", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def is_control_request(scope: Scope) -> bool:
    """An unsigned GET/HEAD of a control path."""
    if scope.get("method") not in ("GET", "HEAD") or scope.get("path") not in CONTROL_PATHS:
        return False
    if any(name.lower() == b"authorization" for name, _ in scope.get("headers", ())):
        return False
    return b"X-Amz-Signature" not in scope.get("query_string", b"")


def create_app(
    service: StorageService, credentials: CredentialResolver, settings: Settings
) -> ASGIApp:
    """The ASGI app of the S3 API over ``service``; signatures checked with ``credentials``."""
    control = create_control_app()
    s3 = S3Dispatcher(service, credentials, settings)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_control_request(scope):
            await s3(scope, receive, send)
        else:  # control paths, lifespan (websockets are refused by FastAPI)
            await control(scope, receive, send)

    return app
