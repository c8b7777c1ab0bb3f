"""In-process locks by name, for transactions that would otherwise race on one hot record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class KeyedLocks:
    """One asyncio lock per name while anybody holds or waits for it (then forgotten).

    Optimistic transactions on one record (every part of an upload bumps the upload record)
    conflict with each other when many run at once: N concurrent writers need N rounds of
    retries. Queueing the writers of one server behind a lock leaves only the conflicts between
    servers, which the retries absorb.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)
