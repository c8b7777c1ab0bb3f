"""The stand-alone gateway's :class:`~lightningstor_types.service.ServerHooks`: its readiness
and its metrics page.

The gateway has no store of its own: it is ready while its upstream server is (the server's
gRPC health service answers SERVING), so a load balancer takes a gateway whose server is gone
or not ready out of rotation. ``/ready`` reports ``{"checks": {"upstream": "ok" | why}}``.
``/metrics`` (unless ``metrics.enabled = false``) serves the process's own ``process_*``
figures (CPU, memory, open fds, start time); with ``s3_workers`` above 1, of the worker that
answers.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)

from lightningstor_s3.gateway_service import GrpcStorageService
from lightningstor_types.config import Settings
from lightningstor_types.readiness import ReadinessChecks
from lightningstor_types.service import Readiness, RequestRecord

__all__ = ["GatewayHooks"]


class GatewayHooks:
    """Readiness of the upstream server, the process's metrics; nothing accounted here."""

    def __init__(self, service: GrpcStorageService, settings: Settings) -> None:
        self._checks = ReadinessChecks({"upstream": service.probe})
        self._registry: CollectorRegistry | None = None
        if settings.metrics.enabled:
            self._registry = CollectorRegistry(auto_describe=False)
            ProcessCollector(registry=self._registry)

    async def readiness(self) -> Readiness:
        return await self._checks.check()

    async def metrics_page(self) -> tuple[bytes, str] | None:
        if self._registry is None:
            return None
        return generate_latest(self._registry), CONTENT_TYPE_LATEST

    def record(self, record: RequestRecord) -> None:
        pass

    def connection_limit(self, reason: str) -> None:
        pass
