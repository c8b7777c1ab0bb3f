"""Readiness: can this server reach its metadata store, its storage backend and its IAM?

:class:`ReadinessProbe` asks each dependency one cheap question, at most once per ``ttl``
(concurrent callers share the probe in flight), each bounded by a timeout:

- metadata: a ``get`` of the store's root key (etcd: a linearizable read, so a cluster without
  quorum is not ready; embedded: a read of the SQLite file);
- storage: the backend's own ``probe()`` when it has one (the replicated backend), else
  ``exists`` of a chunk id nobody writes, which touches the chunk directory;
- IAM: the authorizer's ``probe()`` when it has one (the external IAM client); an authorizer
  without one (embedded policy, AllowAll) is in-process and always reachable.

A dependency that raises or times out makes the server not ready, and the report says which one
and why. :meth:`ReadinessProbe.watch` keeps the gRPC health service in step with the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from lightningstor_api.authz import Authorizer
from lightningstor_api.metadata import MetadataStore
from lightningstor_storage import StorageBackend
from lightningstor_types.service import Readiness

log = logging.getLogger(__name__)

PROBE_CHUNK_ID = "0" * 32
"""A valid chunk id that no upload ever gets (ids are random, 128 bits)."""
DEFAULT_TTL = 1.0
DEFAULT_TIMEOUT = 2.0
OK = "ok"


class ReadinessProbe:
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
        self._checks: dict[str, Callable[[], Awaitable[object]] | None] = {
            "metadata": lambda: store.get(probe_key),
            "storage": _probe_of(storage, lambda: storage.exists(PROBE_CHUNK_ID)),
            "iam": _probe_of(authorizer, None),
        }
        self._ttl = ttl
        self._timeout = timeout
        self._last: Readiness | None = None
        self._checked_at = 0.0
        self._running: asyncio.Task[Readiness] | None = None

    async def check(self) -> Readiness:
        """The report, probed again when the last one is older than the ttl."""
        if self._last is not None and time.monotonic() - self._checked_at < self._ttl:
            return self._last
        if self._running is None:
            self._running = asyncio.ensure_future(self._probe_all())
            self._running.add_done_callback(self._finished)
        # shield: a caller that gives up (a client hanging up) does not cancel the others' probe
        return await asyncio.shield(self._running)

    def _finished(self, task: asyncio.Task[Readiness]) -> None:
        self._running = None
        if not task.cancelled() and task.exception() is None:
            self._last = task.result()
            self._checked_at = time.monotonic()

    async def _probe_all(self) -> Readiness:
        names = list(self._checks)
        results = await asyncio.gather(*(self._probe(self._checks[n]) for n in names))
        checks = dict(zip(names, results, strict=True))
        report = Readiness(ready=all(r == OK for r in results), checks=checks)
        if self._last is not None and report.ready != self._last.ready:
            level = logging.INFO if report.ready else logging.WARNING
            log.log(level, "ready" if report.ready else "not ready", extra={"checks": checks})
        return report

    async def _probe(self, probe: Callable[[], Awaitable[object]] | None) -> str:
        if probe is None:
            return OK
        try:
            await asyncio.wait_for(probe(), self._timeout)
        except TimeoutError:
            return f"no answer within {self._timeout:g}s"
        except Exception as exc:  # any failure is the answer: not reachable, and why
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return OK

    async def watch(
        self, on_change: Callable[[bool], Awaitable[None]], interval: float = DEFAULT_TTL
    ) -> None:
        """Call ``on_change(ready)`` now and whenever readiness flips; runs until cancelled."""
        current: bool | None = None
        while True:
            report = await self.check()
            if report.ready != current:
                current = report.ready
                await on_change(current)
            await asyncio.sleep(interval)


def _probe_of(
    obj: object, fallback: Callable[[], Awaitable[object]] | None
) -> Callable[[], Awaitable[object]] | None:
    """``obj.probe`` when ``obj`` offers one (``async def probe(self) -> None``), else fallback."""
    probe = getattr(obj, "probe", None)
    return probe if callable(probe) else fallback


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
