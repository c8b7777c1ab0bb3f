"""The stand-alone gateway's :class:`~lightningstor_types.service.ServerHooks`: its readiness.

The gateway has no store of its own: it is ready while its upstream server is (the server's
gRPC health service answers SERVING), so a load balancer takes a gateway whose server is gone
or not ready out of rotation. ``/ready`` reports ``{"checks": {"upstream": "ok" | why}}``.
"""

from __future__ import annotations

from lightningstor_s3.gateway_service import GrpcStorageService
from lightningstor_types.readiness import ReadinessChecks
from lightningstor_types.service import Readiness, RequestRecord

__all__ = ["GatewayHooks"]


class GatewayHooks:
    """Readiness of the upstream server; no metrics page, nothing accounted here."""

    def __init__(self, service: GrpcStorageService) -> None:
        self._checks = ReadinessChecks({"upstream": service.probe})

    async def readiness(self) -> Readiness:
        return await self._checks.check()

    async def metrics_page(self) -> tuple[bytes, str] | None:
        return None

    def record(self, record: RequestRecord) -> None:
        pass

    def connection_limit(self, reason: str) -> None:
        pass
