"""A ``lightningstor-server`` over four storage nodes (RF=3): a PUT/GET load while one node is
killed and later a second; every acknowledged object reads back identical; after the nodes
return and a repair pass, every chunk the metadata names has its three replicas (by listing)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.metadata import EmbeddedStore
from lightningstor_client import AsyncLightningStorClient
from lightningstor_storage.replicated.client import NodeClient
from tests.integration.server import running_server
from tests.storage_nodes.conftest import make_backend, until_answers
from tests.storage_nodes.nodes import NodeProcess, running_nodes

MIB = 1024 * 1024


def payload(key: str) -> bytes:
    """Each key's content is a function of its name: 0 bytes to 2.5 MiB (1 MiB chunks)."""
    n = int(key.rsplit("-", 1)[1])
    size = [4096, 0, MIB + 17, 5 * MIB // 2, 100_000][n % 5]
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // 32 + 1))[:size]


def server_config(path: Path, nodes: list[NodeProcess]) -> Path:
    lines = [
        "[storage]",
        'backend = "distributed"',
        'chunk_size = "1MiB"',
        "[storage.distributed]",
        "replication_factor = 3",
        "request_timeout_seconds = 2",
        "node_down_backoff_seconds = 5",
    ]
    for node in nodes:
        lines += ["[[storage.distributed.nodes]]", f'address = "{node.address}"']
    path.write_text("\n".join(lines) + "\n")
    return path


async def referenced_chunks(db: Path) -> list[records_pb2.ChunkRef]:
    store = await EmbeddedStore.open(db)
    try:
        page = await store.range(b"lightningstor/data/")
        return [
            c for kv in page.kvs for c in records_pb2.DataRecord.FromString(kv.value).chunks.chunks
        ]
    finally:
        await store.close()


@pytest.mark.slow
async def test_put_get_load_survives_two_node_losses_and_repair_restores_rf(
    tmp_path: Path,
) -> None:
    acked: dict[str, str] = {}
    failures: list[BaseException] = []
    with running_nodes(tmp_path / "nodes", 4) as nodes:
        config = server_config(tmp_path / "server.toml", nodes)
        with running_server(tmp_path / "server", args=["--config", str(config)]) as server:
            async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as client:
                await client.create_bucket("load")
                stop = asyncio.Event()

                async def worker(w: int) -> None:
                    i = 0
                    while not stop.is_set():
                        key = f"w{w}/obj-{i}"
                        data = payload(key)
                        try:
                            r = await client.put_object("load", key, data)
                            acked[key] = r.etag
                            async with await client.get_object("load", key) as stream:
                                got = b"".join([p async for p in stream])
                            assert got == data, key
                        except BaseException as exc:
                            failures.append(exc)
                            raise
                        i += 1

                async def acked_at_least(count: int) -> None:
                    while len(acked) < count and not failures:
                        await asyncio.sleep(0.02)

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
                for key, etag in acked.items():  # every acknowledged object, identical
                    async with await client.get_object("load", key) as stream:
                        assert b"".join([p async for p in stream]) == payload(key)
                        assert stream.info.etag == etag
            db = server.data_dir / "metadata.db"
        # The lost nodes come back (one of them with an empty disk); repair restores RF=3.
        nodes[0].start()
        for p in nodes[2].data_dir.glob("chunks/??"):
            for f in p.rglob("*"):
                if f.is_file():
                    f.unlink()
        nodes[2].start()
        refs = await referenced_chunks(db)
        assert len(refs) >= len(acked)  # 0-byte objects have no chunk, the others 1 to 3
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
                c = NodeClient(node.address, timeout=5.0)
                try:
                    async for s in c.list():
                        listed.setdefault(s.chunk_id, set()).add(node.address)
                finally:
                    await c.close()
            for ref in refs:
                expected = {n.address for n in backend.cluster.write_targets(ref.chunk_id)}
                assert listed[ref.chunk_id] == expected
                assert len(expected) == 3
        finally:
            await backend.close()
