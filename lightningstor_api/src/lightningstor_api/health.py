"""Readiness: can this server reach its metadata store, its storage backend and its IAM?

:class:`ReadinessProbe` asks each dependency one cheap question through
:class:`~lightningstor_types.readiness.ReadinessChecks` (cached for ``ttl``, each bounded by a
timeout):

- metadata: a ``get`` of the store's root key (etcd: a linearizable read, so a cluster without
  quorum is not ready; embedded: a read of the SQLite file);
- storage: the backend's own ``probe()`` when it has one (the distributed backends: ready
  while a write quorum of storage nodes can take writes; the nodes down are the report's
  ``degraded`` and the ``lightningstor_storage_nodes_degraded`` gauge), else ``exists`` of a
  chunk id nobody writes, which touches the chunk directory;
- IAM: the authorizer's ``probe()`` when it has one (the external IAM client); an authorizer
  without one (embedded policy, AllowAll) is in-process and always reachable.

A dependency that raises or times out makes the server not ready, and the report says which one
and why. :meth:`ReadinessProbe.watch` keeps the gRPC health service in step with the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from lightningstor_api.authz import Authorizer
from lightningstor_api.metadata import MetadataStore
from lightningstor_api.metrics import METRICS
from lightningstor_storage import StorageBackend
from lightningstor_types.readiness import DEFAULT_TIMEOUT, DEFAULT_TTL, OK, ReadinessChecks

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_TTL", "OK", "PROBE_CHUNK_ID", "ReadinessProbe"]

PROBE_CHUNK_ID = "0" * 32
"""A valid chunk id that no upload ever gets (ids are random, 128 bits)."""


class ReadinessProbe(ReadinessChecks):
    """Cached readiness of one server's dependencies."""

    def __init__(
        self,
        store: MetadataStore,
        storage: StorageBackend,
        authorizer: Authorizer,
        *,
        probe_key: bytes,
        ttl: float = DEFAULT_TTL,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            {
                "metadata": lambda: store.get(probe_key),
                "storage": _probe_of(storage, lambda: storage.exists(PROBE_CHUNK_ID)),
                "iam": _probe_of(authorizer, None),
            },
            ttl=ttl,
            timeout=timeout,
            degraded=_degraded_of(storage),
        )


def _degraded_of(storage: StorageBackend) -> Callable[[], Sequence[str]] | None:
    """The backend's ``degraded_nodes()``, counted in the metrics as it is read."""
    nodes = getattr(storage, "degraded_nodes", None)
    if not callable(nodes):
        return None

    def degraded() -> Sequence[str]:
        down: Sequence[str] = nodes()
        METRICS.storage_nodes_degraded = len(down)
        return down

    return degraded


def _probe_of(
    obj: object, fallback: Callable[[], Awaitable[object]] | None
) -> Callable[[], Awaitable[object]] | None:
    """``obj.probe`` when ``obj`` offers one (``async def probe(self) -> None``), else fallback."""
    probe = getattr(obj, "probe", None)
    return probe if callable(probe) else fallback
