"""ReplicatedBackend over four real storage nodes, all healthy: the StorageBackend contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import google_crc32c
import pytest

from lightningstor_storage import (
    ChunkInfo,
    ChunkNotFound,
    InvalidChunkId,
    StorageBackend,
    new_chunk_id,
)
from lightningstor_storage.chunkfile import BLOCK_SIZE
from lightningstor_storage.replicated import ReplicatedBackend
from tests.protocols import assert_implements
from tests.storage_nodes.conftest import make_backend
from tests.storage_nodes.nodes import NodeProcess

MIB = 1024 * 1024


def content(size: int, seed: int = 1) -> bytes:
    block = bytes((i * 31 + seed) % 256 for i in range(4099))
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
async def backend(shared_nodes: list[NodeProcess]) -> AsyncIterator[ReplicatedBackend]:
    b = make_backend(shared_nodes)
    yield b
    await b.idle()
    await b.close()


def holders(nodes: list[NodeProcess], chunk_id: str) -> set[str]:
    return {n.address for n in nodes if chunk_id in n.chunk_files()}


def test_is_a_storage_backend(backend: ReplicatedBackend) -> None:
    assert_implements(backend, StorageBackend)
    caps = backend.capabilities()
    assert caps.replicated and caps.durable and caps.verifies_checksums and caps.range_reads


@pytest.mark.parametrize("size", [0, 1, 4096, BLOCK_SIZE + 1, 3 * MIB + 7])
async def test_round_trip_on_three_nodes(
    backend: ReplicatedBackend, shared_nodes: list[NodeProcess], size: int
) -> None:
    data = content(size, size % 13)
    chunk_id = new_chunk_id()
    info = await backend.put_chunk(chunk_id, data)
    assert (info.chunk_id, info.size, info.crc32c) == (chunk_id, size, google_crc32c.value(data))
    assert len(info.replicas) >= 2  # the quorum; the third may still be writing
    await backend.idle()
    expected = {n.address for n in backend.cluster.write_targets(chunk_id)}
    assert holders(shared_nodes, chunk_id) == expected
    assert len(expected) == 3
    assert set(info.replicas) <= expected
    got = b"".join([p async for p in backend.get_chunk(chunk_id, replicas=info.replicas)])
    assert got == data
    if size > 2:
        middle = b"".join([p async for p in backend.get_chunk(chunk_id, 1, size - 2)])
        assert middle == data[1:-1]
    assert await backend.exists(chunk_id)
    assert await backend.delete_chunk(chunk_id) is True
    assert holders(shared_nodes, chunk_id) == set()
    assert await backend.delete_chunk(chunk_id) is False
    assert not await backend.exists(chunk_id)
    with pytest.raises(ChunkNotFound):
        async for _ in backend.get_chunk(chunk_id):
            pass


async def test_streamed_put(backend: ReplicatedBackend) -> None:
    data = content(2 * MIB + 3)

    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 300_000):
            yield data[i : i + 300_000]

    chunk_id = new_chunk_id()
    info = await backend.put_chunk(chunk_id, body())
    assert info.crc32c == google_crc32c.value(data)
    assert b"".join([p async for p in backend.get_chunk(chunk_id)]) == data


async def test_hints_name_where_to_read_first(
    backend: ReplicatedBackend, shared_nodes: list[NodeProcess]
) -> None:
    chunk_id = new_chunk_id()
    info = await backend.put_chunk(chunk_id, b"hinted")
    await backend.idle()
    order = backend.cluster.read_order(chunk_id, list(reversed(info.replicas)))
    assert order[: len(info.replicas)] == list(reversed(info.replicas))
    # A hint naming an unknown node is ignored.
    assert "10.9.9.9:1" not in backend.cluster.read_order(chunk_id, ["10.9.9.9:1"])
    got = b"".join([p async for p in backend.get_chunk(chunk_id, replicas=["10.9.9.9:1"])])
    assert got == b"hinted"


async def test_listing_merges_the_nodes_once_each(backend: ReplicatedBackend) -> None:
    infos: list[ChunkInfo] = await asyncio.gather(
        *(backend.put_chunk(new_chunk_id(), content(100 + i)) for i in range(20))
    )
    await backend.idle()
    listed = [s async for s in backend.list_chunks()]
    ids = [s.chunk_id for s in listed]
    assert ids == sorted(set(ids))
    sizes = {s.chunk_id: s.size for s in listed}
    for info in infos:
        assert sizes[info.chunk_id] == info.size


async def test_a_delete_right_after_a_put_leaves_no_late_replica(
    backend: ReplicatedBackend, shared_nodes: list[NodeProcess]
) -> None:
    ids = [new_chunk_id() for _ in range(20)]
    for chunk_id in ids:
        await backend.put_chunk(chunk_id, content(MIB, 3))  # returns at the quorum
        assert await backend.delete_chunk(chunk_id)  # while the third may still be writing
    await backend.idle()
    for chunk_id in ids:
        assert holders(shared_nodes, chunk_id) == set()


async def test_bad_input(backend: ReplicatedBackend) -> None:
    with pytest.raises(InvalidChunkId):
        await backend.put_chunk("../x", b"")
    with pytest.raises(InvalidChunkId):
        async for _ in backend.get_chunk("A" * 32):
            pass
    with pytest.raises(InvalidChunkId):
        await backend.delete_chunk("")
    chunk_id = new_chunk_id()
    await backend.put_chunk(chunk_id, b"0123456789")
    with pytest.raises(ValueError):
        async for _ in backend.get_chunk(chunk_id, 5, 6):
            pass
    with pytest.raises(ValueError):
        async for _ in backend.get_chunk(chunk_id, -1, 2):
            pass


async def test_closed_backend_refuses(shared_nodes: list[NodeProcess]) -> None:
    from lightningstor_storage import StorageError

    b = make_backend(shared_nodes)
    await b.close()
    await b.close()
    with pytest.raises(StorageError):
        await b.put_chunk(new_chunk_id(), b"x")
