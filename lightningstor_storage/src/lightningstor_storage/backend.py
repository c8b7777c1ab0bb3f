"""The chunk ``StorageBackend`` protocol, its value types and its errors (docs/architecture.md §6).

A chunk is an immutable byte string stored under an opaque id of 32 lowercase hex digits. Ids are
made by :func:`new_chunk_id` and never derive from user input. Errors::

    StorageError
    ├── ChunkNotFound     no chunk has this id
    ├── ChunkCorrupt      the stored bytes do not match their checksums
    ├── ChunkExists       a put named an id that is already stored
    ├── InvalidChunkId    the id is not 32 lowercase hex digits
    └── StorageUnavailable  too few storage nodes answer (replicated backend); retry later
"""

# The error names are the protocol's (no "Error" suffix), shared with the core and the S3 catalog.
# ruff: noqa: N818

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from lightningstor_types.randomness import token_hex

__all__ = [
    "Capabilities",
    "ChunkCheck",
    "ChunkCorrupt",
    "ChunkExists",
    "ChunkInfo",
    "ChunkNotFound",
    "ChunkStat",
    "ChunkState",
    "InvalidChunkId",
    "PolicyKind",
    "StorageBackend",
    "StorageError",
    "StorageUnavailable",
    "new_chunk_id",
    "validate_chunk_id",
]

_CHUNK_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class ChunkInfo:
    """A chunk as written: its size, the CRC32C of all its data, and where it lives.

    ``replicas`` names the storage nodes that acknowledged the write (replicated backend; empty
    for the local one). The core records it as a read hint. ``policy`` is how the distributed
    backend stored it (``""`` replicated, ``"erasure:K+M"``); the core records it and passes it
    back to every read and check of the chunk.
    """

    chunk_id: str
    size: int
    crc32c: int
    replicas: tuple[str, ...] = ()
    policy: str = ""


@dataclass(frozen=True, slots=True)
class ChunkStat:
    """A chunk as listed: size and modification time, for sweeps and scrubbing."""

    chunk_id: str
    size: int
    mtime: float


PolicyKind = Literal["", "replicated", "erasure"]
"""The kind of storage a put asks the distributed backend for; ``""`` = its default."""

ChunkState = Literal["good", "missing", "corrupt", "under_replicated", "unknown"]
"""A referenced chunk as checked: ``good``; ``missing`` (no copy anywhere); ``corrupt`` (copies,
none good); ``under_replicated`` (readable, some copies missing or bad); ``unknown`` (storage
that did not answer leaves it open)."""


@dataclass(frozen=True, slots=True)
class ChunkCheck:
    """What :meth:`StorageBackend.check_chunk` found, and what its repair did."""

    state: ChunkState
    bad_copies: int = 0
    """Copies missing or failing verification where one belongs (replicated backend)."""
    restored: int = 0
    """Copies written back by a repairing check."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend guarantees."""

    name: str
    durable: bool
    verifies_checksums: bool
    replicated: bool
    range_reads: bool


class StorageError(Exception):
    """Base of every chunk storage error."""


class ChunkNotFound(StorageError):
    """No chunk has this id."""


class ChunkCorrupt(StorageError):
    """The stored bytes do not match their checksums."""


class ChunkExists(StorageError):
    """A put named an id that is already stored."""


class InvalidChunkId(StorageError):
    """The id is not 32 lowercase hex digits."""


class StorageUnavailable(StorageError):
    """Too few storage nodes answer to complete the call (a write quorum, any replica)."""


class StorageBackend(Protocol):
    """Where chunks live: put, ranged get, delete, exists and list, all streaming."""

    def capabilities(self) -> Capabilities:
        """What this backend guarantees."""
        ...

    async def put_chunk(
        self, chunk_id: str, data: bytes | AsyncIterable[bytes], *, kind: PolicyKind = ""
    ) -> ChunkInfo:
        """Store a new chunk; return only once it is as durable as ``capabilities()`` says.

        ``kind`` asks the distributed backend for ``"replicated"`` or ``"erasure"`` storage (``""``:
        its default); the local backend has one kind and takes any.
        """
        ...

    def get_chunk(
        self,
        chunk_id: str,
        offset: int = 0,
        length: int | None = None,
        *,
        replicas: Sequence[str] = (),
        policy: str = "",
    ) -> AsyncIterator[bytes]:
        """Verified bytes ``[offset, offset + length)`` of a chunk, in pieces of at most 1 MiB.

        ``replicas`` is a hint: where the chunk was written (``ChunkInfo.replicas``), tried first;
        ``policy`` is the ``ChunkInfo.policy`` it was written with.
        """
        ...

    async def delete_chunk(self, chunk_id: str) -> bool:
        """Remove a chunk; True if it existed."""
        ...

    async def exists(self, chunk_id: str) -> bool:
        """Whether a chunk is stored."""
        ...

    def list_chunks(self) -> AsyncIterator[ChunkStat]:
        """Every stored chunk, in no particular order, with its mtime (for grace periods)."""
        ...

    async def check_chunk(
        self,
        chunk_id: str,
        size: int,
        crc32c: int,
        *,
        replicas: Sequence[str] = (),
        policy: str = "",
        verify: bool = True,
        repair: bool = False,
    ) -> ChunkCheck:
        """Check a referenced chunk against its expected size and CRC32C (read in full when
        ``verify``, else only looked up); with ``repair``, restore what can be restored.
        ``policy`` is the ``ChunkInfo.policy`` it was written with."""
        ...

    async def close(self) -> None:
        """Release the backend's resources."""
        ...


def new_chunk_id() -> str:
    """A fresh random chunk id: 32 lowercase hex digits."""
    return token_hex(16)


def validate_chunk_id(chunk_id: str) -> None:
    """Raise InvalidChunkId unless ``chunk_id`` is exactly 32 lowercase hex digits."""
    if not isinstance(chunk_id, str) or _CHUNK_ID.fullmatch(chunk_id) is None:
        raise InvalidChunkId(f"invalid chunk id {chunk_id!r}")
