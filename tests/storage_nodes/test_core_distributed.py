"""The core over the replicated backend (``storage.backend = "distributed"``), in process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_storage.replicated import ReplicatedBackend
from lightningstor_types.config import Settings
from lightningstor_types.errors import ServiceUnavailable
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext
from tests.core.helpers import get, put
from tests.storage_nodes.conftest import until_answers
from tests.storage_nodes.nodes import NodeProcess, restore, running_nodes

MIB = 1024 * 1024
INLINE_MAX = 4096  # storage.inline_max_bytes by default
CTX = RequestContext(principal=Principal("tester", "acme", "web"), request_id="test")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path_factory.mktemp("nodes"), 4) as started:
        yield started


@pytest.fixture
def nodes(cluster: list[NodeProcess]) -> Iterator[list[NodeProcess]]:
    yield cluster
    restore(cluster)


def settings_for(data_dir: Path, nodes: Sequence[NodeProcess]) -> Settings:
    distributed = {
        "nodes": [{"address": n.address} for n in nodes],
        "replication_factor": 3,
        "request_timeout_seconds": 10,
        "node_down_backoff_seconds": 30,
    }
    storage = {"backend": "distributed", "chunk_size": MIB, "distributed": distributed}
    return Settings(server={"data_dir": data_dir}, storage=storage)


@pytest.fixture
async def core(tmp_path: Path, nodes: list[NodeProcess]) -> AsyncIterator[Core]:
    c = await Core.open(settings_for(tmp_path / "server", nodes))
    await c.create_bucket(CTX, bucket_pb2.CreateBucketRequest(name="dist"))
    try:
        yield c
    finally:
        await c.close()


async def data_records(core: Core) -> list[records_pb2.DataRecord]:
    page = await core.cc.store.range(core.cc.keys.data_prefix())
    return [records_pb2.DataRecord.FromString(kv.value) for kv in page.kvs]


def held(nodes: Sequence[NodeProcess], chunk_id: str) -> int:
    return sum(1 for n in nodes if chunk_id in n.chunk_files())


async def test_objects_round_trip_and_records_name_the_replicas(
    core: Core, nodes: list[NodeProcess]
) -> None:
    assert isinstance(core.cc.storage, ReplicatedBackend)
    data = os.urandom(3 * MIB + 100)
    await put(core, CTX, "dist", "big", data)
    _, body = await get(core, CTX, "dist", "big")
    assert body == data
    _, part = await get(core, CTX, "dist", "big", range={"first": MIB - 5, "last": MIB + 5})
    assert part == data[MIB - 5 : MIB + 6]
    (record,) = await data_records(core)
    addresses = {n.address for n in nodes}
    assert len(record.chunks.chunks) == 4
    for chunk in record.chunks.chunks:
        assert 2 <= len(chunk.replicas) <= 3
        assert set(chunk.replicas) <= addresses
        assert all(chunk.chunk_id in n.chunk_files() for n in nodes if n.address in chunk.replicas)


async def test_too_few_nodes_is_service_unavailable_and_stores_nothing(
    core: Core, nodes: list[NodeProcess]
) -> None:
    await put(core, CTX, "dist", "before", b"kept")
    before = await data_records(core)
    alive = nodes[0]
    files_before = set(alive.chunk_files())
    for node in nodes[1:]:
        node.kill()
    with pytest.raises(ServiceUnavailable):
        await put(core, CTX, "dist", "refused", os.urandom(2 * MIB + 1))
    with pytest.raises(ServiceUnavailable):  # just above storage.inline_max_bytes: a chunk
        await put(core, CTX, "dist", "refused-too", b"x" * (INLINE_MAX + 1))
    assert await data_records(core) == before
    assert set(alive.chunk_files()) == files_before
    assert not list((alive.data_dir / "chunks" / "tmp").glob("*"))


async def test_reads_when_no_replica_answers_are_service_unavailable(
    core: Core, nodes: list[NodeProcess]
) -> None:
    await put(core, CTX, "dist", "k", b"content" * 1000)
    for node in nodes:
        node.kill()
    with pytest.raises(ServiceUnavailable):
        await get(core, CTX, "dist", "k")


async def test_inline_objects_never_touch_the_nodes(core: Core, nodes: list[NodeProcess]) -> None:
    """Small objects live in their data record: written, read, copied, deleted, collected and
    repaired with every storage node down, and no node ever holds a chunk of them."""
    files = {n.address: set(n.chunk_files()) for n in nodes}
    await put(core, CTX, "dist", "small", b"inline")
    for node in nodes:
        node.kill()
    await put(core, CTX, "dist", "small-too", b"x" * INLINE_MAX)
    assert (await get(core, CTX, "dist", "small"))[1] == b"inline"
    _, tail = await get(core, CTX, "dist", "small-too", range={"suffix_length": 3})
    assert tail == b"xxx"
    source = object_pb2.CopySource(bucket="dist", key="small")
    await core.copy_object(CTX, object_pb2.CopyObjectRequest(bucket="dist", key="c", source=source))
    for key in ("small", "small-too", "c"):
        await core.delete_object(CTX, object_pb2.DeleteObjectRequest(bucket="dist", key=key))
    assert (await core.gc.run_once()).entries == 0  # nothing journaled: nothing to delete
    assert not await data_records(core)
    assert isinstance(core.cc.storage, ReplicatedBackend)
    await put(core, CTX, "dist", "kept", b"kept")
    stats = await core.cc.storage.repairer.run_once(core.gc.referenced_chunks)
    assert (stats.pass_checked, stats.chunks_lost) == (0, 0)  # an inline record names no chunk
    restore(nodes)
    assert {n.address: set(n.chunk_files()) for n in nodes} == files


async def test_gc_removes_stale_chunks_of_a_node_that_was_down(
    tmp_path: Path, nodes: list[NodeProcess]
) -> None:
    settings = settings_for(tmp_path / "server", nodes)
    core = await Core.open(settings)
    try:
        await core.create_bucket(CTX, bucket_pb2.CreateBucketRequest(name="dist"))
        await put(core, CTX, "dist", "doomed", os.urandom(2 * MIB))
        assert isinstance(core.cc.storage, ReplicatedBackend)
        await core.cc.storage.idle()  # every replica written
        (record,) = await data_records(core)
        ids = [c.chunk_id for c in record.chunks.chunks]
        victim = next(n for n in nodes if set(ids) & set(n.chunk_files()))
        stale = set(ids) & set(victim.chunk_files())
        victim.kill()
        await core.delete_object(CTX, object_pb2.DeleteObjectRequest(bucket="dist", key="doomed"))
        await core.gc.run_once()  # deletes on the nodes that answer, remembers the rest
        assert all(held([n for n in nodes if n is not victim], i) == 0 for i in ids)
    finally:
        await core.close()
    # The server restarts (its memory of missed deletes is gone) and the node comes back.
    victim.start()
    assert stale <= set(victim.chunk_files())
    core = await Core.open(settings)
    try:
        assert isinstance(core.cc.storage, ReplicatedBackend)
        await until_answers(core.cc.storage, victim.address)
        # (The nodes are shared by the module: other tests' chunks are orphans here too.)
        assert await core.gc.sweep_orphans(0) >= len(stale)
        assert not stale & set(victim.chunk_files())
    finally:
        await core.close()
