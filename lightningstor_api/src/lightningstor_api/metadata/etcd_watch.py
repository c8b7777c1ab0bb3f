"""Watches of :class:`~lightningstor_api.metadata.etcd.EtcdStore`: one etcd watch stream each.

A watch keeps its position (the next revision it needs) itself. When its stream breaks
(member killed, member without a leader, connection lost) it opens a new one on the next
endpoint from that position, so failover loses and repeats nothing. Progress notifications
move the position forward on quiet prefixes, so a restart does not ask for revisions that
etcd has since compacted. Errors surface after ``timeout`` without a working stream; the same
iterator may then be iterated again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import grpc.aio
from aetcd import rpc  # type: ignore[import-untyped]

from lightningstor_api.metadata.etcd_conn import (
    REQUIRE_LEADER,
    Connection,
    Endpoint,
    Kind,
    classify,
    translate,
)
from lightningstor_api.metadata.store import (
    EventType,
    MetadataError,
    MetadataUnavailable,
    WatchCompacted,
    WatchEvent,
)

_EVENT_TYPES = {rpc.Event.PUT: EventType.PUT, rpc.Event.DELETE: EventType.DELETE}
RESTART_PAUSE_S = 0.05


class EtcdWatch(AsyncIterator[WatchEvent]):
    """Changes of keys in ``[key, range_end)`` from a revision on; see the module doc."""

    def __init__(
        self,
        conn: Connection,
        namespace: bytes,
        key: bytes,
        range_end: bytes,
        start: int | None,
        pending: asyncio.Future[int | MetadataError] | None,
    ) -> None:
        self._conn = conn
        self._strip = len(namespace)
        self._key, self._range_end = key, range_end
        self._next = start
        self._pending = pending
        self._fallback = conn.known_revision + 1  # if reading the start revision fails
        self._call: Any = None
        self._endpoint: Endpoint | None = None
        self._buffer: deque[WatchEvent] = deque()
        self._stopped = False
        self._failing_since: float | None = None

    def _ended(self) -> bool:
        return self._stopped or self._conn.closed

    async def __anext__(self) -> WatchEvent:
        try:
            while not self._buffer:
                await self._fill()
        except BaseException as exc:
            if not self._ended():
                raise
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task and task.cancelling():
                raise  # the consumer itself is cancelled
            raise StopAsyncIteration from None  # the watch or the store was closed under us
        return self._buffer.popleft()

    async def aclose(self) -> None:
        """Stop this watch; a task waiting in ``__anext__`` ends with StopAsyncIteration."""
        self.stop()

    def stop(self) -> None:
        self._stopped = True
        self._buffer.clear()
        self._drop()

    # ---- one step ----
    async def _fill(self) -> None:
        if self._ended():
            raise StopAsyncIteration
        if self._next is None:
            self._next = await self._start_revision()
        if self._call is None:
            if self._failing_since is not None:
                await asyncio.sleep(RESTART_PAUSE_S)  # no busy loop on a flapping member
            await self._open()
        try:
            response = await self._call.read()
        except grpc.aio.AioRpcError as exc:
            self._broken(exc)
            return
        if response is grpc.aio.EOF:
            self._broken(None)
            return
        self._handle(response)

    async def _start_revision(self) -> int:
        if self._pending is not None:
            result = await asyncio.shield(self._pending)
            self._pending = None
            if not isinstance(result, MetadataError):
                return result + 1
        # The read at watch() time failed: start from the newest revision this store had seen
        # then, which may repeat a few older events but never misses a later one.
        return self._fallback

    async def _open(self) -> None:
        """Open a stream from ``self._next`` on a connected endpoint, failing over as needed."""
        conn, loop = self._conn, asyncio.get_running_loop()
        deadline = loop.time() + conn.config.timeout
        while True:
            endpoint = await conn.endpoint(deadline)
            call = endpoint.watch.Watch(metadata=conn.metadata(REQUIRE_LEADER))
            self._call, self._endpoint = call, endpoint
            create = rpc.WatchCreateRequest(
                key=self._key,
                range_end=self._range_end,
                start_revision=self._next,
                progress_notify=True,
            )
            try:
                async with asyncio.timeout(max(0.001, deadline - loop.time())):
                    await call.write(rpc.WatchRequest(create_request=create))
                    response = await call.read()
            except TimeoutError:
                self._drop()
                conn.failed(endpoint, "no answer to a watch request")
                raise conn.unavailable() from None
            except grpc.aio.AioRpcError as exc:
                self._drop()
                kind = classify(exc)
                if kind is Kind.AUTH:
                    await conn.authenticate()
                elif kind is Kind.FINAL:
                    raise translate(exc) from exc
                else:
                    conn.failed(endpoint, exc.details() or exc.code().name)
                continue
            if response is grpc.aio.EOF or not response.created:
                self._drop()
                conn.failed(endpoint, "the watch stream ended")
                continue
            conn.observe(response.header)
            if response.canceled:  # etcd refused the watch (e.g. permission denied)
                self._drop()
                raise MetadataError(f"etcd refused the watch: {response.cancel_reason}")
            return

    def _handle(self, response: Any) -> None:
        if response.canceled:
            self._drop()
            if response.compact_revision:
                raise WatchCompacted(self._next or 0, int(response.compact_revision))
            reason = str(response.cancel_reason)
            if "no leader" in reason:  # the member lost its leader: try another one
                self._failed(reason)
                return
            raise MetadataError(f"etcd cancelled the watch: {reason}")
        self._failing_since = None
        self._conn.observe(response.header)
        if response.events:
            for event in response.events:
                kv = event.kv
                kind = _EVENT_TYPES[event.type]
                value = bytes(kv.value) if kind is EventType.PUT else b""
                self._buffer.append(
                    WatchEvent(kind, bytes(kv.key)[self._strip :], value, int(kv.mod_revision))
                )
            # etcd sends every event of a revision in one response (no fragment requested)
            self._next = int(response.events[-1].kv.mod_revision) + 1
        elif not response.created and self._next is not None:
            # a progress notification: every event up to this revision has been sent
            self._next = max(self._next, int(response.header.revision) + 1)

    def _broken(self, exc: grpc.aio.AioRpcError | None) -> None:
        """The stream failed: unless etcd refused for good, the next step reopens it."""
        self._drop()
        if self._ended():
            raise StopAsyncIteration
        if exc is not None:
            kind = classify(exc)
            if kind is Kind.FINAL:
                raise translate(exc) from exc
            self._failed(exc.details() or exc.code().name)
        else:
            self._failed("the watch stream ended")

    def _failed(self, reason: str) -> None:
        loop = asyncio.get_running_loop()
        if self._endpoint is not None:
            self._conn.failed(self._endpoint, reason)
        now = loop.time()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since > self._conn.config.timeout:
            self._failing_since = None
            raise MetadataUnavailable(f"etcd watch keeps failing: {reason}")

    def _drop(self) -> None:
        if self._call is not None:
            with contextlib.suppress(Exception):
                self._call.cancel()
        self._call = None
