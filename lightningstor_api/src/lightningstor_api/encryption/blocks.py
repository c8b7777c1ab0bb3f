"""AES-256-GCM in independently authenticated blocks: block ``i`` of a chunk is sealed under
nonce ``i`` with the chunk's own data key, so a range read opens only the blocks it touches and
a flipped bit, a swapped or a dropped block fails authentication."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lightningstor_storage import ChunkCorrupt

BLOCK_SIZE = 64 * 1024
"""Plaintext bytes per block: the most a range read decrypts beyond what it returns, per end."""
TAG_SIZE = 16


def sealed_size(plain: int, block_size: int) -> int:
    """Stored bytes of ``plain`` plaintext bytes: each block, the last one short, plus its tag."""
    full, rest = divmod(plain, block_size)
    return full * (block_size + TAG_SIZE) + (rest + TAG_SIZE if rest else 0)


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


class BlockSealer:
    """Seals one chunk's plaintext, fed in pieces of any size, into its blocks in order."""

    __slots__ = ("_aead", "_block", "_index", "_pending")

    def __init__(self, data_key: bytes, block_size: int = BLOCK_SIZE) -> None:
        self._aead = AESGCM(data_key)
        self._block = block_size
        self._index = 0
        self._pending = b""

    def seal(self, data: bytes) -> bytes:
        """The sealed blocks ``data`` completes (a short tail waits for the next piece)."""
        if self._pending:
            data = self._pending + data
        view = memoryview(data)
        whole = len(view) - len(view) % self._block
        out = [self._seal_one(view[i : i + self._block]) for i in range(0, whole, self._block)]
        self._pending = bytes(view[whole:])
        return b"".join(out)

    def finish(self) -> bytes:
        """The last, short block (nothing when the plaintext filled its blocks exactly)."""
        tail, self._pending = self._pending, b""
        return self._seal_one(memoryview(tail)) if tail else b""

    def _seal_one(self, block: memoryview) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._index), bytes(block), None)
        self._index += 1
        return sealed


def open_blocks(data_key: bytes, block_size: int, first_index: int, sealed: bytes) -> bytes:
    """The plaintext of consecutive sealed blocks starting at block ``first_index`` (only the
    last may be short); ChunkCorrupt when one fails authentication."""
    aead = AESGCM(data_key)
    step = block_size + TAG_SIZE
    view = memoryview(sealed)
    out = []
    for n, start in enumerate(range(0, len(view), step)):
        block = view[start : start + step]
        if len(block) <= TAG_SIZE:
            raise ChunkCorrupt(f"sealed block {first_index + n} is truncated")
        try:
            out.append(aead.decrypt(_nonce(first_index + n), bytes(block), None))
        except InvalidTag:
            raise ChunkCorrupt(f"sealed block {first_index + n} fails authentication") from None
    return b"".join(out)
