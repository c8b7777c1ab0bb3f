"""Issue 7's acceptance: ``lightningstor-server`` processes over four storage nodes (RF=3).

A load of concurrent PUT/GET runs while one node is killed and later a second; every
acknowledged object reads back identical; the lost nodes come back (one with an empty disk) and
after a repair pass every chunk the metadata names has its three replicas (by listing the nodes).
Once with one server on the embedded metadata, once with two servers on one etcd.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.metadata import EmbeddedStore, EtcdStore, MetadataStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from lightningstor_client import AsyncLightningStorClient
from lightningstor_storage.replicated.client import NodeClient
from tests.fixtures.etcd import running_etcd
from tests.integration.server import running_server, start_server
from tests.storage_nodes.conftest import make_backend, until_answers
from tests.storage_nodes.nodes import NodeProcess, running_nodes
from tests.wait import await_until

MIB = 1024 * 1024


def payload(key: str) -> bytes:
    """Each key's content is a function of its name: 0 bytes to 2.5 MiB (1 MiB chunks)."""
    n = int(key.rsplit("-", 1)[1])
    size = [4096, 0, MIB + 17, 5 * MIB // 2, 100_000][n % 5]
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // 32 + 1))[:size]


def server_config(path: Path, nodes: Sequence[NodeProcess]) -> Path:
    lines = [
        "[storage]",
        'backend = "distributed"',
        'chunk_size = "1MiB"',
        "[storage.distributed]",
        "replication_factor = 3",
        "request_timeout_seconds = 10",
        "node_down_backoff_seconds = 5",
    ]
    for node in nodes:
        lines += ["[[storage.distributed.nodes]]", f'address = "{node.address}"']
    path.write_text("\n".join(lines) + "\n")
    return path


async def run_load(
    clients: Sequence[AsyncLightningStorClient], nodes: Sequence[NodeProcess]
) -> dict[str, str]:
    """PUT then GET (through the next client) in six workers; kill node 0, later node 2.

    Returns the acknowledged keys and ETags; any failed request fails the test.
    """
    acked: dict[str, str] = {}
    failures: list[BaseException] = []
    stop = asyncio.Event()

    async def worker(w: int) -> None:
        i = 0
        while not stop.is_set():
            key = f"w{w}/obj-{i}"
            data = payload(key)
            writer, reader = clients[w % len(clients)], clients[(w + 1) % len(clients)]
            try:
                acked[key] = (await writer.put_object("load", key, data)).etag
                async with await reader.get_object("load", key) as stream:
                    assert b"".join([p async for p in stream]) == data, key
            except BaseException as exc:
                failures.append(exc)
                raise
            i += 1

    async def acked_at_least(count: int) -> None:
        await await_until(
            lambda: len(acked) >= count or failures,
            timeout=120,  # a node kill costs requests a timeout or two
            message=f"{count} acknowledged requests",
        )

    workers = [asyncio.create_task(worker(w)) for w in range(6)]
    try:
        await acked_at_least(30)
        nodes[0].kill()
        await acked_at_least(len(acked) + 40)
        nodes[2].kill()
        await acked_at_least(len(acked) + 40)
    finally:
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
    assert not failures, failures[0]
    for n, (key, etag) in enumerate(acked.items()):  # every acknowledged object, identical
        async with await clients[n % len(clients)].get_object("load", key) as stream:
            assert b"".join([p async for p in stream]) == payload(key)
            assert stream.info.etag == etag
    return acked


async def referenced_chunks(store: MetadataStore) -> list[records_pb2.ChunkRef]:
    try:
        page = await store.range(b"lightningstor/data/")
        return [
            c for kv in page.kvs for c in records_pb2.DataRecord.FromString(kv.value).chunks.chunks
        ]
    finally:
        await store.close()


async def restore_and_repair(
    nodes: Sequence[NodeProcess], open_store: Callable[[], Awaitable[MetadataStore]]
) -> None:
    """Bring the killed nodes back (node 2 with an empty disk), run a repair pass over what the
    metadata references, and check by listing that every chunk is on its three targets."""
    nodes[0].start()
    for f in nodes[2].data_dir.glob("chunks/??/??/*"):
        f.unlink()
    nodes[2].start()
    refs = await referenced_chunks(await open_store())
    assert refs
    backend = make_backend(nodes)
    try:
        for node in nodes:
            await until_answers(backend, node.address)

        async def walk() -> AsyncIterator[records_pb2.ChunkRef]:
            for ref in refs:
                yield ref

        stats = await backend.repairer.run_once(walk)
        assert stats.chunks_lost == 0 and stats.errors == 0 and stats.backlog == 0
        listed: dict[str, set[str]] = {}
        for node in nodes:
            c = NodeClient(node.address, timeout=10.0)
            try:
                async for s in c.list():
                    listed.setdefault(s.chunk_id, set()).add(node.address)
            finally:
                await c.close()
        for ref in refs:
            expected = {n.address for n in backend.cluster.write_targets(ref.chunk_id)}
            assert len(expected) == 3
            assert listed[ref.chunk_id] == expected
    finally:
        await backend.close()


@pytest.mark.slow
async def test_one_server_survives_two_node_losses_and_repair_restores_rf(
    tmp_path: Path,
) -> None:
    with running_nodes(tmp_path / "nodes", 4) as nodes:
        config = server_config(tmp_path / "server.toml", nodes)
        with running_server(tmp_path / "server", args=["--config", str(config)]) as server:
            async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as c:
                await c.create_bucket("load")
                await run_load([c], nodes)
            # Repair progress is on the metrics page (scanned at start, then periodically).
            with urllib.request.urlopen(f"http://{server.ports['s3']}/metrics") as resp:
                page = resp.read().decode()
            for family in (
                "repair_backlog",
                "repair_replicas_restored_total",
                "repair_chunks_lost_total",
            ):
                assert f"lightningstor_{family} " in page, family
        db = server.data_dir / "metadata.db"
        await restore_and_repair(nodes, lambda: EmbeddedStore.open(db))


@pytest.mark.slow
@pytest.mark.etcd
async def test_two_servers_on_one_etcd_survive_two_node_losses_and_repair_restores_rf(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        etcd = stack.enter_context(running_etcd(tmp_path / "etcd"))
        nodes = stack.enter_context(running_nodes(tmp_path / "nodes", 4))
        config = server_config(tmp_path / "server.toml", nodes)
        env = {
            "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
            "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(etcd.endpoints),
            "LIGHTNINGSTOR_IAM__SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        args = ["--config", str(config)]
        a = start_server(tmp_path / "a", args=args, env=env)
        stack.callback(a.stop)
        b = start_server(tmp_path / "b", args=args, env=env)
        stack.callback(b.stop)
        keys = a.admin_keys()  # the first server made the admin key; the second shares it
        async with AsyncExitStack() as clients:
            ca = await clients.enter_async_context(AsyncLightningStorClient(a.grpc_addr, **keys))
            cb = await clients.enter_async_context(AsyncLightningStorClient(b.grpc_addr, **keys))
            await ca.create_bucket("load")
            await run_load([ca, cb], nodes)
        a.stop()
        b.stop()
        await restore_and_repair(nodes, lambda: EtcdStore.open(EtcdConfig(etcd.endpoints)))
