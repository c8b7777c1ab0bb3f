"""``open_backend``: the chunk backend a configuration names (``[storage] backend``)."""

from __future__ import annotations

from lightningstor_storage.backend import StorageBackend
from lightningstor_storage.local import LocalBackend
from lightningstor_types.config import Settings

__all__ = ["open_backend"]


def open_backend(settings: Settings) -> StorageBackend:
    """``local``: chunk files under ``storage.local_dir``; ``distributed``: the storage nodes,
    each chunk replicated or erasure-coded as its storage class's policy says, read back by the
    policy recorded with it (:class:`~lightningstor_storage.policies.PolicyBackend`).

    Opening connects nothing yet (channels connect on first use), so it cannot fail on a node
    that is down; the replicated backend's background repair is started by its owner
    (``ReplicatedBackend.start_repair``).
    """
    storage = settings.storage
    if storage.backend == "distributed":
        from lightningstor_storage.policies import PolicyBackend

        return PolicyBackend.from_settings(storage.distributed)
    return LocalBackend(storage.local_path(settings), shard_depth=storage.shard_depth)
