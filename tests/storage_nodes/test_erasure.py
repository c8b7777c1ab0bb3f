"""Erasure coding (4+2) on seven real storage nodes: writes, reads, the issue's faults, repair,
and what ``lightningstor admin check`` says of erasure-coded objects.

The seven nodes are shared by the module; after each test every node is resumed and restarted
(same address, same data) if the test stopped it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lightningstor_client import AsyncLightningStorClient
from lightningstor_storage import ChunkInfo, StorageUnavailable, new_chunk_id
from lightningstor_storage.erasure import Codec, ErasureBackend, Footer
from lightningstor_storage.erasure.codec import BLOCK, FOOTER_SIZE, HEADER_SIZE
from lightningstor_storage.replicated import Cluster, Node
from lightningstor_types.config import DistributedSettings
from lightningstor_types.errors import NoSuchKey, ServiceUnavailable
from tests.admin.cli import Run, run_cli
from tests.integration.server import ServerProcess, running_server
from tests.ops.test_observability import get, sample
from tests.s3.conftest import make_client
from tests.storage_nodes.conftest import until_answers
from tests.storage_nodes.nodes import NodeProcess, restore, running_nodes
from tests.wait import await_until, wait_until

MIB = 1024 * 1024
K, M = 4, 2
STRIPE = K * BLOCK
FRAGMENT = HEADER_SIZE + BLOCK
"""Bytes of one stripe of a chunk, and of one fragment's part of it."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path_factory.mktemp("nodes"), 7) as started:
        yield started


@pytest.fixture
def nodes(cluster: list[NodeProcess]) -> Iterator[list[NodeProcess]]:
    yield cluster
    restore(cluster)


def make_erasure(nodes: list[NodeProcess], *, timeout: float = 10.0) -> ErasureBackend:
    placed = [Node(n.address) for n in nodes]
    c = Cluster(placed, replication_factor=K + M, write_quorum=K + 1, timeout=timeout, backoff=30)
    return ErasureBackend(c, Codec(K, M), scrub_rate=0, hedge_after=0.5)


@pytest.fixture
async def backend(nodes: list[NodeProcess]) -> AsyncIterator[ErasureBackend]:
    b = make_erasure(nodes)
    yield b
    await b.close()


async def stream(data: bytes, piece: int = 300_000) -> AsyncIterator[bytes]:
    for at in range(0, len(data), piece):
        yield data[at : at + piece]


async def read(
    b: ErasureBackend, info: ChunkInfo, offset: int = 0, length: int | None = None
) -> bytes:
    return b"".join(
        [p async for p in b.get_chunk(info.chunk_id, offset, length, replicas=info.replicas)]
    )


def holders(nodes: list[NodeProcess], chunk_id: str) -> dict[int, NodeProcess]:
    """Fragment index -> the node whose disk has it (read from the footer in the file)."""
    out = {}
    for n in nodes:
        path = n.chunk_files().get(chunk_id)
        if path is not None:
            raw = path.read_bytes()
            # the node's chunk file: data, a CRC per 64 KiB block, a 26-byte footer
            data_size = int.from_bytes(raw[-26 + 10 : -26 + 18], "little")
            out[Footer.unpack(raw[data_size - FOOTER_SIZE : data_size]).index] = n
    return out


async def test_fragments_on_distinct_nodes_half_the_raw_bytes_ranges(
    backend: ErasureBackend, nodes: list[NodeProcess]
) -> None:
    data = os.urandom(5 * MIB + 12345)  # a partial last stripe
    info = await backend.put_chunk(new_chunk_id(), stream(data))
    await backend.idle()
    assert (info.size, len(info.replicas)) == (len(data), K + M)
    where = holders(nodes, info.chunk_id)
    assert sorted(where) == list(range(K + M))
    assert len({n.address for n in where.values()}) == K + M
    assert [where[i].address for i in range(K + M)] == list(info.replicas)
    raw = sum(
        p.stat().st_size for n in nodes for c, p in n.chunk_files().items() if c == info.chunk_id
    )
    assert raw < 1.52 * len(data)  # 1.5 plus headers and footers, not 3
    assert await read(backend, info) == data
    for offset, length in ((0, 1), (MIB - 3, 10), (3 * MIB + 7, 2 * MIB), (len(data) - 5, 5)):
        assert await read(backend, info, offset, length) == data[offset : offset + length]
    small = await backend.put_chunk(new_chunk_id(), b"tiny")
    assert await read(backend, small) == b"tiny"


