"""LightningStor's S3 HTTP facade.

``create_app(service, credentials, settings)`` is the ASGI app over any
:class:`~lightningstor_types.service.StorageService`; ``create_frontend`` is what the server's
``lightningstor.frontends`` entry point loads; ``lightningstor-s3-gateway`` serves the same app
over a server's gRPC API (:mod:`lightningstor_s3.gateway`).
"""

from lightningstor_s3.app import create_app
from lightningstor_s3.frontend import S3Frontend, create_frontend
from lightningstor_s3.router import Endpoint, Route, route

__all__ = ["Endpoint", "Route", "S3Frontend", "create_app", "create_frontend", "route"]
