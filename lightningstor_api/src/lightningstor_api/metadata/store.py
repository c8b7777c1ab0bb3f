"""The ordered key-value protocol the core stores its metadata in (docs/architecture.md §5).

Semantics follow etcd v3 so that the embedded and the etcd implementation are interchangeable:
one global revision, bumped once per write transaction that changes something; per key a
``create_revision``, a ``mod_revision`` and a ``version`` (puts since creation).

Errors::

    MetadataError               anything the store reports
    ├── MetadataUnavailable     the store cannot be reached (closed, I/O error, lock timeout,
    │                           no etcd quorum); also the catalog's ServiceUnavailable
    └── WatchCompacted          a watch asked for revisions that were pruned

A malformed transaction (the same key put twice, or put and deleted, in one branch, as etcd
refuses) raises ``ValueError``: it is a bug in the caller, never a runtime condition.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple, Protocol, TypeAlias

from lightningstor_types.errors import ServiceUnavailable


class MetadataError(Exception):
    """The metadata store failed."""


class MetadataUnavailable(MetadataError, ServiceUnavailable, variant=True):  # noqa: N818
    """The metadata store cannot be reached (etcd without quorum, closed, I/O error).

    Also the catalog's ``ServiceUnavailable`` (HTTP 503, gRPC UNAVAILABLE): a client may retry,
    and the frontends answer it like any catalog error, without a traceback.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(f"the metadata store is unavailable, retry later: {detail}")
        self.detail = detail


class WatchCompacted(MetadataError):  # noqa: N818  # etcd's name (ErrCompacted)
    """The watch's start revision is older than the oldest change the store still keeps."""

    def __init__(self, start_revision: int, compact_revision: int) -> None:
        super().__init__(
            f"revision {start_revision} was compacted; changes are kept from {compact_revision}"
        )
        self.start_revision = start_revision
        self.compact_revision = compact_revision


class KeyValue(NamedTuple):
    """A key as stored, with its etcd-style revisions.

    A named tuple, not a frozen dataclass: a range read builds one per row, and the dataclass's
    five guarded assignments made that ~1 µs a row, a tenth of a 1,000-key listing page.
    """

    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int


@dataclass(frozen=True, slots=True)
class RangeResult:
    """One page of a range read."""

    kvs: list[KeyValue]
    more: bool
    revision: int


class CompareTarget(Enum):
    """What a :class:`Compare` looks at."""

    VALUE = "value"
    VERSION = "version"
    CREATE = "create"
    MOD = "mod"


class CompareOp(Enum):
    """How a :class:`Compare` compares the stored side (left) with its value (right)."""

    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER = ">"
    LESS = "<"


@dataclass(frozen=True, slots=True)
class Compare:
    """A condition of a transaction; a missing key compares as 0, and fails any VALUE compare.

    With ``range_end``, as etcd: every key in ``[key, range_end)`` must satisfy it, and an
    empty range compares as one missing key.
    """

    key: bytes
    target: CompareTarget
    op: CompareOp
    value: bytes | int
    range_end: bytes | None = None

    def __post_init__(self) -> None:
        # A bytes/int mix-up would silently compare unequal; catch it where it is written.
        if self.target is CompareTarget.VALUE:
            if not isinstance(self.value, bytes):
                raise TypeError("a VALUE compare takes bytes")
        elif not isinstance(self.value, int):
            raise TypeError(f"a {self.target.name} compare takes an int")
        if self.range_end is not None and self.range_end <= self.key:
            raise ValueError("a range compare needs range_end > key")

    @classmethod
    def absent(cls, key: bytes) -> Compare:
        """True when ``key`` does not exist."""
        return cls(key, CompareTarget.CREATE, CompareOp.EQUAL, 0)

    @classmethod
    def mod_revision(cls, key: bytes, revision: int) -> Compare:
        """True when ``key`` was last modified at ``revision`` (0: the key does not exist)."""
        return cls(key, CompareTarget.MOD, CompareOp.EQUAL, revision)

    @classmethod
    def none_in(cls, start: bytes, end: bytes) -> Compare:
        """True when no key lies in ``[start, end)``."""
        return cls(start, CompareTarget.CREATE, CompareOp.EQUAL, 0, range_end=end)

    @classmethod
    def exists(cls, key: bytes) -> Compare:
        """True when ``key`` exists."""
        return cls(key, CompareTarget.CREATE, CompareOp.GREATER, 0)

    @classmethod
    def value_equals(cls, key: bytes, value: bytes) -> Compare:
        """True when ``key`` exists and holds ``value``."""
        return cls(key, CompareTarget.VALUE, CompareOp.EQUAL, value)

    def holds(self, kv: KeyValue | None) -> bool:
        """Evaluate against the key as currently stored (``None``: absent), as etcd does."""
        stored: bytes | int
        if self.target is CompareTarget.VALUE:
            if kv is None:
                return False
            stored = kv.value
        elif self.target is CompareTarget.VERSION:
            stored = kv.version if kv else 0
        elif self.target is CompareTarget.CREATE:
            stored = kv.create_revision if kv else 0
        else:
            stored = kv.mod_revision if kv else 0
        return _OPS[self.op](stored, self.value)


