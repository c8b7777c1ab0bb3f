"""``EtcdStore``: the metadata protocol on an etcd v3 cluster, shared by every server.

Each call is one etcd request: ``get`` and ``range`` are ``Range`` (with ``limit``; etcd's
``more`` says whether the page was cut), ``put`` is ``Put``, ``delete`` is ``DeleteRange``,
``txn`` is one ``Txn`` whose compares, puts, deletes (``DeletePrefix``: one ``DeleteRange``
over the prefix) and gets map one to one onto etcd's, so revisions, versions and compares are
etcd's own. Reads are linearizable. Connection, failover and errors: :mod:`.etcd_conn`;
watches: :mod:`.etcd_watch`; compaction of etcd's history: :mod:`.etcd_compact`; the README
of this package tells the rules.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from aetcd import rpc  # type: ignore[import-untyped]

from lightningstor_api.metadata.etcd_compact import Compactor
from lightningstor_api.metadata.etcd_conn import Connection, EtcdConfig, Method
from lightningstor_api.metadata.etcd_watch import EtcdWatch
from lightningstor_api.metadata.store import (
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    DeletePrefix,
    Get,
    KeyValue,
    MetadataError,
    MetadataStore,
    Op,
    Put,
    RangeResult,
    TxnResult,
    WatchEvent,
    check_branch,
)

ALL_KEYS = b"\x00"  # etcd's range_end for "no upper bound", and the smallest key it accepts

_TARGETS = {
    CompareTarget.VALUE: (rpc.Compare.VALUE, "value"),
    CompareTarget.VERSION: (rpc.Compare.VERSION, "version"),
    CompareTarget.CREATE: (rpc.Compare.CREATE, "create_revision"),
    CompareTarget.MOD: (rpc.Compare.MOD, "mod_revision"),
}
_RESULTS = {
    CompareOp.EQUAL: rpc.Compare.EQUAL,
    CompareOp.NOT_EQUAL: rpc.Compare.NOT_EQUAL,
    CompareOp.GREATER: rpc.Compare.GREATER,
    CompareOp.LESS: rpc.Compare.LESS,
}


def _upper(key: bytes) -> bytes:
    """etcd's range_end for every key starting with ``key`` (``ALL_KEYS``: unbounded)."""
    stripped = key.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else ALL_KEYS