async def test_two_nodes_killed_reads_all_writes_go_on_third_fails_cleanly(
    backend: ErasureBackend, nodes: list[NodeProcess]
) -> None:
    chunks = {}
    for _ in range(6):
        data = os.urandom(2 * MIB + 1000)
        info = await backend.put_chunk(new_chunk_id(), data)
        chunks[info.chunk_id] = (info, data)
    await backend.idle()
    first = next(iter(chunks.values()))[0]
    holding = holders(nodes, first.chunk_id)
    holding[0].kill()  # two data fragments of the first chunk: its reads must decode
    holding[1].kill()

    async def reader() -> int:
        for info, data in chunks.values():
            assert await read(backend, info) == data
            assert await read(backend, info, MIB, 5000) == data[MIB : MIB + 5000]
        return len(chunks)

    assert sum(await asyncio.gather(reader(), reader(), reader())) == 3 * len(chunks)
    # five nodes left: a write still meets k + 1
    more = os.urandom(MIB)
    info = await backend.put_chunk(new_chunk_id(), more)
    assert await read(backend, info) == more
    # a third node gone: four nodes, fewer than k + 1; nothing is left behind
    alive = [n for n in nodes if n.running]
    alive[0].kill()
    before = {n.address: set(n.chunk_files()) for n in nodes if n.running}
    chunk_id = new_chunk_id()
    with pytest.raises(StorageUnavailable):
        await backend.put_chunk(chunk_id, stream(os.urandom(3 * MIB)))
    assert all(chunk_id not in n.chunk_files() for n in nodes)
    assert {n.address: set(n.chunk_files()) for n in nodes if n.running} == before
    # chunks with at least k fragments on the nodes left still read
    for info, data in chunks.values():
        if len(set(holders([n for n in nodes if n.running], info.chunk_id))) >= K:
            assert await read(backend, info) == data


async def test_corrupt_fragment_detected_served_and_rebuilt(
    backend: ErasureBackend, nodes: list[NodeProcess]
) -> None:
    data = os.urandom(3 * MIB)
    info = await backend.put_chunk(new_chunk_id(), data)
    await backend.idle()
    node = holders(nodes, info.chunk_id)[1]
    path = node.chunk_files()[info.chunk_id]
    raw = bytearray(path.read_bytes())
    raw[1000] ^= 0x40  # a data fragment's bytes
    path.write_bytes(bytes(raw))
    assert await read(backend, info) == data  # served from the others, decoded
    await backend.idle()  # the read's heal rebuilt it
    check = await backend.check_chunk(info.chunk_id, info.size, info.crc32c, verify=True)
    assert check.state == "good", check.detail
    assert await read(backend, info) == data
    assert sorted(holders(nodes, info.chunk_id)) == list(range(K + M))


async def test_check_reports_degraded_lost_and_repair_rebuilds(
    backend: ErasureBackend, nodes: list[NodeProcess]
) -> None:
    data = os.urandom(2 * MIB)
    info = await backend.put_chunk(new_chunk_id(), data)
    await backend.idle()
    where = holders(nodes, info.chunk_id)
    where[0].chunk_files()[info.chunk_id].unlink()
    where[5].chunk_files()[info.chunk_id].unlink()
    check = await backend.check_chunk(info.chunk_id, info.size, info.crc32c)
    assert check.state == "under_replicated"
    assert check.detail.startswith("DEGRADED(2 missing)")
    repaired = await backend.check_chunk(info.chunk_id, info.size, info.crc32c, repair=True)
    assert repaired.restored == 2
    assert sorted(holders(nodes, info.chunk_id)) == list(range(K + M))
    check = await backend.check_chunk(info.chunk_id, info.size, info.crc32c)
    assert check.state == "good" and check.detail.startswith("OK")
    for n in list(holders(nodes, info.chunk_id).values())[:3]:
        n.chunk_files()[info.chunk_id].unlink()
    lost = await backend.check_chunk(info.chunk_id, info.size, info.crc32c)
    assert lost.state == "missing" and lost.detail.startswith("LOST")


