"""A lease over the metadata protocol: at most one holder at a time, across every server.

It is a record (``LeaseRecord``: holder and term) written only by compare-and-swap on its
revision, so it works the same on etcd and on the embedded store, and needs no agreement
between the servers' clocks:

- the holder renews by rewriting the record every third of a term (a compare on the revision
  it wrote last); a failed compare means another took it over, and it stops at once;
- a contender takes the lease over only once it has seen the same revision for a full term on
  its own monotonic clock (or the record is absent);
- the holder counts itself the holder only for half a term after its last successful write.

The holder's write happened before the contender read it, so the holder stops (write + term/2)
before the contender can start (read + term): two holders never overlap, as long as clocks run
at roughly the same rate. etcd's own leases would serve on etcd only; this serves both.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.metadata.store import Compare, Delete, MetadataStore, Put


class Lease:
    """One contender for the lease stored at ``key``; call :meth:`refresh` every
    :attr:`renew_every` seconds and act only while :attr:`held`."""

    def __init__(
        self,
        store: MetadataStore,
        key: bytes,
        term_seconds: float,
        *,
        holder: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._key = key
        self.term = term_seconds
        # Host and pid first: an operator (or a test) reading the record sees who holds it.
        self.holder = holder or f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._clock = clock
        self._revision = 0
        """The revision of our last write (0: we do not hold it)."""
        self._valid_until = 0.0
        self._seen: tuple[int, float] | None = None
        """Another holder's revision and when we first saw it."""

    @property
    def renew_every(self) -> float:
        return self.term / 3

    @property
    def held(self) -> bool:
        """Whether we hold the lease now (half a term after our last write, at most)."""
        return self._revision != 0 and self._clock() < self._valid_until

    @property
    def revision(self) -> int:
        """The revision of our record: a write that must only happen while we hold the lease
        compares it (:meth:`guard`)."""
        return self._revision

    def guard(self) -> Compare:
        """A compare that fails unless the record is still the one we wrote."""
        return Compare.mod_revision(self._key, self._revision)

    async def refresh(self) -> bool:
        """Renew the lease if we hold it, or take it over if its holder went silent for a
        term; returns :attr:`held`."""
        now = self._clock()
        value = records_pb2.LeaseRecord(holder=self.holder, term_seconds=self.term)
        put = [Put(self._key, value.SerializeToString())]
        if self._revision:
            result = await self._store.txn([Compare.mod_revision(self._key, self._revision)], put)
            if result.succeeded:
                self._took(result.revision, now)
                return True
            self._revision = 0  # taken over (or deleted): stop now
        kv = await self._store.get(self._key)
        if kv is None:
            compare = Compare.absent(self._key)
        else:
            if self._seen is None or self._seen[0] != kv.mod_revision:
                self._seen = (kv.mod_revision, now)
                return False
            if now - self._seen[1] < self.term:
                return False
            compare = Compare.mod_revision(self._key, kv.mod_revision)
        result = await self._store.txn([compare], put)
        if result.succeeded:
            self._took(result.revision, now)
            return True
        return False

    def _took(self, revision: int, at: float) -> None:
        self._revision = revision
        self._valid_until = at + self.term / 2
        self._seen = None

    async def release(self) -> None:
        """Give the lease up (others may take it at once); a no-op unless we hold it."""
        if self._revision:
            await self._store.txn([self.guard()], [Delete(self._key)])
            self._revision = 0
