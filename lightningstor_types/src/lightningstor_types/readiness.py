"""Readiness from named checks, each asked at most once per ``ttl`` and bounded by a timeout.

:class:`ReadinessChecks` is the generic part of the server's and the storage node's
``/ready``: a check is an ``async`` callable that returns when the dependency is fine and
raises (or times out) when it is not; the report names every check with ``"ok"`` or why not.
Concurrent callers share the probe in flight, and :meth:`ReadinessChecks.watch` follows the
report for the gRPC health service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from lightningstor_types.service import Readiness
from lightningstor_types.spans import untraced

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_TTL", "OK", "Check", "ReadinessChecks"]

log = logging.getLogger(__name__)

DEFAULT_TTL = 1.0
DEFAULT_TIMEOUT = 2.0
OK = "ok"

Check = Callable[[], Awaitable[object]]
"""Returns when the dependency is fine; raises, with the reason, when it is not."""
Degraded = Callable[[], Sequence[str]]
"""What still serves but not whole (storage nodes down), read after the checks."""


class ReadinessChecks:
    """Cached readiness of named checks (None: always ok)."""

    def __init__(
        self,
        checks: Mapping[str, Check | None],
        *,
        ttl: float = DEFAULT_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        degraded: Degraded | None = None,
    ) -> None:
        self._checks = dict(checks)
        self._degraded = degraded
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
        with untraced():  # asked every second: a trace per probe would drown the real ones
            results = await asyncio.gather(*(self._probe(self._checks[n]) for n in names))
        checks = dict(zip(names, results, strict=True))
        degraded = tuple(self._degraded()) if self._degraded is not None else None
        report = Readiness(all(r == OK for r in results), checks, degraded)
        if degraded and (self._last is None or self._last.degraded != degraded):
            log.warning("degraded", extra={"degraded": list(degraded)})
        if self._last is not None and report.ready != self._last.ready:
            level = logging.INFO if report.ready else logging.WARNING
            log.log(level, "ready" if report.ready else "not ready", extra={"checks": checks})
        return report

    async def _probe(self, probe: Check | None) -> str:
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