async def test_drain_moves_fragments_and_stale_fragments_are_deleted(
    backend: ErasureBackend, nodes: list[NodeProcess]
) -> None:
    datas = [os.urandom(MIB + 100 * i) for i in range(4)]
    infos = [await backend.put_chunk(new_chunk_id(), d) for d in datas]
    await backend.idle()
    # a node away while a chunk is deleted comes back with its stale fragment: cleaned
    gone = holders(nodes, infos[0].chunk_id)[2]
    gone.kill()
    assert await backend.delete_chunk(infos[0].chunk_id)
    assert infos[0].chunk_id in backend.missed_deletes.pending(gone.address)
    gone.start()  # on its old port, with its old files
    assert infos[0].chunk_id in gone.chunk_files()
    await until_answers(backend, gone.address)  # its missed deletes are done then
    await backend.idle()
    assert infos[0].chunk_id not in gone.chunk_files()
    # drain the holder of a fragment: rebuilt elsewhere, then removed from it
    info = infos[1]
    drained = holders(nodes, info.chunk_id)[3]
    await backend.drain(drained.address)
    try:
        for i in infos[1:]:
            await backend.check_chunk(i.chunk_id, i.size, i.crc32c, repair=True)
        assert info.chunk_id not in drained.chunk_files()
        where = holders(nodes, info.chunk_id)
        assert sorted(where) == list(range(K + M)) and drained not in where.values()
        assert await read(backend, info) == datas[1]
    finally:
        await backend.drain(drained.address, False)


def test_settings_refuse_a_zone_layout_that_loses_more_than_m() -> None:
    nodes = [{"address": f"127.0.0.1:{9000 + i}", "zone": z} for i, z in enumerate("aabbcc")]
    ok = DistributedSettings.model_validate(
        {"nodes": nodes, "policy": "erasure", "placement_strategy": "zone_aware"}
    )
    assert ok.erasure_data_fragments == 4
    lopsided = [{"address": f"127.0.0.1:{9000 + i}", "zone": z} for i, z in enumerate("aaabbbc")]
    with pytest.raises(ValueError, match="fragments of a chunk in zone"):
        DistributedSettings.model_validate(
            {"nodes": lopsided, "policy": "erasure", "placement_strategy": "zone_aware"}
        )
    with pytest.raises(ValueError, match="at least 6 nodes"):
        DistributedSettings.model_validate({"nodes": nodes[:5], "policy": "erasure"})


async def test_a_hung_node_is_hedged_around(nodes: list[NodeProcess]) -> None:
    """A node that hangs (SIGSTOP) holding a data fragment: the read takes another fragment
    after the hedge delay instead of waiting out the request timeout."""
    backend = make_erasure(nodes, timeout=120.0)
    try:
        data = os.urandom(3 * MIB)
        info = await backend.put_chunk(new_chunk_id(), data)
        await backend.idle()
        holders(nodes, info.chunk_id)[0].pause()
        # the guard only ends a hang: without hedging the read waits the 120 s timeout
        got = await asyncio.wait_for(read(backend, info), 60.0)
        assert got == data
    finally:
        await backend.close()


