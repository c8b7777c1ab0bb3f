"""AES-256-GCM in independently authenticated blocks: block ``i`` of a chunk is sealed under
nonce ``i`` with the chunk's own data key, so a range read opens only the blocks it touches and
a flipped bit, a swapped or a dropped block fails authentication.

Both directions take pieces of any size and cut blocks out of them as memoryviews: AES-GCM
reads its input in place and writes a fresh output, so the only other copy of the data is the
one join of each batch's output (and of a block that straddles two pieces)."""

from __future__ import annotations

from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lightningstor_storage import ChunkCorrupt

BLOCK_SIZE = 64 * 1024
"""Plaintext bytes per block: the most a range read decrypts beyond what it returns, per end."""
TAG_SIZE = 16

Buffer = bytes | bytearray | memoryview


def sealed_size(plain: int, block_size: int) -> int:
    """Stored bytes of ``plain`` plaintext bytes: each block, the last one short, plus its tag."""
    full, rest = divmod(plain, block_size)
    return full * (block_size + TAG_SIZE) + (rest + TAG_SIZE if rest else 0)


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


class _Blocks:
    """Cuts pieces of any size into units of ``unit`` bytes, in order, and hands each to
    ``_one``; a unit that straddles pieces is the only one gathered into a buffer."""

    __slots__ = ("_aead", "_index", "_pending", "_unit")

    def __init__(self, data_key: bytes, unit: int, first_index: int) -> None:
        self._aead = AESGCM(data_key)
        self._unit = unit
        self._index = first_index
        self._pending = bytearray()

    def _one(self, unit: Buffer) -> bytes:
        raise NotImplementedError

    def _last(self, unit: Buffer) -> bytes:
        return self._one(unit)

    def _feed(self, pieces: Iterable[Buffer], *, last: bool = False) -> bytes:
        """The output of the whole units ``pieces`` complete (and, when ``last``, of the
        short unit left over), joined once."""
        unit, out = self._unit, []
        for piece in pieces:
            view = memoryview(piece)
            if self._pending:
                take = unit - len(self._pending)
                self._pending += view[:take]
                view = view[take:]
                if len(self._pending) < unit:
                    continue
                out.append(self._one(self._pending))
                self._pending = bytearray()
            whole = len(view) - len(view) % unit
            out.extend(self._one(view[i : i + unit]) for i in range(0, whole, unit))
            if whole < len(view):
                self._pending = bytearray(view[whole:])
        if last and self._pending:
            tail, self._pending = self._pending, bytearray()
            out.append(self._last(tail))
        return out[0] if len(out) == 1 else b"".join(out)


class BlockSealer(_Blocks):
    """Seals one chunk's plaintext, fed in pieces of any size, into its blocks in order."""

    __slots__ = ()

    def __init__(self, data_key: bytes, block_size: int = BLOCK_SIZE) -> None:
        super().__init__(data_key, block_size, 0)

    def seal(self, data: Buffer) -> bytes:
        """The sealed blocks ``data`` completes (a short tail waits for the next piece)."""
        return self._feed((data,))

    def seal_pieces(self, pieces: Iterable[Buffer], *, last: bool = False) -> bytes:
        """:meth:`seal` of several pieces, joined once (one worker-thread call for a batch);
        with ``last``, :meth:`finish` too."""
        return self._feed(pieces, last=last)

    def finish(self) -> bytes:
        """The last, short block (nothing when the plaintext filled its blocks exactly)."""
        return self._feed((), last=True)

    def _one(self, block: Buffer) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._index), block, None)
        self._index += 1
        return sealed


class BlockOpener(_Blocks):
    """Opens consecutive sealed blocks from block ``first_index`` on, fed in pieces of any
    size; ChunkCorrupt as soon as one fails authentication (its plaintext is never returned)."""

    __slots__ = ()

    def __init__(self, data_key: bytes, block_size: int, first_index: int) -> None:
        super().__init__(data_key, block_size + TAG_SIZE, first_index)

    def open_pieces(self, pieces: Iterable[Buffer], *, last: bool = False) -> bytes:
        """The plaintext of the whole blocks these pieces complete; with ``last`` (the pieces
        end the fetched blocks), of the short last block too."""
        return self._feed(pieces, last=last)

    def _last(self, block: Buffer) -> bytes:
        if len(block) <= TAG_SIZE:
            raise ChunkCorrupt(f"sealed block {self._index} is truncated")
        return self._one(block)

    def _one(self, block: Buffer) -> bytes:
        try:
            plain = self._aead.decrypt(_nonce(self._index), block, None)
        except InvalidTag:
            raise ChunkCorrupt(f"sealed block {self._index} fails authentication") from None
        self._index += 1
        return plain


def open_blocks(data_key: bytes, block_size: int, first_index: int, sealed: Buffer) -> bytes:
    """The plaintext of consecutive sealed blocks starting at block ``first_index`` (only the
    last may be short); ChunkCorrupt when one fails authentication."""
    return BlockOpener(data_key, block_size, first_index).open_pieces((sealed,), last=True)
