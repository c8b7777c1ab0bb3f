"""The storage-node process: the local chunk backend behind the ``StorageNode`` gRPC service.

Run it as ``lightningstor-storage-node`` (:mod:`.main`); :func:`serve` is the process's body.
"""

from lightningstor_storage.node.server import serve

__all__ = ["serve"]
