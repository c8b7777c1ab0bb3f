"""The fragment layout: stripes of k blocks coded by pyeclib (liberasurecode with ISA-L).

A chunk is cut into stripes of ``k * BLOCK`` bytes (the last one may be shorter); each stripe
is coded into k + m pyeclib fragments (an 80-byte header naming the fragment's index and
carrying a CRC32 of the fragment, then a k-th of the stripe, padded to pyeclib's alignment):
``fragment_size`` bytes for a whole stripe, fewer for a short last one. Fragment i of a chunk,
as a storage node holds it under the chunk's own id, is fragment i of every stripe in order, then
a :class:`Footer` (index, k, m, the chunk's size and CRC32C). So the bytes of stripes [a, b) are
at ``[a * fragment_size, b * fragment_size)`` of each fragment (less at the end): a range read
fetches only those, and a fragment's length gives the stripe count and the last stripe's size.
Fragments 0..k-1 hold the data as it is (systematic code), so decoding from them is a copy, not
arithmetic.

All methods are blocking and meant for a worker thread: pyeclib releases the GIL.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from pyeclib.ec_iface import ECDriver

from lightningstor_storage.backend import ChunkCorrupt
from lightningstor_storage.chunkfile import crc32c

__all__ = ["BLOCK", "EC_TYPE", "FOOTER_SIZE", "Codec", "Footer"]

BLOCK = 256 * 1024
"""Bytes of one data fragment of a stripe."""
EC_TYPE = "isa_l_rs_cauchy"
"""Cauchy Reed-Solomon of ISA-L: unlike isa_l_rs_vand, every k of k + m decode for any m."""
_FOOTER = struct.Struct("<4sBBBBQI")
FOOTER_SIZE = _FOOTER.size
_MAGIC = b"LSEF"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Footer:
    """What ends every fragment file: which fragment it is and of what chunk."""

    index: int
    k: int
    m: int
    size: int
    crc32c: int

    def pack(self) -> bytes:
        return _FOOTER.pack(_MAGIC, _VERSION, self.k, self.m, self.index, self.size, self.crc32c)

    @classmethod
    def unpack(cls, raw: bytes) -> Footer:
        """ChunkCorrupt unless ``raw`` is a footer of this version."""
        if len(raw) != FOOTER_SIZE:
            raise ChunkCorrupt(f"fragment footer of {len(raw)} bytes")
        magic, version, k, m, index, size, crc = _FOOTER.unpack(raw)
        if magic != _MAGIC or version != _VERSION or index >= k + m:
            raise ChunkCorrupt("not an erasure-coded fragment")
        return cls(index, k, m, size, crc)


class Codec:
    """k + m Reed-Solomon over stripes of ``k * BLOCK`` bytes."""

    def __init__(self, k: int, m: int) -> None:
        self.k = k
        self.m = m
        self.driver = ECDriver(k=k, m=m, ec_type=EC_TYPE, chksum_type="inline_crc32")
        self.stripe_size = k * BLOCK
        self.fragment_size = len(self.driver.encode(bytes(self.stripe_size))[0])

    @property
    def n(self) -> int:
        return self.k + self.m

    def stripes(self, size: int) -> int:
        """Stripes of a chunk of ``size`` bytes."""
        return -(-size // self.stripe_size)

    def layout(self, file_size: int) -> tuple[int, int]:
        """(stripes, bytes of the last stripe's fragment) of a fragment file of ``file_size``."""
        body = file_size - FOOTER_SIZE
        if body < 0:
            raise ChunkCorrupt(f"fragment of {file_size} bytes")
        stripes = -(-body // self.fragment_size)
        return stripes, body - (stripes - 1) * self.fragment_size if stripes else 0

    def fits(self, file_size: int, size: int) -> bool:
        """Whether a fragment file of ``file_size`` bytes can belong to a chunk of ``size``."""
        return self.layout(file_size)[0] == self.stripes(size)

    def span(self, a: int, b: int, layout: tuple[int, int]) -> tuple[int, int]:
        """(offset, length) in a fragment file of stripes [a, b)."""
        stripes, last = layout
        f = self.fragment_size
        return a * f, (b - a) * f - (f - last if b == stripes else 0)

    def encode(
        self, data: bytes, chunk_crc: int, crcs: Sequence[int]
    ) -> tuple[list[bytes], int, list[int]]:
        """One stripe's k + m fragments, the chunk's CRC32C and each fragment file's CRC32C
        carried on over them."""
        fragments: list[bytes] = self.driver.encode(data)
        new_crcs = [crc32c(f, c) for f, c in zip(fragments, crcs, strict=True)]
        return fragments, crc32c(data, chunk_crc), new_crcs

    def decode(self, stripes: Sequence[Sequence[bytes]]) -> bytes:
        """The data of consecutive stripes, each given as k (or more) of its fragments."""
        try:
            return b"".join(self.driver.decode(list(fragments)) for fragments in stripes)
        except Exception as exc:  # pyeclib's errors: fragments that do not fit together
            raise ChunkCorrupt(f"stripe does not decode: {exc}") from exc

    def reconstruct(self, stripes: Sequence[Sequence[bytes]], index: int) -> bytes:
        """Fragment ``index`` of consecutive stripes, each given as k of its other fragments."""
        try:
            return b"".join(
                self.driver.reconstruct(list(fragments), [index])[0] for fragments in stripes
            )
        except Exception as exc:
            raise ChunkCorrupt(f"stripe does not reconstruct: {exc}") from exc

    def split(self, raw: bytes) -> list[bytes]:
        """Bytes of a fragment file covering whole stripes, as its stripe-fragments."""
        f = self.fragment_size
        return [raw[at : at + f] for at in range(0, len(raw), f)]
