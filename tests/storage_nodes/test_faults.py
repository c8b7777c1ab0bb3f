"""The issue's faults, with real node processes: killed, corrupt, hung, too few, come back stale.

The four nodes are shared by the module; after each test every node is resumed and restarted
(same address, same data) if the test stopped it, so each test starts with a healthy cluster.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import google_crc32c
import pytest

from lightningstor_storage import ChunkInfo, StorageUnavailable, new_chunk_id
from lightningstor_storage.chunkfile import BLOCK_SIZE
from lightningstor_storage.replicated import ReplicatedBackend
from lightningstor_storage.replicated.client import NodeClient
from tests.storage_nodes.conftest import make_backend, until_answers
from tests.storage_nodes.nodes import NodeProcess, restore, running_nodes
from tests.wait import await_until

MIB = 1024 * 1024
HANG_TIMEOUT = 4.0
"""The request timeout of the tests where a node hangs (they wait for it, so it is shorter than
TIMEOUT, but long enough for the healthy nodes' 1-8 MiB puts on a loaded machine)."""
TIMEOUT = 10.0
"""The others': generous, so that a loaded test machine does not look like a failing node."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path_factory.mktemp("nodes"), 4) as started:
        yield started


@pytest.fixture
def nodes(cluster: list[NodeProcess]) -> Iterator[list[NodeProcess]]:
    yield cluster
    restore(cluster)


@pytest.fixture
async def backend(nodes: list[NodeProcess]) -> AsyncIterator[ReplicatedBackend]:
    b = make_backend(nodes, timeout=TIMEOUT, backoff=30.0)
    yield b
    await b.close()


@pytest.fixture
async def quick(nodes: list[NodeProcess]) -> AsyncIterator[ReplicatedBackend]:
    """A backend that gives up on a node after HANG_TIMEOUT."""
    b = make_backend(nodes, timeout=HANG_TIMEOUT, backoff=30.0)
    yield b
    await b.close()


def by_address(nodes: list[NodeProcess]) -> dict[str, NodeProcess]:
    return {n.address: n for n in nodes}


def flip_byte(path: Path, at: int) -> None:
    with path.open("r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


async def read(backend: ReplicatedBackend, info: ChunkInfo) -> bytes:
    return b"".join([p async for p in backend.get_chunk(info.chunk_id, replicas=info.replicas)])


async def test_node_killed_during_a_put_storm_loses_nothing_acknowledged(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    acked: dict[str, tuple[ChunkInfo, bytes]] = {}
    stop = asyncio.Event()

    async def writer(w: int) -> None:
        rng = random.Random(w)
        while not stop.is_set():
            data = os.urandom(rng.choice([4096, 100_000, MIB + 3]))
            info = await backend.put_chunk(new_chunk_id(), data)
            acked[info.chunk_id] = (info, data)

    writers = [asyncio.create_task(writer(w)) for w in range(8)]
    try:

        def acked_at_least(n: int) -> bool:
            for w in writers:
                if w.done():
                    w.result()  # a put failed: raise it here
            return len(acked) >= n

        await await_until(lambda: acked_at_least(40), message="40 acknowledged puts")
        victim = nodes[1]
        victim.kill()
        count = len(acked)
        await await_until(lambda: acked_at_least(count + 60), message="60 more puts after the kill")
    finally:
        stop.set()
        await asyncio.gather(*writers)
    await backend.idle()
    assert not backend.cluster.health.is_up(victim.address)
    files = {n.address: n.chunk_files() for n in nodes}
    for info, data in acked.values():
        assert len(info.replicas) >= 2
        # Every acknowledged replica is on disk (the killed node's too: it was fsynced).
        assert all(info.chunk_id in files[a] for a in info.replicas)
        assert await read(backend, info) == data


async def test_a_corrupt_replica_is_never_served_and_is_repaired(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    data = os.urandom(3 * MIB + 5)
    info = await backend.put_chunk(new_chunk_id(), data)
    await backend.idle()
    first = backend.cluster.read_order(info.chunk_id, info.replicas)[0]
    node = by_address(nodes)[first]
    # Damage a block past the first MiB: the read switches replicas mid-stream.
    flip_byte(node.chunk_files()[info.chunk_id], 2 * MIB + 100)
    assert await read(backend, info) == data
    await backend.idle()  # the repair runs in the background
    assert backend.repairer.stats.heals == 1
    assert backend.repairer.stats.replicas_restored == 1
    c = NodeClient(first, timeout=5.0)
    try:
        assert await c.verify(info.chunk_id) == (len(data), info.crc32c)
    finally:
        await c.close()


async def test_a_missing_replica_is_restored_after_a_read(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    data = os.urandom(BLOCK_SIZE * 2)
    info = await backend.put_chunk(new_chunk_id(), data)
    await backend.idle()
    first = backend.cluster.read_order(info.chunk_id, info.replicas)[0]
    by_address(nodes)[first].chunk_files()[info.chunk_id].unlink()
    assert await read(backend, info) == data
    await backend.idle()
    assert info.chunk_id in by_address(nodes)[first].chunk_files()


async def test_every_replica_corrupt_is_an_error_not_wrong_bytes(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    from lightningstor_storage import ChunkCorrupt

    info = await backend.put_chunk(new_chunk_id(), os.urandom(BLOCK_SIZE))
    await backend.idle()
    for n in nodes:
        path = n.chunk_files().get(info.chunk_id)
        if path is not None:
            flip_byte(path, 10)
    with pytest.raises(ChunkCorrupt):
        await read(backend, info)
    await backend.idle()
    assert backend.repairer.stats.chunks_lost == 1


async def test_a_hung_node_times_out_and_requests_complete(
    quick: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    data = os.urandom(MIB)
    info = await quick.put_chunk(new_chunk_id(), data)
    await quick.idle()
    first = quick.cluster.read_order(info.chunk_id, info.replicas)[0]
    hung = by_address(nodes)[first]
    hung.pause()
    assert await read(quick, info) == data  # after one timeout, from another replica
    assert not quick.cluster.health.is_up(hung.address)
    # Writes whose placement includes the hung node go elsewhere now, reads skip it.
    for _ in range(5):
        put = await quick.put_chunk(new_chunk_id(), b"while hung")
        assert hung.address not in put.replicas
    assert await read(quick, info) == data


async def test_a_write_whose_target_hangs_succeeds_at_quorum(
    quick: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    chunk_id = new_chunk_id()
    targets = [n.address for n in quick.cluster.write_targets(chunk_id)]
    hung = by_address(nodes)[targets[0]]
    hung.pause()
    info = await quick.put_chunk(chunk_id, os.urandom(4 * MIB))
    assert hung.address not in info.replicas
    assert len(info.replicas) == 2
    await quick.idle()  # the hung replica's put times out in the background
    assert not quick.cluster.health.is_up(hung.address)


async def test_a_streamed_put_whose_replica_hangs_completes_at_quorum(
    quick: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    chunk_id = new_chunk_id()
    targets = [n.address for n in quick.cluster.write_targets(chunk_id)]
    data = os.urandom(8 * MIB)

    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 256 * 1024):
            if i == 2 * MIB:
                by_address(nodes)[targets[1]].pause()  # it hangs in the middle of the chunk
            yield data[i : i + 256 * 1024]

    info = await quick.put_chunk(chunk_id, body())
    assert info.replicas == (targets[0], targets[2])
    assert await read(quick, info) == data
    await quick.idle()  # the guard ends the hung replica's put after the timeout
    assert not quick.cluster.health.is_up(targets[1])


async def test_a_streamed_put_whose_source_fails_stores_nothing(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    chunk_id = new_chunk_id()

    async def body() -> AsyncIterator[bytes]:
        yield os.urandom(MIB)
        yield os.urandom(MIB)
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await backend.put_chunk(chunk_id, body())
    await backend.idle()
    for node in nodes:
        assert chunk_id not in node.chunk_files()
        assert not list((node.data_dir / "chunks" / "tmp").glob(f"{chunk_id}*"))


async def test_a_streamed_put_that_loses_its_quorum_fails_and_leaves_nothing(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    chunk_id = new_chunk_id()
    targets = [n.address for n in backend.cluster.write_targets(chunk_id)]

    async def body() -> AsyncIterator[bytes]:
        yield os.urandom(MIB)
        for address in targets[:2]:
            by_address(nodes)[address].kill()
        for _ in range(20):
            await asyncio.sleep(0.01)
            yield os.urandom(MIB)

    with pytest.raises(StorageUnavailable):
        await backend.put_chunk(chunk_id, body())
    await backend.idle()
    alive = by_address(nodes)[targets[2]]
    assert chunk_id not in alive.chunk_files()
    assert not list((alive.data_dir / "chunks" / "tmp").glob(f"{chunk_id}*"))


async def test_fewer_nodes_than_the_quorum_fails_fast_and_leaves_nothing(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    for node in nodes[1:]:
        node.kill()
    alive = nodes[0]
    ids = [new_chunk_id() for _ in range(10)]
    with pytest.raises(StorageUnavailable, match="quorum"):  # finds its targets dead
        await backend.put_chunk(ids[0], os.urandom(100_000))
    await backend.cluster.refresh()  # what the background probe does: every dead node is known
    for chunk_id in ids[1:]:  # refused without asking any node (the refusal says so)
        with pytest.raises(StorageUnavailable, match="can take writes"):
            await backend.put_chunk(chunk_id, os.urandom(100_000))
    await backend.idle()
    assert not set(ids) & set(alive.chunk_files())
    assert not list((alive.data_dir / "chunks" / "tmp").glob("*"))


async def test_a_node_back_with_stale_chunks_deletes_them(
    backend: ReplicatedBackend, nodes: list[NodeProcess]
) -> None:
    infos = [await backend.put_chunk(new_chunk_id(), os.urandom(5000)) for _ in range(10)]
    await backend.idle()
    victim = nodes[2]
    stale = {i.chunk_id for i in infos} & set(victim.chunk_files())
    assert stale
    victim.kill()
    for info in infos:
        assert await backend.delete_chunk(info.chunk_id)
    assert backend.missed_deletes.pending(victim.address) >= stale
    victim.start()  # on its old port, with its old files
    assert stale <= set(victim.chunk_files())
    await until_answers(backend, victim.address)  # its missed deletes are done then
    await backend.idle()
    assert not stale & set(victim.chunk_files())
    assert not backend.missed_deletes.pending(victim.address) & stale


async def test_checksums_are_checked_end_to_end(backend: ReplicatedBackend) -> None:
    info = await backend.put_chunk(new_chunk_id(), b"payload")
    assert info.crc32c == google_crc32c.value(b"payload")
