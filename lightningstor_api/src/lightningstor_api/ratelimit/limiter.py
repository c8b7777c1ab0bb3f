"""The rate limits of one server process, per org and per project of the calling tenant.

Each level (the caller's org as a whole; its project, when it has one) has up to three token
buckets: requests, body bytes in and body bytes out a second, from its effective quota (a stored
quota, else ``[quotas.org]`` / ``[quotas.project]``). A request takes one request token at every
level or is refused (:class:`~lightningstor_types.errors.RateLimited`: ``SlowDown`` / 503 over
S3, RESOURCE_EXHAUSTED over gRPC, with when to retry). Bodies are paced, never buffered: each
chunk read or sent takes its size from the byte buckets, into debt, and the stream waits the
debt out before going on. A request that would move bytes is refused while its direction is in
debt by more than a burst, so an unbounded burst of streams cannot queue without end.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.quotas import Quotas
from lightningstor_api.metrics import METRICS
from lightningstor_api.ratelimit.bucket import TokenBucket
from lightningstor_types.errors import RateLimited
from lightningstor_types.scope import Scope
from lightningstor_types.service import ObjectStream, RequestContext


@dataclass(slots=True)
class _Level:
    """One org's or project's buckets (None: that rate is unlimited)."""

    name: str
    rates: tuple[int, int, int]
    buckets: tuple[TokenBucket | None, TokenBucket | None, TokenBucket | None]


class Grant:
    """An admitted request: the byte buckets its bodies are paced by."""

    __slots__ = ("_in", "_out")

    def __init__(self, inbound: Sequence[TokenBucket], outbound: Sequence[TokenBucket]) -> None:
        self._in = tuple(inbound)
        self._out = tuple(outbound)

    def inbound(self, body: AsyncIterable[bytes]) -> AsyncIterable[bytes]:
        """``body`` read no faster than the limits on bytes in."""
        return _paced(body, self._in) if self._in else body

    def outbound(self, stream: ObjectStream) -> ObjectStream:
        """``stream`` with its body sent no faster than the limits on bytes out."""
        if self._out:
            stream.body = _paced_out(stream.body, self._out)
        return stream


UNLIMITED = Grant((), ())


async def _pay(buckets: Sequence[TokenBucket], n: int) -> None:
    now = time.monotonic()
    wait = max(b.take(n, now) for b in buckets)
    if wait > 0:
        await asyncio.sleep(wait)


async def _paced(
    body: AsyncIterable[bytes], buckets: Sequence[TokenBucket]
) -> AsyncIterator[bytes]:
    # The wait comes before the next read: the sender meets TCP (or HTTP/2) back-pressure.
    async for chunk in body:
        await _pay(buckets, len(chunk))
        yield chunk


async def _paced_out(
    body: AsyncIterator[bytes], buckets: Sequence[TokenBucket]
) -> AsyncIterator[bytes]:
    try:
        async for chunk in body:
            await _pay(buckets, len(chunk))
            yield chunk
    finally:  # closing the paced body closes the object's (ObjectStream.aclose)
        aclose = getattr(body, "aclose", None)
        if aclose is not None:
            await aclose()


class RateLimiter:
    """Token buckets per org and project of one server process."""

    def __init__(
        self,
        quotas: Quotas | None,
        burst_seconds: float,
        on_throttle: Callable[[Scope], None] | None = None,
        refusal_delay_seconds: float = 0.0,
    ) -> None:
        self._quotas = quotas
        self._burst = burst_seconds
        self._refusal_delay = refusal_delay_seconds
        self._on_throttle = on_throttle
        self._levels: dict[Scope, _Level] = {}

    async def admit(
        self, ctx: RequestContext, *, inbound: bool = False, outbound: bool = False
    ) -> Grant:
        """Take a request token at each level of the caller's scope, or raise RateLimited;
        ``inbound``/``outbound``: the request moves body bytes that way."""
        if self._quotas is None:
            return UNLIMITED
        scope = ctx.principal.scope
        levels = [lv for lv in await self._levels_of(scope) if lv is not None]
        if not levels:
            return UNLIMITED
        now = time.monotonic()
        wait, refused, where = 0.0, "", ""
        # Check every level, then take, with no await in between: a refusal takes nothing.
        for lv in levels:
            requests, bytes_in, bytes_out = lv.buckets
            for limit, bucket in (
                ("requests", requests),
                ("bytes_in", bytes_in if inbound else None),
                ("bytes_out", bytes_out if outbound else None),
            ):
                if bucket is None:
                    continue
                # A request needs a token; a transfer is refused only while its direction is
                # more than a burst in debt (the streams in flight wait out the rest).
                need = 1.0 if limit == "requests" else -bucket.capacity
                w = bucket.wait(need, now)
                if w > wait:
                    wait, refused, where = w, limit, lv.name
        if refused:
            # The refusal is answered after a delay (at most its Retry-After): a client that
            # does not back off then holds a connection while it waits, not the CPU with
            # refusals as fast as it can send (each one costs its signature check).
            delay = min(self._refusal_delay, max(1.0, math.ceil(wait)))
            if delay > 0:
                await asyncio.sleep(delay)
            self._throttled(ctx, scope, f"{refused} per second of the {where}", refused, wait)
        for lv in levels:
            if lv.buckets[0] is not None:
                lv.buckets[0].try_take(1.0, now)
        return Grant(
            [b for lv in levels if inbound and (b := lv.buckets[1]) is not None],
            [b for lv in levels if outbound and (b := lv.buckets[2]) is not None],
        )

    def _throttled(
        self, ctx: RequestContext, scope: Scope, what: str, limit: str, wait: float
    ) -> NoReturn:
        METRICS.throttle(ctx.api, limit)
        if self._on_throttle is not None:
            self._on_throttle(scope)
        raise RateLimited(
            f"Please reduce your request rate (the limit on {what}).",
            Limit=f"{limit}_per_second",
            RetryAfter=str(max(1, math.ceil(wait))),
        )

    async def _levels_of(self, scope: Scope) -> list[_Level | None]:
        assert self._quotas is not None
        org = Scope(scope.org_id)
        found = [self._level(org, await self._quotas.effective(org))]
        if scope.project_id:
            found.append(self._level(scope, await self._quotas.effective(scope)))
        return found

    def _level(self, scope: Scope, quota: records_pb2.QuotaRecord) -> _Level | None:
        rates = (quota.requests_per_second, quota.bytes_in_per_second, quota.bytes_out_per_second)
        lv = self._levels.get(scope)
        if not any(rates):
            if lv is not None:
                del self._levels[scope]
            return None
        if lv is not None and lv.rates == rates:
            return lv
        now = time.monotonic()
        buckets: list[TokenBucket | None] = []
        for i, rate in enumerate(rates):
            old = lv.buckets[i] if lv is not None else None
            if not rate:
                buckets.append(None)
                continue
            # A burst's worth of the rate; a request bucket holds at least one request.
            capacity = max(rate * self._burst, 1.0)
            if old is None:
                buckets.append(TokenBucket(rate, capacity, now))
            else:
                old.configure(rate, capacity)
                buckets.append(old)
        name = f"project {scope}" if scope.project_id else f"org {scope.org_id}"
        lv = _Level(name, rates, (buckets[0], buckets[1], buckets[2]))
        self._levels[scope] = lv
        return lv
