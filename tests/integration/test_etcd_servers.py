"""Issue 4's acceptance: two lightningstor-server processes over one real etcd.

Both servers share the etcd cluster and, standing in for shared chunk storage, one local chunk
directory and one secret-encryption key.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.metadata import EtcdStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from lightningstor_client import AsyncLightningStorClient
from lightningstor_types.errors import AccessDenied, BucketAlreadyOwnedByYou, LightningStorError
from tests.fixtures.etcd import EtcdCluster, readable_at, running_etcd
from tests.integration.server import ServerProcess, start_server
from tests.wait import await_until

pytestmark = pytest.mark.etcd

GC_GRACE = 2.0


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    with running_etcd(tmp_path / "etcd") as cluster:
        yield cluster


@pytest.fixture
def servers(tmp_path: Path, etcd: EtcdCluster) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
        "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(etcd.endpoints),
        "LIGHTNINGSTOR_STORAGE__LOCAL_DIR": str(tmp_path / "shared-chunks"),
        "LIGHTNINGSTOR_STORAGE__CHUNK_SIZE": str(1024 * 1024),
        "LIGHTNINGSTOR_STORAGE__GC_GRACE_SECONDS": str(GC_GRACE),
        "LIGHTNINGSTOR_STORAGE__GC_INTERVAL_SECONDS": "0.3",
        "LIGHTNINGSTOR_IAM__SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    with ExitStack() as stack:
        a = start_server(tmp_path / "a", env=env)
        stack.callback(a.stop)
        b = start_server(tmp_path / "b", env=env)
        stack.callback(b.stop)
        yield a, b


def clients(a: ServerProcess, b: ServerProcess) -> tuple[AsyncLightningStorClient, ...]:
    keys = a.admin_keys()  # the first server created the admin key; the second shares it
    return AsyncLightningStorClient(a.grpc_addr, **keys), AsyncLightningStorClient(
        b.grpc_addr, **keys
    )


async def test_racing_create_bucket_on_two_servers_has_one_winner(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    ca, cb = clients(*servers)
    async with ca, cb:
        results = await asyncio.gather(
            *(c.create_bucket("contested") for c in [ca, cb] * 8), return_exceptions=True
        )
        wins = [r for r in results if not isinstance(r, BaseException)]
        assert len(wins) == 1
        assert all(isinstance(r, BucketAlreadyOwnedByYou) for r in results if r not in wins)
        assert [b.name for b in await cb.list_buckets()] == ["contested"]


async def test_racing_puts_of_one_key_leave_one_object_and_no_leaked_chunk(
    servers: tuple[ServerProcess, ServerProcess], etcd: EtcdCluster, tmp_path: Path
) -> None:
    payloads = [hashlib.sha256(bytes([i])).digest() * (40_000 + 997 * i) for i in range(12)]
    ca, cb = clients(*servers)
    async with ca, cb:
        await ca.create_bucket("race")
        await asyncio.gather(
            *(
                (ca if i % 2 else cb).put_object("race", "the-key", data)
                for i, data in enumerate(payloads)
            )
        )
        seen = []
        for c in (ca, cb):
            async with await c.get_object("race", "the-key") as stream:
                seen.append(b"".join([p async for p in stream]))
        assert seen[0] == seen[1]
        assert seen[0] in payloads

        # Every overwritten version's chunks are reclaimed by GC; the survivor's stay. Chunks
        # still in the GC journal are not collected yet: they count as garbage, not references.
        shared = tmp_path / "shared-chunks"
        live, _ = await referenced_chunks(etcd)
        assert live  # the surviving object's chunks

        async def collected() -> bool:
            live_now, journaled = await referenced_chunks(etcd)
            return chunk_files(shared) == live_now == live and not journaled

        await await_until(collected, message="GC to remove every overwritten chunk")


async def test_a_key_deleted_through_one_server_is_refused_by_the_other(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    ca, cb = clients(a, b)
    async with ca, cb:
        key = await ca.create_access_key(description="revoked soon")
        assert key.secret_access_key is not None
        user = AsyncLightningStorClient(
            b.grpc_addr, access_key=key.access_key_id, secret_key=key.secret_access_key
        )
        async with user:
            await user.list_buckets()  # server B now holds the key in its cache
            await user.list_buckets()
            await ca.delete_access_key(key.access_key_id)
            # Well inside the resolver's 30 s TTL: only the watch can make B forget the key.

            async def refused() -> bool:
                try:
                    await user.list_buckets()
                except AccessDenied as exc:
                    assert "unknown access key" in str(exc)
                    return True
                return False

            await await_until(refused, timeout=15, message="B to refuse the deleted key")
            for _ in range(5):  # and it stays refused
                with pytest.raises(AccessDenied, match="unknown access key"):
                    await user.list_buckets()
            assert key.access_key_id not in {k.access_key_id for k in await cb.list_access_keys()}


def chunk_files(root: Path) -> set[str]:
    chunks = root / "chunks"
    return {p.name for p in chunks.rglob("*") if p.is_file() and p.parent.name != "tmp"}


async def referenced_chunks(etcd: EtcdCluster) -> tuple[set[str], set[str]]:
    """The chunks of live data records, and those waiting in the GC journal."""
    store = await EtcdStore.open(EtcdConfig(etcd.endpoints))
    try:
        live: set[str] = set()
        journaled: set[str] = set()
        for kv in (await store.range(b"lightningstor/data/")).kvs:
            rec = records_pb2.DataRecord.FromString(kv.value)
            live.update(c.chunk_id for c in rec.chunks.chunks)
        for kv in (await store.range(b"lightningstor/gc/")).kvs:
            data = records_pb2.GcRecord.FromString(kv.value).data
            journaled.update(c.chunk_id for c in data.chunks.chunks)
        return live, journaled
    finally:
        await store.close()


@pytest.mark.slow
async def test_losing_an_etcd_member_under_load_loses_no_acknowledged_write(
    tmp_path: Path,
) -> None:
    """A three-member etcd cluster; its leader is killed while a server takes PUTs."""
    with ExitStack() as stack:
        cluster = stack.enter_context(running_etcd(tmp_path / "etcd3", members=3))
        env = {
            "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
            "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(cluster.endpoints),
        }
        server = start_server(tmp_path / "srv", env=env)
        stack.callback(server.stop)
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as c:
            await c.create_bucket("load")
            acked: dict[str, bytes] = {}
            failures: Counter[str] = Counter()
            stop = asyncio.Event()

            async def writer(w: int) -> None:
                nonlocal failures
                i = 0
                while not stop.is_set():
                    key, data = f"w{w}/{i}", f"{w}-{i}".encode() * 100
                    try:
                        await c.put_object("load", key, data)
                        acked[key] = data
                    except LightningStorError as exc:  # cut off by the election: may fail
                        failures[type(exc).__name__] += 1
                    i += 1

            tasks = [asyncio.create_task(writer(w)) for w in range(4)]
            try:
                await await_until(lambda: len(acked) >= 40, message=f"40 writes ({failures})")
                cluster.kill(cluster.leader())
                before = len(acked)
                await await_until(
                    lambda: len(acked) >= before + 40,
                    message=f"40 writes after the kill: the service stopped answering ({failures})",
                )
            finally:
                stop.set()
                await asyncio.gather(*tasks)
            for key, data in acked.items():
                async with await c.get_object("load", key) as stream:
                    assert b"".join([p async for p in stream]) == data, key


async def test_a_server_compacts_etcd_history_and_keeps_every_object(
    tmp_path: Path, etcd: EtcdCluster
) -> None:
    """4 KiB PUTs leave their inline bytes in every revision etcd keeps (its RSS grew without
    bound): the server compacts all but ``metadata.retained_revisions`` of them, and every
    object, and the watches of its caches, still work."""
    retained = 100
    writes_per_key = 8
    env = {
        "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
        "LIGHTNINGSTOR_METADATA__ENDPOINTS": etcd.endpoint,
        "LIGHTNINGSTOR_METADATA__RETAINED_REVISIONS": str(retained),
    }
    server = start_server(tmp_path / "srv", env=env)
    try:
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as c:
            await c.create_bucket("small")
            before = await etcd_revision(etcd)
            bodies = {f"k{i}": os.urandom(4096) for i in range(40)}

            async def put(keys: list[str]) -> None:
                for key in keys:  # each key written several times: overwrites, as in the bench
                    for _ in range(writes_per_key):
                        await c.put_object("small", key, bodies[key])

            await asyncio.gather(*(put(list(bodies)[w::8]) for w in range(8)))
            last = await etcd_revision(etcd)
            assert last - before >= writes_per_key * len(bodies) > 3 * retained

            async def compacted() -> bool:
                return not await readable_at(etcd.endpoint, last - 2 * retained)

            await await_until(compacted, message="etcd to be compacted")
            assert not await readable_at(etcd.endpoint, before + 1)
            for key, body in bodies.items():
                async with await c.get_object("small", key) as stream:
                    assert b"".join([p async for p in stream]) == body
            # The bucket cache's watch outlived the compactions: a deleted bucket is gone.
            await c.create_bucket("later")
            await c.delete_bucket("later")
            assert [b.name for b in await c.list_buckets()] == ["small"]
    finally:
        server.stop()


async def etcd_revision(etcd: EtcdCluster) -> int:
    store = await EtcdStore.open(EtcdConfig(etcd.endpoints))
    try:
        return await store.revision()
    finally:
        await store.close()
