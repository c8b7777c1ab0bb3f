"""Repair and scrub with real nodes: node loss, corruption, node addition, drain, lost chunks.

Five nodes are shared by the module; each test places its own chunks on the first four (or all
five) and hands the repairer exactly those, as the core's ``referenced()`` would.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from types import SimpleNamespace

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor_storage import ChunkInfo, new_chunk_id
from lightningstor_storage.replicated import ReplicatedBackend
from lightningstor_storage.replicated.repair import Referenced, Throttle
from tests.storage_nodes.conftest import make_backend, until_answers
from tests.storage_nodes.nodes import NodeProcess, restore, running_nodes
from tests.wait import await_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path_factory.mktemp("nodes"), 5) as started:
        yield started


@pytest.fixture
async def nodes(cluster: list[NodeProcess]) -> AsyncIterator[list[NodeProcess]]:
    yield cluster
    restore(cluster)
    b = make_backend(cluster)
    try:
        for node in cluster:
            await b.drain(node.address, False)
    finally:
        await b.close()


def referenced(infos: Sequence[ChunkInfo]) -> Referenced:
    refs = [
        records_pb2.ChunkRef(
            chunk_id=i.chunk_id, size=i.size, crc32c=i.crc32c, replicas=list(i.replicas)
        )
        for i in infos
    ]

    async def walk() -> AsyncIterator[records_pb2.ChunkRef]:
        for ref in refs:
            yield ref

    return walk


async def put_many(backend: ReplicatedBackend, count: int, size: int = 3000) -> list[ChunkInfo]:
    infos = await asyncio.gather(
        *(backend.put_chunk(new_chunk_id(), os.urandom(size)) for _ in range(count))
    )
    await backend.idle()
    return list(infos)


def copies(nodes: Sequence[NodeProcess], chunk_id: str) -> set[str]:
    return {n.address for n in nodes if n.running and chunk_id in n.chunk_files()}


def targets(backend: ReplicatedBackend, chunk_id: str) -> set[str]:
    return {n.address for n in backend.cluster.write_targets(chunk_id)}


async def test_a_lost_node_s_chunks_get_their_replicas_back(nodes: list[NodeProcess]) -> None:
    four = nodes[:4]
    backend = make_backend(four)
    try:
        infos = await put_many(backend, 30)
        victim = four[1]
        on_victim = [i for i in infos if i.chunk_id in victim.chunk_files()]
        assert on_victim
        victim.kill()
        shutil.rmtree(victim.data_dir)  # the disk is gone too
        await backend.cluster.refresh()
        stats = await backend.repairer.run_once(referenced(infos))
        assert stats.replicas_restored == len(on_victim)
        assert stats.backlog == 0 and stats.chunks_lost == 0 and stats.errors == 0
        for info in infos:
            assert copies(four, info.chunk_id) == targets(backend, info.chunk_id)
            assert len(copies(four, info.chunk_id)) == 3
        # The node comes back empty: chunks return to it and leave their stand-ins.
        victim.start()
        await until_answers(backend, victim.address)
        stats = await backend.repairer.run_once(referenced(infos))
        # Counters add up over passes: the second pass restored and trimmed one copy per chunk.
        assert stats.replicas_restored == 2 * len(on_victim)
        assert stats.replicas_trimmed == len(on_victim)
        for info in infos:
            assert copies(four, info.chunk_id) == targets(backend, info.chunk_id)
        for info in on_victim:
            assert info.chunk_id in victim.chunk_files()
    finally:
        await backend.close()


async def test_scrub_finds_a_corrupt_replica_without_a_read(nodes: list[NodeProcess]) -> None:
    backend = make_backend(nodes[:4])
    try:
        infos = await put_many(backend, 5, size=200_000)
        victim = next(n for n in nodes if infos[2].chunk_id in n.chunk_files())
        path = victim.chunk_files()[infos[2].chunk_id]
        raw = bytearray(path.read_bytes())
        raw[1000] ^= 1
        path.write_bytes(bytes(raw))
        stats = await backend.repairer.run_once(referenced(infos))
        assert stats.replicas_corrupt == 1
        assert stats.replicas_restored == 1
        assert stats.bytes_verified == (3 * 5 - 1) * 200_000  # every good copy, read once
        assert path.read_bytes() != bytes(raw)
        again = await backend.repairer.run_once(referenced(infos))
        assert again.replicas_corrupt == 1  # counters accumulate; nothing new was found
    finally:
        await backend.close()


async def test_adding_a_node_moves_only_the_chunks_whose_placement_changed(
    nodes: list[NodeProcess],
) -> None:
    old = make_backend(nodes[:4])
    new = make_backend(nodes)  # the node list with a fifth node
    try:
        infos = await put_many(old, 100)
        changed = sum(1 for i in infos if targets(old, i.chunk_id) != targets(new, i.chunk_id))
        reads_ok = 0

        async def reader() -> None:
            nonlocal reads_ok
            for info in infos:  # reads stay correct while chunks move
                got = b"".join(
                    [p async for p in new.get_chunk(info.chunk_id, replicas=info.replicas)]
                )
                assert len(got) == info.size
                reads_ok += 1

        stats, _ = await asyncio.gather(new.repairer.run_once(referenced(infos)), reader())
        assert reads_ok == len(infos)
        # Each changed chunk moved one replica: about a fifth of the 300.
        assert stats.replicas_restored == stats.replicas_trimmed == changed
        assert 30 <= changed <= 95
        for info in infos:
            assert copies(nodes, info.chunk_id) == targets(new, info.chunk_id)
    finally:
        await old.close()
        await new.close()


async def test_a_draining_node_is_emptied_and_gets_no_new_chunks(nodes: list[NodeProcess]) -> None:
    four = nodes[:4]
    backend = make_backend(four)
    other_server = make_backend(four)
    try:
        infos = await put_many(backend, 30)
        drained = four[0]
        assert any(i.chunk_id in drained.chunk_files() for i in infos)
        await backend.drain(drained.address)
        await other_server.cluster.refresh()  # another server learns it from the node
        assert drained.address in other_server.cluster.draining
        stats = await other_server.repairer.run_once(referenced(infos))
        assert stats.errors == 0 and stats.chunks_lost == 0
        for info in infos:
            assert drained.address not in copies(four, info.chunk_id)
            assert len(copies(four, info.chunk_id)) == 3
        more = await put_many(backend, 10)
        assert not any(drained.address in i.replicas for i in more)
    finally:
        await backend.close()
        await other_server.close()


async def test_a_chunk_with_no_copy_anywhere_counts_as_lost(nodes: list[NodeProcess]) -> None:
    backend = make_backend(nodes[:4])
    try:
        ghost = ChunkInfo(new_chunk_id(), 10, 1234, ())
        stats = await backend.repairer.run_once(referenced([ghost]))
        assert stats.chunks_lost == 1
        assert stats.backlog == 1
        stats = await backend.repairer.run_once(referenced([ghost]))  # still lost: not again
        assert (stats.passes, stats.chunks_lost, stats.backlog) == (2, 1, 1)
    finally:
        await backend.close()


async def test_background_work_probes_and_repairs_until_closed(nodes: list[NodeProcess]) -> None:
    backend = make_backend(nodes[:4], scrub_rate=64 * 1024 * 1024)
    try:
        infos = await put_many(backend, 3)
        victim = next(n for n in nodes[:3] if infos[0].chunk_id in n.chunk_files())
        victim.chunk_files()[infos[0].chunk_id].unlink()
        await backend.drain(nodes[3].address)
        backend.cluster.draining.clear()  # forgotten here: the probe learns it from the node
        backend.start_background(referenced(infos), repair_interval=0.05)
        await await_until(
            lambda: (
                backend.repairer.stats.passes >= 2 and nodes[3].address in backend.cluster.draining
            ),
            message="two repair passes and the probe learning that node 3 drains",
        )
        assert backend.repairer.stats.last_pass_chunks == 3
        # With node 3 draining, the first three nodes are every chunk's targets.
        for info in infos:
            assert copies(nodes, info.chunk_id) == {n.address for n in nodes[:3]}
    finally:
        await backend.close()


async def test_throttle_paces_to_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    # The repair module's own clock and sleep, replaced together (only in that module): time
    # moves only when the throttle sleeps, so no real delay can shift what it computes.
    from lightningstor_storage.replicated import repair

    now = [1000.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(repair, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(repair, "asyncio", SimpleNamespace(sleep=sleep))
    t = Throttle(1000)
    await t.take(1000)  # a second of burst is free
    assert slept == []
    await t.take(2000)
    assert slept == [2.0]
    await t.take(1000)  # no time passed beyond the sleep: one more second of debt
    assert slept == [2.0, 1.0]
    unpaced = Throttle(0)
    await unpaced.take(10**9)
    assert len(slept) == 2


async def test_no_copy_is_trimmed_while_too_few_nodes_can_take_chunks(
    nodes: list[NodeProcess],
) -> None:
    four = nodes[:4]
    backend = make_backend(four)
    try:
        infos = await put_many(backend, 10)
        for node in four[1:]:
            backend.cluster.draining.add(node.address)  # only one writable node left
        stats = await backend.repairer.run_once(referenced(infos))
        assert stats.replicas_trimmed == 0
        for info in infos:
            assert len(copies(four, info.chunk_id)) >= 3  # nothing lost its copies
    finally:
        await backend.close()
