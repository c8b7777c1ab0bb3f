"""``EmbeddedStore``: the metadata protocol on one SQLite file, shareable by several processes.

Layout, locking and watch are described in this package's README. In short: one writer thread
runs every write transaction under ``BEGIN IMMEDIATE`` (so compares and writes are atomic across
processes), a few reader threads serve reads from WAL snapshots, and watches read a changes log
that each write transaction appends to.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lightningstor_api.metadata.group_commit import GroupCommitter
from lightningstor_api.metadata.store import (
    Compare,
    Delete,
    DeletePrefix,
    EventType,
    Get,
    KeyValue,
    MetadataError,
    MetadataStore,
    MetadataUnavailable,
    Op,
    Put,
    RangeResult,
    TxnResult,
    WatchCompacted,
    WatchEvent,
    check_branch,
)
from lightningstor_types.threads import ThreadHop

T = TypeVar("T")

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0
RETAINED_REVISIONS = 10_000
POLL_INTERVAL_S = 0.05
READER_THREADS = 4
WATCH_BATCH = 512
# Write transactions that queue up while a commit runs go into the next one (group commit);
# at most this many per SQLite transaction, which bounds how long the write lock is held.
MAX_BATCH = 256

_PUT, _DELETE = 0, 1
_EVENT_TYPES = {_PUT: EventType.PUT, _DELETE: EventType.DELETE}

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS kv (
        key BLOB PRIMARY KEY, value BLOB NOT NULL, create_revision INTEGER NOT NULL,
        mod_revision INTEGER NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS meta (
        id INTEGER PRIMARY KEY CHECK (id = 0), revision INTEGER NOT NULL,
        compact_revision INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS changes (
        revision INTEGER NOT NULL, idx INTEGER NOT NULL, key BLOB NOT NULL,
        type INTEGER NOT NULL, value BLOB NOT NULL, PRIMARY KEY (revision, idx)) WITHOUT ROWID""",
    # etcd starts at revision 1 too: the first write gets revision 2.
    "INSERT OR IGNORE INTO meta VALUES (0, 1, 1)",
)
_GET = "SELECT key, value, create_revision, mod_revision, version FROM kv WHERE key = ?"
_RANGE_FROM = """SELECT key, value, create_revision, mod_revision, version FROM kv
    WHERE key >= ? ORDER BY key LIMIT ?"""
_RANGE_BETWEEN = """SELECT key, value, create_revision, mod_revision, version FROM kv
    WHERE key >= ? AND key < ? ORDER BY key LIMIT ?"""
_KEYS_FROM = "SELECT key FROM kv WHERE key >= ? ORDER BY key"
_KEYS_BETWEEN = "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key"
_DELETE_FROM = "DELETE FROM kv WHERE key >= ?"
_DELETE_BETWEEN = "DELETE FROM kv WHERE key >= ? AND key < ?"
_META = "SELECT revision, compact_revision FROM meta"
_UPSERT = """INSERT INTO kv VALUES (?1, ?2, ?3, ?3, 1) ON CONFLICT (key) DO UPDATE SET
    value = excluded.value, mod_revision = excluded.mod_revision, version = version + 1"""
# Watch reads: from a revision, under a prefix (with or without an upper bound), in log order.
_CHANGES_FROM = """SELECT revision, idx, key, type, value FROM changes
    WHERE revision >= ?1 AND key >= ?2 ORDER BY revision, idx LIMIT ?3"""
_CHANGES_BETWEEN = """SELECT revision, idx, key, type, value FROM changes
    WHERE revision >= ?1 AND key >= ?2 AND key < ?4 ORDER BY revision, idx LIMIT ?3"""
_REST_FROM = """SELECT revision, idx, key, type, value FROM changes
    WHERE revision = ?1 AND idx > ?3 AND key >= ?2 ORDER BY idx"""
_REST_BETWEEN = """SELECT revision, idx, key, type, value FROM changes
    WHERE revision = ?1 AND idx > ?3 AND key >= ?2 AND key < ?4 ORDER BY idx"""