class EtcdStore:
    """The metadata store on etcd; open it with :meth:`open`."""

    def __init__(self, conn: Connection) -> None:
        """Use :meth:`open`."""
        self._conn = conn
        self._ns = conn.config.namespace
        probe = conn.config.probe_key
        self._probe = probe if probe is not None else (self._ns or ALL_KEYS)
        self._barriers: set[asyncio.Task[int | MetadataError]] = set()
        self._watches: weakref.WeakSet[EtcdWatch] = weakref.WeakSet()
        self.compactor = Compactor(conn, conn.config.retained_revisions)

    @classmethod
    async def open(cls, config: EtcdConfig) -> EtcdStore:
        """Connect (authenticating if configured) and check that etcd answers.

        Raises :class:`MetadataUnavailable` when no endpoint answers within the timeout.
        """
        store = cls(Connection(config))
        try:
            await store._conn.authenticate()
            await store.revision()
        except BaseException:
            await store._conn.close()
            raise
        return store

    @property
    def endpoint(self) -> str:
        """The ``host:port`` in use now (it changes on failover)."""
        return self._conn.address

    async def get(self, key: bytes) -> KeyValue | None:
        """The key, or ``None`` when absent."""
        request = rpc.RangeRequest(key=self._ns + key)
        response = await self._read(request)
        return self._kv(response.kvs[0]) if response.kvs else None

    async def range(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        end: bytes | None = None,
        limit: int = 0,
    ) -> RangeResult:
        """Keys starting with ``prefix`` in ``[start, end)``, ascending by bytes; limit 0: all."""
        if limit < 0:
            raise ValueError("limit must be >= 0")
        lo = self._ns + (prefix if start is None or start < prefix else start)
        upper = _upper(self._ns + prefix)
        hi = None if upper == ALL_KEYS else upper  # None: no upper bound
        if end is not None and (hi is None or self._ns + end < hi):
            hi = self._ns + end
        if hi is not None and (lo >= hi or hi <= ALL_KEYS):  # nothing (etcd has no key b"")
            return RangeResult([], False, await self.revision())
        request = rpc.RangeRequest(key=lo or ALL_KEYS, range_end=hi or ALL_KEYS, limit=limit)
        response = await self._read(request)
        kvs = [self._kv(kv) for kv in response.kvs]
        return RangeResult(kvs, bool(response.more), int(response.header.revision))

    async def put(self, key: bytes, value: bytes) -> int:
        """Set ``key``; returns the new store revision."""
        await self._barrier()
        response = await self._write(
            lambda e: e.kv.Put, rpc.PutRequest(key=self._ns + key, value=value)
        )
        return int(response.header.revision)

    async def delete(self, key: bytes) -> bool:
        """Delete ``key``; returns whether it existed."""
        await self._barrier()
        request = rpc.DeleteRangeRequest(key=self._ns + key)
        return bool((await self._write(lambda e: e.kv.DeleteRange, request)).deleted)

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        """Run ``success`` if every compare holds, else ``failure``, atomically (one etcd Txn)."""
        compares, success, failure = tuple(compares), tuple(success), tuple(failure)
        check_branch(success)
        check_branch(failure)
        request = rpc.TxnRequest(
            compare=[self._compare(c) for c in compares],
            success=[self._op(op) for op in success],
            failure=[self._op(op) for op in failure],
        )
        writes = any(not isinstance(op, Get) for op in success + failure)
        if writes:
            await self._barrier()
            response = await self._write(lambda e: e.kv.Txn, request)
        else:
            response = await self._conn.unary(lambda e: e.kv.Txn, request, idempotent=True)
        branch = success if response.succeeded else failure
        results: list[KeyValue | int | None] = []
        for op, answer in zip(branch, response.responses, strict=True):
            if isinstance(op, Put):
                results.append(None)
            elif isinstance(op, Get):
                kvs = answer.response_range.kvs
                results.append(self._kv(kvs[0]) if kvs else None)
            else:
                results.append(int(answer.response_delete_range.deleted))
        return TxnResult(bool(response.succeeded), int(response.header.revision), results)

    def watch(
        self, prefix: bytes, *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Changes under ``prefix`` from ``start_revision`` on (default: after this call)."""
        self._conn.check_open()
        key = self._ns + prefix
        pending: asyncio.Task[int | MetadataError] | None = None
        if start_revision is not None:
            if start_revision < 1:
                raise ValueError("start_revision must be >= 1")
        else:
            # The revision now; writes of this store wait for it (see _barrier), so every one
            # made after this call comes later and is delivered.
            pending = asyncio.get_running_loop().create_task(self._revision_or_error())
            self._barriers.add(pending)
            pending.add_done_callback(self._barriers.discard)
        watch = EtcdWatch(
            self._conn, self._ns, key or ALL_KEYS, _upper(key), start_revision, pending
        )
        self._watches.add(watch)
        return watch

    async def revision(self) -> int:
        """The current store revision (a linearizable read of the probe key)."""
        response = await self._read(rpc.RangeRequest(key=self._probe, count_only=True))
        return int(response.header.revision)

    async def close(self) -> None:
        """End the watches and close every channel; idempotent."""
        if self._conn.closed:
            return
        self._conn.closed = True
        for task in self._barriers:
            task.cancel()
        await asyncio.gather(*self._barriers, return_exceptions=True)
        for watch in list(self._watches):
            watch.stop()
        await self.compactor.close()
        await self._conn.close()

    # ---- helpers ----
    async def _read(self, request: Any) -> Any:
        self._conn.check_open()
        return await self._conn.unary(lambda e: e.kv.Range, request, idempotent=True)

    async def _write(self, method: Method, request: Any) -> Any:
        self._conn.check_open()
        response = await self._conn.unary(method, request, idempotent=False)
        self.compactor.observe(int(response.header.revision))
        return response

    async def _barrier(self) -> None:
        """Wait until every pending default-start watch has read its start revision."""
        if self._barriers:
            await asyncio.wait(list(self._barriers))

    async def _revision_or_error(self) -> int | MetadataError:
        try:
            return await self.revision()
        except MetadataError as exc:
            return exc

    def _kv(self, kv: Any) -> KeyValue:
        return KeyValue(
            bytes(kv.key)[len(self._ns) :],
            bytes(kv.value),
            int(kv.create_revision),
            int(kv.mod_revision),
            int(kv.version),
        )

    def _compare(self, compare: Compare) -> Any:
        target, field = _TARGETS[compare.target]
        message = rpc.Compare(key=self._ns + compare.key, target=target)
        if compare.range_end is not None:
            message.range_end = self._ns + compare.range_end
        message.result = _RESULTS[compare.op]
        setattr(message, field, compare.value)
        return message

    def _op(self, op: Op) -> Any:
        if isinstance(op, Put):
            return rpc.RequestOp(request_put=rpc.PutRequest(key=self._ns + op.key, value=op.value))
        if isinstance(op, Get):
            return rpc.RequestOp(request_range=rpc.RangeRequest(key=self._ns + op.key))
        if isinstance(op, Delete):
            request = rpc.DeleteRangeRequest(key=self._ns + op.key)
        elif isinstance(op, DeletePrefix):
            key = self._ns + op.prefix
            request = rpc.DeleteRangeRequest(key=key or ALL_KEYS, range_end=_upper(key))
        else:
            raise TypeError(f"not a metadata operation: {op!r}")
        return rpc.RequestOp(request_delete_range=request)


if TYPE_CHECKING:

    def _conforms(store: EtcdStore) -> MetadataStore:
        return store  # mypy proves EtcdStore implements the protocol
