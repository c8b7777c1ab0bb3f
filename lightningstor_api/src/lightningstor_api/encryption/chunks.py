"""Sealed chunks: a fresh data key per chunk on the way in, the blocks a slice touches opened
on the way out. The storage backends only ever see the sealed bytes."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from functools import partial

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.encryption.blocks import (
    BLOCK_SIZE,
    TAG_SIZE,
    BlockOpener,
    BlockSealer,
    sealed_size,
)
from lightningstor_api.encryption.keymaster import KeyManager, UnknownKeyError
from lightningstor_storage import ChunkCorrupt, StorageBackend
from lightningstor_types.checksums import THREAD_THRESHOLD
from lightningstor_types.threads import ThreadHop

BATCH = 1024 * 1024
"""Bytes gathered before one worker-thread call that seals or opens them all (AES-GCM releases
the GIL). The size of the local backend's writes and reads: a sealed batch is written without
another join, and a larger output no longer stays in the CPU's cache while it is joined
(scripts/bench_sse_blocks.py: 2 MiB cost more than 1 MiB)."""

_CRYPTO = ThreadHop(max(2, os.cpu_count() or 2), "lightningstor-sse")
"""The threads that seal and open batches: a hop costs one queue put and one
``call_soon_threadsafe``, less than ``asyncio.to_thread`` (a hop per MiB: it showed in the
profile of a 64 MiB GET)."""


async def new_sealing(keys: KeyManager) -> tuple[BlockSealer, records_pb2.ChunkCipher]:
    """A sealer with a fresh data key, and the cipher record naming it wrapped."""
    data_key = secrets.token_bytes(32)
    key_id = keys.active_key
    wrapped = await keys.wrap(key_id, data_key)
    cipher = records_pb2.ChunkCipher(key_id=key_id, wrapped_key=wrapped, block_size=BLOCK_SIZE)
    return BlockSealer(data_key, BLOCK_SIZE), cipher


async def seal_async(sealer: BlockSealer, data: bytes, *, last: bool = False) -> bytes:
    """``sealer.seal(data)`` (and ``finish`` when ``last``), in a worker thread when large."""
    if len(data) >= THREAD_THRESHOLD:
        return await _CRYPTO.run(partial(sealer.seal_pieces, (data,), last=last))
    return sealer.seal_pieces((data,), last=last)


async def sealed_stream(sealer: BlockSealer, pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The sealed form of a stream of plaintext pieces, sealed a batch at a time."""
    held: list[bytes] = []
    size = 0
    async for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size >= BATCH:
            batch, held, size = held, [], 0
            out = await _CRYPTO.run(sealer.seal_pieces, batch)
            if out:
                yield out
    if size >= THREAD_THRESHOLD:
        out = await _CRYPTO.run(partial(sealer.seal_pieces, held, last=True))
    else:
        out = sealer.seal_pieces(held, last=True)
    if out:
        yield out


def stored_size(chunk: records_pb2.ChunkRef) -> int:
    """The bytes the backend holds for a chunk (its size, or its sealed size)."""
    if chunk.HasField("cipher"):
        return sealed_size(chunk.size, chunk.cipher.block_size)
    return chunk.size


def stored_ref(chunk: records_pb2.ChunkRef) -> records_pb2.ChunkRef:
    """The reference as the backend sees it (stored size), for checks and repair."""
    if not chunk.HasField("cipher"):
        return chunk
    return records_pb2.ChunkRef(
        chunk_id=chunk.chunk_id,
        size=stored_size(chunk),
        crc32c=chunk.crc32c,
        replicas=chunk.replicas,
        policy=chunk.policy,
    )


async def read_sealed(
    storage: StorageBackend, s: records_pb2.ChunkSlice, keys: KeyManager | None
) -> AsyncIterator[bytes]:
    """The plaintext of a slice of a sealed chunk: reads and opens only the blocks it touches
    (ChunkCorrupt when one fails authentication or the data key does not open)."""
    chunk, c = s.chunk, s.chunk.cipher
    if keys is None:
        raise ChunkCorrupt(f"chunk {chunk.chunk_id} is sealed and no key manager is set")
    try:
        data_key = await keys.unwrap(c.key_id, c.wrapped_key)
    except UnknownKeyError as exc:
        raise ChunkCorrupt(f"chunk {chunk.chunk_id}: {exc}") from exc
    block, step = c.block_size, c.block_size + TAG_SIZE
    index = s.offset // block
    last_block = (s.offset + s.length - 1) // block
    start = index * step
    end = min((last_block + 1) * step, sealed_size(chunk.size, block))
    opener = BlockOpener(data_key, block, index)
    skip, left = s.offset - index * block, s.length

    def trimmed(plain: bytes) -> bytes:
        nonlocal skip, left
        if skip or len(plain) > left:  # only the first and the last batch of a range
            plain = plain[skip : skip + left]
        skip, left = 0, left - len(plain)
        return plain

    held: list[bytes] = []  # opened a batch at a time, from the fetched pieces themselves
    size = 0
    pieces = storage.get_chunk(
        chunk.chunk_id, start, end - start, replicas=chunk.replicas, policy=chunk.policy
    )
    try:
        async for piece in pieces:
            held.append(piece)
            size += len(piece)
            if size >= BATCH:
                batch, held, size = held, [], 0
                plain = trimmed(await _CRYPTO.run(opener.open_pieces, batch))
                if plain:
                    yield plain
    finally:
        aclose = getattr(pieces, "aclose", None)
        if aclose is not None:
            await aclose()

    if size >= THREAD_THRESHOLD:
        plain = trimmed(await _CRYPTO.run(partial(opener.open_pieces, held, last=True)))
    else:
        plain = trimmed(opener.open_pieces(held, last=True))
    if plain:
        yield plain
    if left:
        raise ChunkCorrupt(f"chunk {chunk.chunk_id} ends {left} bytes short of its sealed size")