def _eq(a: bytes | int, b: bytes | int) -> bool:
    return a == b


def _ne(a: bytes | int, b: bytes | int) -> bool:
    return a != b


def _gt(a: bytes | int, b: bytes | int) -> bool:
    return a > b  # type: ignore[operator]  # same type, checked in Compare.__post_init__


def _lt(a: bytes | int, b: bytes | int) -> bool:
    return a < b  # type: ignore[operator]  # same type, checked in Compare.__post_init__


_OPS = {CompareOp.EQUAL: _eq, CompareOp.NOT_EQUAL: _ne, CompareOp.GREATER: _gt, CompareOp.LESS: _lt}


@dataclass(frozen=True, slots=True)
class Put:
    """Set ``key`` to ``value``."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete ``key`` (no-op when absent)."""

    key: bytes


@dataclass(frozen=True, slots=True)
class DeletePrefix:
    """Delete every key starting with ``prefix``, as one operation."""

    prefix: bytes


@dataclass(frozen=True, slots=True)
class Get:
    """Read ``key`` inside a transaction (sees the branch's earlier writes)."""

    key: bytes


Op: TypeAlias = Put | Delete | DeletePrefix | Get


@dataclass(frozen=True, slots=True)
class TxnResult:
    """The branch taken and one response per operation of that branch.

    ``Get`` → ``KeyValue | None``; ``Put`` → ``None``; ``Delete``/``DeletePrefix`` → keys deleted.
    """

    succeeded: bool
    revision: int
    responses: list[KeyValue | int | None]


class EventType(Enum):
    """The kind of change a :class:`WatchEvent` reports."""

    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change of one key; ``value`` is ``b""`` for a DELETE."""

    type: EventType
    key: bytes
    value: bytes
    mod_revision: int


class MetadataStore(Protocol):
    """An ordered key-value store with etcd v3 semantics."""

    async def get(self, key: bytes) -> KeyValue | None:
        """The key, or ``None`` when absent."""
        ...

    async def range(
        self,
        prefix: bytes,
        *,
        start: bytes | None = None,
        end: bytes | None = None,
        limit: int = 0,
    ) -> RangeResult:
        """Keys starting with ``prefix`` in ``[start, end)``, ascending by bytes; limit 0: all."""
        ...

    async def put(self, key: bytes, value: bytes) -> int:
        """Set ``key``; returns the new store revision."""
        ...

    async def delete(self, key: bytes) -> bool:
        """Delete ``key``; returns whether it existed."""
        ...

    async def txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()
    ) -> TxnResult:
        """Run ``success`` if every compare holds, else ``failure``, atomically."""
        ...

    def watch(
        self, prefix: bytes, *, start_revision: int | None = None
    ) -> AsyncIterator[WatchEvent]:
        """Changes under ``prefix`` from ``start_revision`` on (default: after this call)."""
        ...

    async def revision(self) -> int:
        """The current store revision."""
        ...

    async def close(self) -> None:
        """Release the store; running watches end."""
        ...


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with ``prefix`` (etcd's range_end).

    Raises ``ValueError`` when no such key exists (``prefix`` empty or only ``0xff`` bytes).
    """
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        raise ValueError(f"no key is greater than every key starting with {prefix!r}")
    return stripped[:-1] + bytes([stripped[-1] + 1])


async def range_pages(
    store: MetadataStore, prefix: bytes, *, limit: int, start: bytes | None = None
) -> AsyncGenerator[RangeResult, None]:
    """Every key under ``prefix`` (from ``start`` on), one range of at most ``limit`` keys at a
    time."""
    while True:
        page = await store.range(prefix, start=start, limit=limit)
        yield page
        if not page.more or not page.kvs:
            return
        start = page.kvs[-1].key + b"\x00"


def check_branch(ops: Sequence[Op]) -> None:
    """Refuse a branch that writes one key twice, as etcd does ("duplicate key given in txn")."""
    puts: set[bytes] = set()
    deleted: set[bytes] = set()
    prefixes: list[bytes] = []
    for op in ops:
        if isinstance(op, Delete):
            deleted.add(op.key)
        elif isinstance(op, DeletePrefix):
            prefixes.append(op.prefix)
    for op in ops:
        if not isinstance(op, Put):
            continue
        if op.key in puts or op.key in deleted or any(op.key.startswith(p) for p in prefixes):
            raise ValueError(f"key {op.key!r} is written twice in one transaction branch")
        puts.add(op.key)
