"""The fragment layout: stripes of k blocks, Reed-Solomon coded by zfec.

A chunk is cut into stripes of ``k * BLOCK`` bytes (the last one may be shorter: its blocks are
a k-th of it, rounded up, the last block padded with zeros). zfec codes each stripe's k data
blocks into m parity blocks (systematic: blocks 0..k-1 are the data itself, so a read of those
only copies). A *stripe-fragment* is an 8-byte header (``EF``, version, fragment index, stripe
number) and one block. Fragment i of a chunk, as a storage node holds it under the chunk's own
id, is stripe-fragment i of every stripe in order, then a :class:`Footer` (index, k, m, the
chunk's size and CRC32C). A whole stripe's fragment is always ``fragment_size`` bytes, so stripes
[a, b) are at ``[a * fragment_size, b * fragment_size)`` of every fragment (less at the end): a
range read fetches only those, and a fragment's length gives the stripe count and the last
stripe's size. The headers tell a reader which fragment a node sent, whatever it expected.

All methods are blocking and meant for a worker thread: zfec releases the GIL while it codes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import zfec  # type: ignore[import-untyped]  # no stubs; used in two methods here

from lightningstor_storage.backend import ChunkCorrupt
from lightningstor_storage.chunkfile import crc32c

__all__ = ["BLOCK", "FOOTER_SIZE", "HEADER_SIZE", "Codec", "Footer"]

BLOCK = 256 * 1024
"""Bytes of one block of a whole stripe."""
_HEADER = struct.Struct("<2sBBI")
HEADER_SIZE = _HEADER.size
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
        self.encoder = zfec.Encoder(k, k + m)
        self.decoder = zfec.Decoder(k, k + m)
        self.stripe_size = k * BLOCK
        self.fragment_size = HEADER_SIZE + BLOCK

    @property
    def n(self) -> int:
        return self.k + self.m

    @property
    def policy(self) -> str:
        """The policy recorded with each chunk coded this way: ``"erasure:K+M"``."""
        return f"erasure:{self.k}+{self.m}"

    @staticmethod
    def parse_policy(policy: str) -> tuple[int, int] | None:
        """(k, m) of a recorded ``"erasure:K+M"`` policy; None for any other."""
        kind, _, shape = policy.partition(":")
        k, _, m = shape.partition("+")
        if kind != "erasure" or not (k.isdigit() and m.isdigit()):
            return None
        return int(k), int(m)

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
        stripes = self.stripes(size)
        if stripes == 0:
            return file_size == FOOTER_SIZE
        last = size - (stripes - 1) * self.stripe_size
        return file_size == (stripes - 1) * self.fragment_size + self._fragment(last) + FOOTER_SIZE

    def span(self, a: int, b: int, layout: tuple[int, int]) -> tuple[int, int]:
        """(offset, length) in a fragment file of stripes [a, b)."""
        stripes, last = layout
        f = self.fragment_size
        return a * f, (b - a) * f - (f - last if b == stripes else 0)

    def _fragment(self, data_size: int) -> int:
        return HEADER_SIZE + -(-data_size // self.k)

    def encode(
        self, data: bytes, stripe: int, chunk_crc: int, crcs: Sequence[int]
    ) -> tuple[list[bytes], int, list[int]]:
        """Stripe number ``stripe``'s k + m stripe-fragments, the chunk's CRC32C and each
        fragment file's CRC32C carried on over them."""
        block = -(-len(data) // self.k)
        blocks = [data[i * block : (i + 1) * block] for i in range(self.k)]
        blocks[-1] = blocks[-1].ljust(block, b"\0")
        blocks += self.encoder.encode(blocks, list(range(self.k, self.n)))
        fragments = [_HEADER.pack(b"EF", _VERSION, i, stripe) + b for i, b in enumerate(blocks)]
        new_crcs = [crc32c(f, c) for f, c in zip(fragments, crcs, strict=True)]
        return fragments, crc32c(data, chunk_crc), new_crcs

    def index(self, fragment: bytes, stripe: int) -> int:
        """The fragment index a stripe-fragment's header names (ChunkCorrupt if not of
        ``stripe``)."""
        if len(fragment) <= HEADER_SIZE:
            raise ChunkCorrupt(f"stripe-fragment of {len(fragment)} bytes")
        magic, version, index, number = _HEADER.unpack_from(fragment)
        if magic != b"EF" or version != _VERSION or index >= self.n or number != stripe:
            raise ChunkCorrupt(f"stripe-fragment header does not fit stripe {stripe}")
        return int(index)

    def _primary(self, fragments: Sequence[bytes], stripe: int) -> list[bytes]:
        """The k data blocks of a stripe from any k of its stripe-fragments."""
        indices = [self.index(f, stripe) for f in fragments[: self.k]]
        blocks = [f[HEADER_SIZE:] for f in fragments[: self.k]]
        if len(set(indices)) != self.k or len({len(b) for b in blocks}) != 1:
            raise ChunkCorrupt(f"stripe {stripe}: stripe-fragments do not fit together")
        if indices == list(range(self.k)):
            return blocks  # the data blocks themselves: nothing to compute
        order = sorted(range(self.k), key=indices.__getitem__)
        decoded: list[bytes] = self.decoder.decode(
            [blocks[i] for i in order], [indices[i] for i in order]
        )
        return decoded

    def decode(self, first: int, stripes: Sequence[Sequence[bytes]]) -> bytes:
        """The data of consecutive stripes from ``first`` on (the last one's padding included),
        each given as k of its stripe-fragments."""
        return b"".join(b"".join(self._primary(s, first + j)) for j, s in enumerate(stripes))

    def reconstruct(self, first: int, stripes: Sequence[Sequence[bytes]], index: int) -> bytes:
        """Fragment ``index`` of consecutive stripes from ``first`` on, each given as k others."""
        out = []
        for j, fragments in enumerate(stripes):
            primary = self._primary(fragments, first + j)
            is_data = index < self.k
            block = primary[index] if is_data else self.encoder.encode(primary, [index])[0]
            out.append(_HEADER.pack(b"EF", _VERSION, index, first + j) + block)
        return b"".join(out)

    def split(self, raw: bytes) -> list[bytes]:
        """Bytes of a fragment file covering whole stripes, as its stripe-fragments."""
        f = self.fragment_size
        return [raw[at : at + f] for at in range(0, len(raw), f)]
