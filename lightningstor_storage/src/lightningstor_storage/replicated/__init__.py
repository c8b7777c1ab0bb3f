"""The replicated backend: chunks on storage nodes, placed by rendezvous hashing, repaired.

:class:`ReplicatedBackend` is the StorageBackend; :class:`Cluster` the nodes it talks to;
:class:`Repairer` the scrub and re-replication it runs (``start_repair``).
"""

from lightningstor_storage.replicated.backend import ReplicatedBackend
from lightningstor_storage.replicated.client import NodeClient, NodeError
from lightningstor_storage.replicated.cluster import Cluster
from lightningstor_storage.replicated.placement import Node, Placement
from lightningstor_storage.replicated.repair import (
    ChunkRefLike,
    Referenced,
    Repairer,
    RepairStats,
)

__all__ = [
    "ChunkRefLike",
    "Cluster",
    "Node",
    "NodeClient",
    "NodeError",
    "Placement",
    "Referenced",
    "RepairStats",
    "Repairer",
    "ReplicatedBackend",
]
