"""LightningStor chunk storage: the StorageBackend protocol and its backends."""

from lightningstor_storage.backend import (
    Capabilities,
    ChunkCheck,
    ChunkCorrupt,
    ChunkExists,
    ChunkInfo,
    ChunkNotFound,
    ChunkStat,
    ChunkState,
    InvalidChunkId,
    PolicyKind,
    StorageBackend,
    StorageError,
    StorageUnavailable,
    new_chunk_id,
    validate_chunk_id,
)
from lightningstor_storage.factory import open_backend
from lightningstor_storage.local import LocalBackend

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
    "LocalBackend",
    "PolicyKind",
    "StorageBackend",
    "StorageError",
    "StorageUnavailable",
    "new_chunk_id",
    "open_backend",
    "validate_chunk_id",
]
