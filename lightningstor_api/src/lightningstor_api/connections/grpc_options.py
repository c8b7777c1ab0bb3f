"""The grpc.aio server options that bound its connections, from ``[connections]``.

gRPC core enforces them itself: connections past ``grpc.max_allowed_incoming_connections`` are
closed at accept, before any handshake; a connection that has not finished its TLS and HTTP/2
handshake within the handshake timeout is dropped; an idle one gets GOAWAY; the server's
keepalive pings find dead peers; clients that ping more often than allowed get GOAWAY
(``too_many_pings``) after two strikes.
"""

from __future__ import annotations

from lightningstor_types.config import ConnectionSettings
from lightningstor_types.open_files import GRPC_SHARE, connection_budget

__all__ = ["grpc_connection_options"]

_NEVER_MS = 2**31 - 1
"""What gRPC core reads as "infinite" for its connection ages."""


def _ms(seconds: float) -> int:
    return _NEVER_MS if seconds == 0 else max(1, min(_NEVER_MS, int(seconds * 1000)))


def grpc_connection_options(c: ConnectionSettings) -> list[tuple[str, int]]:
    """Channel arguments for ``grpc.aio.server(options=...)``."""
    options = [
        ("grpc.server_handshake_timeout_ms", _ms(c.grpc_handshake_timeout_seconds)),
        ("grpc.max_connection_idle_ms", _ms(c.grpc_max_connection_idle_seconds)),
        ("grpc.max_connection_age_ms", _ms(c.grpc_max_connection_age_seconds)),
        ("grpc.max_connection_age_grace_ms", _ms(c.grpc_max_connection_age_grace_seconds)),
        ("grpc.keepalive_time_ms", _ms(c.grpc_keepalive_seconds)),
        ("grpc.keepalive_timeout_ms", _ms(c.grpc_keepalive_timeout_seconds)),
        # Enforcement: pings from clients closer together than this are strikes, with or
        # without calls in flight; keepalive pings on idle connections are allowed.
        ("grpc.http2.min_ping_interval_without_data_ms", _ms(c.grpc_min_ping_interval_seconds)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_ping_strikes", 2),
    ]
    budget = connection_budget(c.grpc_max_connections, GRPC_SHARE)
    options.append(("grpc.max_allowed_incoming_connections", budget))
    return options