async def test_server_with_policy_erasure_over_two_and_three_lost_nodes(
    nodes: list[NodeProcess], tmp_path: Path
) -> None:
    """A real server configured with ``policy = "erasure"``: objects (inline, one chunk, several)
    are stored as fragments and read back, whole and ranged, with two nodes down; with a third
    down a PUT is ServiceUnavailable and leaves no object."""
    config = tmp_path / "server.toml"
    lines = ["[storage]", 'backend = "distributed"', 'chunk_size = "1MiB"']
    lines += ["[storage.distributed]", 'policy = "erasure"', "request_timeout_seconds = 10"]
    for node in nodes:
        lines += ["[[storage.distributed.nodes]]", f'address = "{node.address}"']
    config.write_text("\n".join(lines) + "\n")
    objects = {f"k{i}": os.urandom(size) for i, size in enumerate((100, 300_000, 5 * MIB // 2))}
    before = {p for n in nodes for p in n.chunk_files().values()}  # the module's other tests'
    with running_server(tmp_path / "server", args=["--config", str(config)]) as server:
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as c:
            await c.create_bucket("ecb")
            for key, data in objects.items():
                await c.put_object("ecb", key, data)
            big = objects["k2"]

            def written() -> list[Path]:
                return [p for n in nodes for p in n.chunk_files().values() if p not in before]

            # A PUT returns at k + margin fsyncs; the last fragment of a chunk may land just after.
            # One chunk of k1, three of k2, six fragments each.
            fragments = await await_until(lambda: len(written()) == 6 * 4 and written())
            ids = {p.name for p in fragments}
            assert sum(p.stat().st_size for p in fragments) < 1.55 * (300_000 + len(big))
            nodes[0].kill()
            nodes[3].kill()
            for key, data in objects.items():
                async with await c.get_object("ecb", key) as stream:
                    assert b"".join([p async for p in stream]) == data
            async with await c.get_object("ecb", "k2", range=(MIB - 10, 2 * MIB + 9)) as stream:
                assert b"".join([p async for p in stream]) == big[MIB - 10 : 2 * MIB + 10]
            nodes[5].kill()
            with pytest.raises(ServiceUnavailable):
                await c.put_object("ecb", "k3", os.urandom(MIB + 5))
            with pytest.raises(NoSuchKey):
                await c.head_object("ecb", "k3")
            alive = [n for n in nodes if n.running]
            new = {p.name for n in alive for p in n.chunk_files().values() if p not in before}
            assert new <= ids


# -- `lightningstor admin check` of erasure-coded objects on a real server -----------------------


@pytest.fixture(scope="module")
def ec_server(
    tmp_path_factory: pytest.TempPathFactory, cluster: list[NodeProcess]
) -> Iterator[ServerProcess]:
    """A server storing every chunk 4+2 on the module's seven nodes; no background repair
    (scrub rate 0), so what the check finds stays until the check repairs it."""
    workdir = tmp_path_factory.mktemp("ec-server")
    lines = ["[storage]", 'backend = "distributed"', "gc_interval_seconds = 3600"]
    lines += ["[storage.distributed]", 'policy = "erasure"', "request_timeout_seconds = 10"]
    lines += ["scrub_rate_bytes_per_second = 0"]
    for node in cluster:
        lines += ["[[storage.distributed.nodes]]", f'address = "{node.address}"']
    config = workdir / "server.toml"
    config.write_text("\n".join(lines) + "\n")
    with running_server(workdir, args=["--config", str(config)]) as proc:
        yield proc


def ec_put(server: ServerProcess, nodes: list[NodeProcess], bucket: str, data: bytes) -> str:
    """PUT ``data`` (one chunk) as ``bucket``/k; its chunk id once all six fragments are down."""
    keys = server.admin_keys()
    s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
    s3.create_bucket(Bucket=bucket)
    before = {c for n in nodes for c in n.chunk_files()}
    s3.put_object(Bucket=bucket, Key="k", Body=data)

    def fragments() -> set[str] | None:
        new = {c for n in nodes for c in n.chunk_files()} - before
        # the PUT returns at k + 1 fsyncs; the last fragment may land just after
        return new if len(new) == 1 and len(holders(nodes, *new)) == K + M else None

    (chunk_id,) = wait_until(fragments, message="the chunk's six fragments")
    return chunk_id


def ec_check(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, *args: str
) -> tuple[Run, dict[str, dict[str, Any]], dict[str, Any]]:
    """``admin check --json --grace 3600`` (the module's backend tests leave young chunks that
    no metadata names: within the grace, no orphans): the run, findings by chunk id, summary."""
    run = run_cli(
        monkeypatch, server, server.admin_keys(), "admin", "check", "--json", "--grace", "3600",
        *args,
    )  # fmt: skip
    findings: dict[str, dict[str, Any]] = {}
    summary: dict[str, Any] = {}
    for line in run.json_lines():
        if "finding" in line:
            findings[line["finding"]["chunk_id"]] = line["finding"]
        else:
            summary = line["summary"]
    return run, findings, summary


def test_check_leaves_fragments_of_nodes_down_unknown(
    monkeypatch: pytest.MonkeyPatch, ec_server: ServerProcess, nodes: list[NodeProcess]
) -> None:
    """Fragments on nodes that do not answer are neither good nor missing: the chunk is UNKNOWN
    (exit 1, "NOT consistent") with one holder down and with three (fewer than k answering),
    never consistent, never LOST or corrupt."""
    chunk_id = ec_put(ec_server, nodes, "ec-down", os.urandom(3 * MIB))
    run, findings, _ = ec_check(monkeypatch, ec_server)
    assert run.code == 0 and chunk_id not in findings, run.out + run.err

    where = holders(nodes, chunk_id)
    for down in ([where[0]], [where[0], where[4], where[5]]):
        for node in down:
            node.kill()
        run, findings, summary = ec_check(monkeypatch, ec_server)
        assert run.code == 1, run.out + run.err
        assert findings[chunk_id]["kind"] == "unknown", findings
        assert findings[chunk_id]["detail"].startswith("UNKNOWN"), findings
        assert f"{len(down)} nodes not answering" in findings[chunk_id]["detail"], findings
        assert summary["unknown"] >= 1, summary
        assert summary["missing"] == summary["corrupt"] == 0, summary
        human = run_cli(
            monkeypatch, ec_server, ec_server.admin_keys(), "admin", "check", "--grace", "3600"
        )
        assert human.code == 1 and "NOT consistent" in human.out, human.out
    restore(nodes)
    wait_until(
        lambda: chunk_id not in ec_check(monkeypatch, ec_server)[1], message="the chunk good again"
    )


def test_check_reports_fragment_health_and_repair_rebuilds(
    monkeypatch: pytest.MonkeyPatch, ec_server: ServerProcess, nodes: list[NodeProcess]
) -> None:
    """The CLI's findings carry each chunk's fragment health: DEGRADED(n missing) with two
    fragments gone (rebuilt by ``--repair``), LOST with three gone."""
    data = os.urandom(2 * MIB + 77)
    chunk_id = ec_put(ec_server, nodes, "ec-health", data)
    where = holders(nodes, chunk_id)
    for index in (1, 4):  # a data fragment and a parity one
        where[index].chunk_files()[chunk_id].unlink()

    run, findings, summary = ec_check(monkeypatch, ec_server)
    assert run.code == 1, run.out + run.err
    assert findings[chunk_id]["kind"] == "under_replicated", findings
    assert findings[chunk_id]["detail"].startswith("DEGRADED(2 missing)"), findings
    assert summary["under_replicated"] == 1, summary
    human = run_cli(
        monkeypatch, ec_server, ec_server.admin_keys(), "admin", "check", "--grace", "3600"
    )
    assert human.code == 1 and "DEGRADED(2 missing)" in human.out, human.out

    run, findings, summary = ec_check(monkeypatch, ec_server, "--repair")
    assert run.code == 0, run.out + run.err
    assert findings[chunk_id]["action"] == "restored 2 copies", findings
    assert summary["replicas_restored"] == 2 and summary["remaining"] == 0, summary
    assert sorted(holders(nodes, chunk_id)) == list(range(K + M))
    run, findings, _ = ec_check(monkeypatch, ec_server)
    assert run.code == 0 and chunk_id not in findings, run.out

    keys = ec_server.admin_keys()
    s3 = make_client("http://" + ec_server.ports["s3"], keys["access_key"], keys["secret_key"])
    assert s3.get_object(Bucket="ec-health", Key="k")["Body"].read() == data
    for index in (0, 2, 5):
        holders(nodes, chunk_id)[index].chunk_files()[chunk_id].unlink()
    run, findings, summary = ec_check(monkeypatch, ec_server)
    assert run.code == 1, run.out + run.err
    assert findings[chunk_id]["kind"] == "missing", findings
    assert findings[chunk_id]["detail"].startswith("LOST"), findings
    # the object is lost for good: released, so that later checks of the module are clean
    s3.delete_object(Bucket="ec-health", Key="k")
    run, findings, _ = ec_check(monkeypatch, ec_server)
    assert chunk_id not in findings, findings


def ec_reads(server: ServerProcess) -> tuple[float, float, float]:
    """(stripes read, stripes decoded, fragment bytes fetched) on the server's page."""
    status, page, _ = get(f"http://{server.ports['s3']}/metrics")
    assert status == 200
    text = page.decode()
    return (
        sample(text, "lightningstor_erasure_stripes_read_total"),
        sample(text, "lightningstor_erasure_stripes_decoded_total"),
        sample(text, "lightningstor_erasure_fragment_bytes_read_total"),
    )


def test_a_healthy_ranged_get_fetches_only_its_stripe_of_the_data_fragments(
    ec_server: ServerProcess, nodes: list[NodeProcess]
) -> None:
    """A range inside one stripe of a 6-stripe chunk: one stripe read, from the k data
    fragments (k fragment-ranges of one stripe, no footer, no parity), nothing decoded. With a
    data fragment's node down, the same range is decoded from parity (the counter moves)."""
    data = os.urandom(6 * STRIPE - 1000)  # one chunk (8 MiB chunks): six stripes
    chunk_id = ec_put(ec_server, nodes, "ec-range", data)
    keys = ec_server.admin_keys()
    s3 = make_client("http://" + ec_server.ports["s3"], keys["access_key"], keys["secret_key"])
    first, last = 3 * STRIPE + 5, 3 * STRIPE + 99_999  # inside stripe 3

    def ranged() -> tuple[float, float, float]:
        before = ec_reads(ec_server)
        got = s3.get_object(Bucket="ec-range", Key="k", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == data[first : last + 1]
        after = ec_reads(ec_server)
        return after[0] - before[0], after[1] - before[1], after[2] - before[2]

    stripes, decoded, fetched = ranged()
    assert (stripes, decoded) == (1, 0)
    assert fetched == K * FRAGMENT  # the stripe's range of each data fragment, nothing more

    holders(nodes, chunk_id)[1].kill()
    stripes, decoded, fetched = ranged()
    assert (stripes, decoded) == (1, 1)
    assert fetched == K * FRAGMENT  # three data fragments and one parity stood in
