"""Erasure-coded chunks: k data + m parity Reed-Solomon fragments, one per storage node.

:class:`ErasureBackend` is the StorageBackend (the replicated backend's cluster, placement,
deletes, listing and probes, with its own put, get and repair); :class:`Codec` the fragment
layout over zfec; :class:`ErasureRepairer` the fragment scrub and rebuild.
"""

from lightningstor_storage.erasure.backend import ErasureBackend, ReadStats
from lightningstor_storage.erasure.codec import Codec, Footer
from lightningstor_storage.erasure.repair import ErasureRepairer

__all__ = ["Codec", "ErasureBackend", "ErasureRepairer", "Footer", "ReadStats"]
