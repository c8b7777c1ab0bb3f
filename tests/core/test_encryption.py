"""The sealed-block format and the embedded key manager (lightningstor_api.encryption)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from lightningstor_api.encryption import (
    BlockSealer,
    StaticKeyManager,
    UnknownKeyError,
    load_key_manager,
    open_blocks,
    sealed_size,
)
from lightningstor_storage import ChunkCorrupt
from lightningstor_types.config import Settings

BLOCK = 1024
STEP = BLOCK + 16


def _seal(key: bytes, data: bytes, pieces: int) -> bytes:
    sealer = BlockSealer(key, BLOCK)
    step = max(1, len(data) // pieces)
    out = b"".join(sealer.seal(data[i : i + step]) for i in range(0, len(data), step))
    return out + sealer.finish()


def test_sealed_blocks_open_whole_and_from_any_block_however_fed() -> None:
    key, data = os.urandom(32), os.urandom(5 * BLOCK + 300)
    sealed = _seal(key, data, 1)
    assert len(sealed) == sealed_size(len(data), BLOCK) == 5 * STEP + 300 + 16
    assert _seal(key, data, 7) == sealed  # piece boundaries do not change the blocks
    assert open_blocks(key, BLOCK, 0, sealed) == data
    assert open_blocks(key, BLOCK, 2, sealed[2 * STEP : 4 * STEP]) == data[2 * BLOCK : 4 * BLOCK]
    assert open_blocks(key, BLOCK, 5, sealed[5 * STEP :]) == data[5 * BLOCK :]
    assert data[:200] not in sealed


def test_a_flipped_bit_a_swapped_block_or_a_truncation_fails_authentication() -> None:
    key, data = os.urandom(32), os.urandom(3 * BLOCK)
    sealed = _seal(key, data, 1)
    flipped = bytearray(sealed)
    flipped[STEP + 5] ^= 0x80
    with pytest.raises(ChunkCorrupt):
        open_blocks(key, BLOCK, 0, bytes(flipped))
    swapped = sealed[STEP : 2 * STEP] + sealed[:STEP] + sealed[2 * STEP :]
    with pytest.raises(ChunkCorrupt):
        open_blocks(key, BLOCK, 0, swapped)
    with pytest.raises(ChunkCorrupt):  # a block read as another index
        open_blocks(key, BLOCK, 1, sealed[:STEP])
    with pytest.raises(ChunkCorrupt):
        open_blocks(key, BLOCK, 0, sealed[:-1])
    with pytest.raises(ChunkCorrupt):
        open_blocks(os.urandom(32), BLOCK, 0, sealed)


async def test_rotation_keeps_old_data_keys_readable_and_unknown_keys_fail() -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = StaticKeyManager({"k1": old}, "k1")
    data_key = os.urandom(32)
    wrapped = await before.wrap("k1", data_key)
    after = StaticKeyManager({"k1": old, "k2": new}, "k2")
    assert after.active_key == "k2"
    assert await after.unwrap("k1", wrapped) == data_key
    with pytest.raises(UnknownKeyError):  # the wrapping is bound to its key id
        await after.unwrap("k2", wrapped)
    with pytest.raises(UnknownKeyError):
        await after.wrap("k3", data_key)
    with pytest.raises(ValueError, match="32 bytes"):
        StaticKeyManager({"short": b"x" * 16}, "short")


async def test_default_key_file_is_made_private_and_its_last_key_is_active(tmp_path: Path) -> None:
    settings = Settings(server={"data_dir": tmp_path})
    first = load_key_manager(settings)
    path = tmp_path / "sse.keys"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    wrapped = await first.wrap(first.active_key, b"d" * 32)
    with path.open("a") as f:  # rotation: append a key
        f.write(f"key-2 {base64.b64encode(os.urandom(32)).decode()}\n")
    second = load_key_manager(settings)
    assert second.active_key == "key-2"
    assert await second.unwrap(first.active_key, wrapped) == b"d" * 32


async def test_an_encryption_context_is_bound_to_the_wrapped_data_key() -> None:
    """SSE-KMS's context is authenticated with the wrapping: a data key wrapped under one
    context opens under exactly that context (ChosenKey carries it for a version's reads)."""
    from lightningstor_api.encryption import ChosenKey

    keys = StaticKeyManager({"k1": os.urandom(32)}, "k1")
    data_key = os.urandom(32)
    plain = await keys.wrap("k1", data_key)
    bound = await keys.wrap("k1", data_key, b'{"app":"billing"}')
    assert await keys.unwrap("k1", bound, b'{"app":"billing"}') == data_key
    for other in (b"", b'{"app":"payroll"}'):
        with pytest.raises(UnknownKeyError):
            await keys.unwrap("k1", bound, other)
    with pytest.raises(UnknownKeyError):  # and a context cannot be added to one made without
        await keys.unwrap("k1", plain, b'{"app":"billing"}')
    assert await keys.unwrap("k1", plain) == data_key
    chosen = ChosenKey(keys, "k1", b'{"app":"billing"}')
    assert await chosen.unwrap("k1", await chosen.wrap(chosen.active_key, data_key)) == data_key
    assert await keys.unwrap("k1", await chosen.wrap("k1", data_key), b'{"app":"billing"}') == (
        data_key
    )