Change = tuple[int, int, bytes, int, bytes]


def _upper(prefix: bytes) -> bytes | None:
    """``prefix_end(prefix)``, or ``None`` when no key bounds the prefix from above."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1]) if stripped else None


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """SQLite errors become metadata errors at this boundary."""
    try:
        yield
    except sqlite3.OperationalError as exc:  # locked past the timeout, I/O error, disk full
        raise MetadataUnavailable(f"sqlite: {exc}") from exc
    except sqlite3.Error as exc:
        raise MetadataError(f"sqlite: {exc}") from exc


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    # Each connection is used by one thread at a time; check_same_thread=False only lets close()
    # run from the writer thread at shutdown.
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _open_writer(path: Path) -> sqlite3.Connection:
    """Connect, switch to WAL and create or check the schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(path)
    try:
        (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if str(mode).lower() != "wal":
            raise MetadataError(f"{path}: SQLite refused WAL mode (journal_mode={mode})")
        with _transaction(conn, "BEGIN IMMEDIATE"):
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version not in (0, SCHEMA_VERSION):
                raise MetadataError(f"{path}: unknown metadata schema version {version}")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
    return conn


def write_lock_path(path: Path) -> Path:
    """The file whose ``flock`` the processes sharing ``path`` take around each write batch."""
    return path.with_name(path.name + ".write-lock")


@contextlib.contextmanager
def _write_lock(fd: int) -> Iterator[None]:
    """Hold the processes' write lock: a process waiting for it sleeps in the kernel and is
    woken as the holder's commit ends, where SQLite's busy handler polls with sleeps of up to
    100 ms (two processes writing at once saw p99 PUT latencies of 440 ms). SQLite's own lock
    still guards the file; this only decides who tries next."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _read_revision(conn: sqlite3.Connection) -> int:
    (revision,) = conn.execute("SELECT revision FROM meta").fetchone()
    return int(revision)


def _get(conn: sqlite3.Connection, key: bytes) -> KeyValue | None:
    row = conn.execute(_GET, (key,)).fetchone()
    return KeyValue(*row) if row else None


def _holds(conn: sqlite3.Connection, compare: Compare) -> bool:
    if compare.range_end is None:
        return compare.holds(_get(conn, compare.key))
    rows = conn.execute(_RANGE_BETWEEN, (compare.key, compare.range_end, -1))
    found = False
    for row in rows:
        found = True
        if not compare.holds(KeyValue(*row)):
            return False
    return found or compare.holds(None)


def _range(conn: sqlite3.Connection, lo: bytes, hi: bytes | None, limit: int) -> RangeResult:
    # One read transaction, so the revision and the keys come from the same snapshot.
    fetch = limit + 1 if limit else -1  # one extra row tells whether there is more
    with _transaction(conn, "BEGIN"):
        revision = _read_revision(conn)
        if hi is None:
            rows = conn.execute(_RANGE_FROM, (lo, fetch)).fetchall()
        else:
            rows = conn.execute(_RANGE_BETWEEN, (lo, hi, fetch)).fetchall()
    more = bool(limit) and len(rows) > limit
    if more:
        rows = rows[:limit]
    return RangeResult(list(map(KeyValue._make, rows)), more, revision)


def _apply(
    conn: sqlite3.Connection, op: Op, revision: int, changes: list[Change]
) -> KeyValue | int | None:
    """Apply one operation at ``revision``, logging what changed; returns its response."""
    if isinstance(op, Put):
        conn.execute(_UPSERT, (op.key, op.value, revision))
        changes.append((revision, len(changes), op.key, _PUT, op.value))
        return None
    if isinstance(op, Get):
        return _get(conn, op.key)
    if isinstance(op, Delete):
        if conn.execute("DELETE FROM kv WHERE key = ?", (op.key,)).rowcount:
            changes.append((revision, len(changes), op.key, _DELETE, b""))
            return 1
        return 0
    if not isinstance(op, DeletePrefix):
        raise TypeError(f"not a metadata operation: {op!r}")
    hi = _upper(op.prefix)
    if hi is None:
        keys = [key for (key,) in conn.execute(_KEYS_FROM, (op.prefix,))]
        conn.execute(_DELETE_FROM, (op.prefix,))
    else:
        keys = [key for (key,) in conn.execute(_KEYS_BETWEEN, (op.prefix, hi))]
        conn.execute(_DELETE_BETWEEN, (op.prefix, hi))
    base = len(changes)
    changes.extend((revision, base + i, key, _DELETE, b"") for i, key in enumerate(keys))
    return len(keys)


class _RevisionRead:
    """A batch item that reads the revision where it stands in the queue (watch's default start)."""


_REVISION_READ = _RevisionRead()
_Batched = tuple[Sequence[Compare], Sequence[Op], Sequence[Op]] | _RevisionRead


def _txn_batch(
    conn: sqlite3.Connection, items: Sequence[_Batched], retained: int
) -> list[TxnResult | int | BaseException]:
    """Run queued transactions in order in one SQLite transaction: one COMMIT, one fsync.

    Each keeps its own compares, revision and savepoint: an exception rolls back only that
    transaction and is its caller's answer. The revision is read and bumped under the write lock.
    """
    outcomes: list[TxnResult | int | BaseException] = []
    with _transaction(conn, "BEGIN IMMEDIATE"):
        revision, compact = conn.execute(_META).fetchone()
        for item in items:
            if isinstance(item, _RevisionRead):
                outcomes.append(revision)
                continue
            conn.execute("SAVEPOINT txn")
            try:
                result, compact = _txn(conn, *item, revision, compact, retained)
            except Exception as exc:
                if not conn.in_transaction:  # SQLite gave up the whole transaction
                    raise
                conn.execute("ROLLBACK TO txn")
                conn.execute("RELEASE txn")
                outcomes.append(exc)
                continue
            conn.execute("RELEASE txn")
            revision = result.revision
            outcomes.append(result)
    return outcomes


def _txn(
    conn: sqlite3.Connection,
    compares: Sequence[Compare],
    success: Sequence[Op],
    failure: Sequence[Op],
    revision: int,
    compact: int,
    retained: int,
) -> tuple[TxnResult, int]:
    """One transaction at store ``revision``: its result and the new compact revision."""
    succeeded = all(_holds(conn, compare) for compare in compares)
    changes: list[Change] = []
    new = revision + 1
    responses = [_apply(conn, op, new, changes) for op in (success if succeeded else failure)]
    if changes:
        revision = new
        conn.execute("UPDATE meta SET revision = ?", (new,))
        conn.executemany("INSERT INTO changes VALUES (?, ?, ?, ?, ?)", changes)
        # Prune in steps of a tenth of the retention so the cost is amortized.
        if new - compact >= retained + max(1, retained // 10):
            compact = new - retained + 1
            conn.execute("DELETE FROM changes WHERE revision < ?", (compact,))
            conn.execute("UPDATE meta SET compact_revision = ?", (compact,))
    return TxnResult(succeeded, revision, responses), compact


def _changes(
    conn: sqlite3.Connection, lo: bytes, hi: bytes | None, start: int
) -> tuple[list[WatchEvent], int, int]:
    """Events under a prefix from revision ``start``: (events, next start, store revision)."""
    with _transaction(conn, "BEGIN"):
        revision, compact = conn.execute(_META).fetchone()
        if start < compact:
            raise WatchCompacted(start, compact)
        if hi is None:
            rows = conn.execute(_CHANGES_FROM, (start, lo, WATCH_BATCH)).fetchall()
        else:
            rows = conn.execute(_CHANGES_BETWEEN, (start, lo, WATCH_BATCH, hi)).fetchall()
        if len(rows) < WATCH_BATCH:
            following = max(start, revision + 1)
        else:  # finish the last revision so that a batch never ends inside one
            last, idx = rows[-1][0], rows[-1][1]
            if hi is None:
                rows += conn.execute(_REST_FROM, (last, lo, idx)).fetchall()
            else:
                rows += conn.execute(_REST_BETWEEN, (last, lo, idx, hi)).fetchall()
            following = last + 1
    events = [WatchEvent(_EVENT_TYPES[kind], key, value, rev) for rev, _, key, kind, value in rows]
    return events, following, int(revision)


class EmbeddedStore:
    """The metadata store on one SQLite file (WAL, ``synchronous=FULL``)."""

    _wconn: sqlite3.Connection  # the writer thread's connection, set by open()
    _lock_fd: int  # the write lock's file (write_lock_path), set by open()

    def __init__(
        self, path: Path, *, readers: int, poll_interval: float, retained_revisions: int
    ) -> None:
        """Use :meth:`open`."""
        self.path = path
        self._poll_interval = poll_interval
        self._retained = retained_revisions
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="lightningstor-meta-writer")
        self._readers = ThreadHop(readers, "lightningstor-meta-read")
        self._commits: GroupCommitter[_Batched, TxnResult | int] = GroupCommitter(
            self._writer, self._run_batch, max_batch=MAX_BATCH
        )
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._known_revision = 0  # the newest revision this process has written or seen
        self._waiters: set[asyncio.Event] = set()
        self._poller: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        readers: int = READER_THREADS,
        poll_interval: float = POLL_INTERVAL_S,
        retained_revisions: int = RETAINED_REVISIONS,
    ) -> EmbeddedStore:
        """Open (creating if needed) the store at ``path``."""
        if readers < 1 or retained_revisions < 1 or poll_interval <= 0:
            raise ValueError("readers, retained_revisions and poll_interval must be positive")
        store = cls(
            path,
            readers=readers,
            poll_interval=poll_interval,
            retained_revisions=retained_revisions,
        )
        loop = asyncio.get_running_loop()
        try:
            with _translated():
                store._wconn = await loop.run_in_executor(store._writer, _open_writer, path)
            store._lock_fd = os.open(write_lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
        except BaseException:
            if hasattr(store, "_wconn"):
                store._wconn.close()
            store._closed = True
            store._writer.shutdown(wait=True)
            store._readers.shutdown(wait=True)
            raise
        return store

    async def get(self, key: bytes) -> KeyValue | None:
        """The key, or ``None`` when absent."""
        return await self._read(partial(_get, key=key))

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
        lo = prefix if start is None or start < prefix else start
        hi = _upper(prefix)
        if end is not None and (hi is None or end < hi):
            hi = end
        result = await self._read(partial(_range, lo=lo, hi=hi, limit=limit))
        self._observe(result.revision)
        return result

    async def put(self, key: bytes, value: bytes) -> int:
        """Set ``key``; returns the new store revision."""
        return (await self.txn((), (Put(key, value),))).revision

    async def delete(self, key: bytes) -> bool:
        """Delete ``key``; returns whether it existed."""
        return bool((await self.txn((), (Delete(key),))).responses[0])

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        """Run ``success`` if every compare holds, else ``failure``, atomically."""
        compares, success, failure = tuple(compares), tuple(success), tuple(failure)
        check_branch(success)
        check_branch(failure)
        self._check_open()
        with _translated():
            result = await self._commits.submit((compares, success, failure))
        assert isinstance(result, TxnResult)
        # If the caller is cancelled before this line, the poller still reports the write.
        self._observe(result.revision)
        return result

    @property
    def write_batches(self) -> int:
        """SQLite write transactions run so far; concurrent txns share one (group commit)."""
        return self._commits.batches

    def watch(
        self, prefix: bytes, *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Changes under ``prefix`` from ``start_revision`` on (default: after this call)."""
        self._check_open()
        if start_revision is not None:
            if start_revision < 1:
                raise ValueError("start_revision must be >= 1")
            return _Watch(self, prefix, start_revision, None)
        # Queued with the writes, so it reads before any write this process makes later.
        return _Watch(self, prefix, None, self._commits.submit(_REVISION_READ))

    async def revision(self) -> int:
        """The current store revision."""
        revision = await self._read(_read_revision)
        self._observe(revision)
        return revision

    async def pragmas(self) -> dict[str, Any]:
        """The SQLite settings in effect on the writer connection (for operators and tests)."""
        self._check_open()
        names = ("journal_mode", "synchronous", "busy_timeout")

        def read(conn: sqlite3.Connection) -> dict[str, Any]:
            return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names}

        loop = asyncio.get_running_loop()
        with _translated():
            return await loop.run_in_executor(self._writer, read, self._wconn)

    async def close(self) -> None:
        """Stop watches and threads and close every connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        # The writer thread runs the shutdown so no join or checkpoint blocks the event loop;
        # queued writes run first.
        try:
            await asyncio.get_running_loop().run_in_executor(self._writer, self._shutdown)
        finally:
            self._writer.shutdown(wait=True)  # its only thread is done with its last task

    def _run_batch(self, items: Sequence[_Batched]) -> list[TxnResult | int | BaseException]:
        with _write_lock(self._lock_fd):
            return _txn_batch(self._wconn, items, self._retained)

    def _shutdown(self) -> None:
        self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()
        self._wconn.close()  # last: the last connection to close checkpoints the WAL
        os.close(self._lock_fd)

    # ---- threads ----
    def _check_open(self) -> None:
        if self._closed:
            raise MetadataUnavailable(f"metadata store {self.path} is closed")

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        with _translated():
            return await self._readers.run(self._on_reader, fn)

    def _on_reader(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only = ON")
            with self._lock:
                self._reader_conns.append(conn)
            self._local.conn = conn
        return fn(conn)

    # ---- watch support ----
    def _observe(self, revision: int) -> None:
        """Note a revision this process saw; wake the watches when it is new."""
        if revision > self._known_revision:
            self._known_revision = revision
            self._wake()

    def _wake(self) -> None:
        for event in self._waiters:
            event.set()

    async def _wait(self) -> None:
        """Sleep until a write of this process, or a poll, reports a newer revision."""
        event = asyncio.Event()
        self._waiters.add(event)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        try:
            await event.wait()
        finally:
            self._waiters.discard(event)

    async def _poll(self) -> None:
        """While a watch waits, notice writes made by other processes."""
        while self._waiters and not self._closed:
            await asyncio.sleep(self._poll_interval)
            try:
                revision = await self._read(_read_revision)
            except MetadataError:
                self._wake()  # each watch retries the read and reports the error itself
                continue
            self._observe(revision)


class _Watch(AsyncIterator[WatchEvent]):
    """An iterator over the changes log; it ends when the store closes or on :meth:`aclose`."""

    def __init__(
        self,
        store: EmbeddedStore,
        prefix: bytes,
        start: int | None,
        pending: asyncio.Future[TxnResult | int] | None,
    ) -> None:
        self._store = store
        self._lo, self._hi = prefix, _upper(prefix)
        self._next = start
        self._pending = pending
        self._buffer: deque[WatchEvent] = deque()
        self._stopped = False

    async def __anext__(self) -> WatchEvent:
        store = self._store
        must_read = True  # the first look always reads: other processes may have written
        while not self._buffer:
            if self._stopped or store._closed:
                raise StopAsyncIteration
            if self._next is None:
                assert self._pending is not None
                with _translated():
                    # Shielded: a cancelled __anext__ must not cancel the read for the next one.
                    current = await asyncio.shield(self._pending)
                assert isinstance(current, int)
                self._next = current + 1
                continue  # the store may have closed meanwhile
            if must_read:
                read = partial(_changes, lo=self._lo, hi=self._hi, start=self._next)
                events, self._next, revision = await store._read(read)
                self._buffer.extend(events)
                store._observe(revision)
                must_read = False
            elif store._known_revision >= self._next:
                must_read = True  # a write finished while we were reading
            else:
                await store._wait()
                must_read = True
        return self._buffer.popleft()

    async def aclose(self) -> None:
        """Stop this watch."""
        self._stopped = True
        self._buffer.clear()
        self._store._wake()  # a task waiting in __anext__ sees the stop


if TYPE_CHECKING:

    def _conforms(store: EmbeddedStore) -> MetadataStore:
        return store  # mypy proves EmbeddedStore implements the protocol
