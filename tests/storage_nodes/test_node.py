"""The storage-node process: its protocol on the wire, its checks, its lifetime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import google_crc32c
import grpc
import grpc.aio
import pytest

from lightningstor.storage.v1 import storage_pb2 as pb
from lightningstor.storage.v1 import storage_pb2_grpc
from lightningstor_storage import ChunkCorrupt, ChunkExists, ChunkNotFound, new_chunk_id
from lightningstor_storage.chunkfile import BLOCK_SIZE
from lightningstor_storage.replicated.client import NodeClient
from tests.storage_nodes.nodes import NodeProcess, running_nodes
from tests.wait import await_until

MIB = 1024 * 1024


def content(size: int, seed: int = 0) -> bytes:
    block = os.urandom(4096) if seed < 0 else bytes((i * 131 + seed) % 251 for i in range(4096))
    return (block * (size // 4096 + 1))[:size]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> NodeProcess:
    with running_nodes(tmp_path_factory.mktemp("node"), 1) as started:
        yield started[0]


@pytest.fixture
async def client(node: NodeProcess) -> AsyncIterator[NodeClient]:
    c = NodeClient(node.address, timeout=5.0)
    yield c
    await c.close()


@pytest.fixture
async def stub(node: NodeProcess) -> AsyncIterator[storage_pb2_grpc.StorageNodeAsyncStub]:
    async with grpc.aio.insecure_channel(node.address) as channel:
        yield storage_pb2_grpc.StorageNodeStub(channel)


def raw_put(
    chunk_id: str, data: bytes, *, size: int | None = None, crc: int | None = None
) -> list[pb.PutChunkRequest]:
    header = pb.PutChunkHeader(
        chunk_id=chunk_id,
        size=len(data) if size is None else size,
        crc32c=google_crc32c.value(data) if crc is None else crc,
    )
    pieces = [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
    return [pb.PutChunkRequest(header=header)] + [pb.PutChunkRequest(content=p) for p in pieces]


async def stream(messages: list[pb.PutChunkRequest]) -> AsyncIterator[pb.PutChunkRequest]:
    for m in messages:
        yield m


@pytest.mark.parametrize("size", [0, 1, BLOCK_SIZE + 1, 3 * MIB + 17])
async def test_put_get_ranges_delete(client: NodeClient, size: int) -> None:
    data = content(size, seed=size % 7)
    chunk_id = new_chunk_id()
    await client.put(chunk_id, data, google_crc32c.value(data))
    assert await client.read_all(chunk_id) == data
    if size > 10:
        got = b"".join([p async for p in client.get(chunk_id, 5, size - 10)])
        assert got == data[5 : size - 5]
        tail = b"".join([p async for p in client.get(chunk_id, size - 3)])
        assert tail == data[-3:]
    assert await client.exists(chunk_id) == size
    assert await client.verify(chunk_id) == (size, google_crc32c.value(data))
    assert await client.delete(chunk_id) is True
    assert await client.delete(chunk_id) is False
    assert await client.exists(chunk_id) is None
    with pytest.raises(ChunkNotFound):
        await client.read_all(chunk_id)


async def test_put_of_a_taken_id_is_already_exists(client: NodeClient) -> None:
    chunk_id = new_chunk_id()
    await client.put(chunk_id, b"one", google_crc32c.value(b"one"))
    with pytest.raises(ChunkExists):
        await client.put(chunk_id, b"two", google_crc32c.value(b"two"))
    assert await client.read_all(chunk_id) == b"one"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"crc": 12345}, grpc.StatusCode.DATA_LOSS),
        ({"size": 10}, grpc.StatusCode.INVALID_ARGUMENT),  # fewer announced than sent
        ({"size": 2 * MIB}, grpc.StatusCode.INVALID_ARGUMENT),  # more announced than sent
    ],
)
async def test_put_that_does_not_match_its_header_stores_nothing(
    stub: storage_pb2_grpc.StorageNodeAsyncStub,
    node: NodeProcess,
    change: dict[str, int],
    code: grpc.StatusCode,
) -> None:
    data = content(MIB + 5)
    chunk_id = new_chunk_id()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutChunk(stream(raw_put(chunk_id, data, **change)))
    assert err.value.code() == code
    assert chunk_id not in node.chunk_files()
    tmp = node.data_dir / "chunks" / "tmp"
    assert not tmp.exists() or not any(p.name.startswith(chunk_id) for p in tmp.iterdir())
    reply = await stub.ChunkExists(pb.ChunkExistsRequest(chunk_id=chunk_id))
    assert not reply.exists


def trailing_put(
    chunk_id: str, data: bytes, *, size: int | None = None, crc: int | None = None
) -> list[pb.PutChunkRequest]:
    header = pb.PutChunkHeader(chunk_id=chunk_id, trailing=True)
    trailer = pb.PutChunkTrailer(
        size=len(data) if size is None else size,
        crc32c=google_crc32c.value(data) if crc is None else crc,
    )
    pieces = [data[i : i + 300_000] for i in range(0, len(data), 300_000)]
    return [
        pb.PutChunkRequest(header=header),
        *(pb.PutChunkRequest(content=p) for p in pieces),
        pb.PutChunkRequest(trailer=trailer),
    ]


async def test_a_trailing_put_is_checked_against_its_trailer(
    stub: storage_pb2_grpc.StorageNodeAsyncStub,
) -> None:
    data = content(2 * MIB + 9)
    chunk_id = new_chunk_id()
    reply = await stub.PutChunk(stream(trailing_put(chunk_id, data)))
    assert (reply.size, reply.crc32c) == (len(data), google_crc32c.value(data))
    replies = [r async for r in stub.GetChunk(pb.GetChunkRequest(chunk_id=chunk_id))]
    assert b"".join(r.content for r in replies) == data


@pytest.mark.parametrize(
    ("messages", "code"),
    [
        (lambda i, d: trailing_put(i, d, crc=7), grpc.StatusCode.DATA_LOSS),
        (lambda i, d: trailing_put(i, d, size=len(d) - 1), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda i, d: trailing_put(i, d)[:-1], grpc.StatusCode.INVALID_ARGUMENT),  # no trailer
        (
            lambda i, d: [*trailing_put(i, d), pb.PutChunkRequest(content=b"late")],
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda i, d: [*raw_put(i, d)[:-1], pb.PutChunkRequest(trailer=pb.PutChunkTrailer())],
            grpc.StatusCode.INVALID_ARGUMENT,  # a trailer the header did not announce
        ),
    ],
)
async def test_a_trailing_put_that_does_not_match_stores_nothing(
    stub: storage_pb2_grpc.StorageNodeAsyncStub,
    node: NodeProcess,
    messages: Callable[[str, bytes], list[pb.PutChunkRequest]],
    code: grpc.StatusCode,
) -> None:
    data = content(MIB + 77)
    chunk_id = new_chunk_id()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutChunk(stream(messages(chunk_id, data)))
    assert err.value.code() == code
    assert chunk_id not in node.chunk_files()
    tmp = node.data_dir / "chunks" / "tmp"
    assert not tmp.exists() or not any(p.name.startswith(chunk_id) for p in tmp.iterdir())


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [pb.PutChunkRequest(content=b"x")],
        [
            pb.PutChunkRequest(header=pb.PutChunkHeader(chunk_id="../../etc", size=1)),
            pb.PutChunkRequest(content=b"x"),
        ],
        [
            pb.PutChunkRequest(header=pb.PutChunkHeader(chunk_id="a" * 32, size=-1)),
        ],
        [
            pb.PutChunkRequest(header=pb.PutChunkHeader(chunk_id="b" * 32, size=1)),
            pb.PutChunkRequest(header=pb.PutChunkHeader(chunk_id="b" * 32, size=1)),
        ],
    ],
)
async def test_malformed_puts_are_invalid_argument(
    stub: storage_pb2_grpc.StorageNodeAsyncStub, messages: list[pb.PutChunkRequest]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.PutChunk(stream(messages))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_bad_ids_and_ranges(stub: storage_pb2_grpc.StorageNodeAsyncStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.DeleteChunk(pb.DeleteChunkRequest(chunk_id="../x"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    chunk_id = new_chunk_id()
    await stub.PutChunk(stream(raw_put(chunk_id, b"0123456789")))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.GetChunk(pb.GetChunkRequest(chunk_id=chunk_id, offset=5, length=6)):
            pass
    assert err.value.code() == grpc.StatusCode.OUT_OF_RANGE


async def test_get_sends_the_crc32c_of_each_piece(
    stub: storage_pb2_grpc.StorageNodeAsyncStub,
) -> None:
    data = content(2 * MIB + 3)
    chunk_id = new_chunk_id()
    await stub.PutChunk(stream(raw_put(chunk_id, data)))
    replies = [r async for r in stub.GetChunk(pb.GetChunkRequest(chunk_id=chunk_id))]
    assert len(replies) == 3
    assert all(google_crc32c.value(r.content) == r.crc32c for r in replies)
    assert b"".join(r.content for r in replies) == data


async def test_a_corrupt_chunk_file_is_data_loss(client: NodeClient, node: NodeProcess) -> None:
    data = content(3 * BLOCK_SIZE)
    chunk_id = new_chunk_id()
    await client.put(chunk_id, data, google_crc32c.value(data))
    path = node.chunk_files()[chunk_id]
    with path.open("r+b") as f:
        f.seek(2 * BLOCK_SIZE + 10)
        f.write(b"\xff")
    # The blocks before the damage are still served; the damaged one never is.
    first = b"".join([p async for p in client.get(chunk_id, 0, BLOCK_SIZE)])
    assert first == data[:BLOCK_SIZE]
    with pytest.raises(ChunkCorrupt):
        await client.read_all(chunk_id)
    with pytest.raises(ChunkCorrupt):
        await client.verify(chunk_id)


async def test_listing_is_in_id_order_and_pages(
    stub: storage_pb2_grpc.StorageNodeAsyncStub, client: NodeClient
) -> None:
    ids = sorted(new_chunk_id() for _ in range(30))
    for chunk_id in ids:
        await client.put(chunk_id, chunk_id.encode(), google_crc32c.value(chunk_id.encode()))
    listed = [s.chunk_id async for s in client.list()]
    assert listed == sorted(listed)
    assert set(ids) <= set(listed)
    page = [
        s.chunk_id
        async for r in stub.ListChunks(pb.ListChunksRequest(start_after=ids[9], limit=5))
        for s in r.chunks
    ]
    after = [i for i in listed if i > ids[9]][:5]
    assert page == after
    stats = {s.chunk_id: s async for s in client.list()}
    assert stats[ids[0]].size == 32


async def test_node_info_and_draining_survive_a_restart(tmp_path: Path) -> None:
    with running_nodes(tmp_path, 1, args=["--zone", "zone-x"]) as (node,):
        c = NodeClient(node.address, timeout=5.0)
        try:
            data = b"abc"
            await c.put(new_chunk_id(), data, google_crc32c.value(data))
            info = await c.info()
            assert info.zone == "zone-x"
            assert len(info.node_id) == 32
            assert info.chunk_count == 1
            assert 0 < info.free_bytes <= info.capacity_bytes
            assert not info.draining
            assert (await c.set_draining(True)).draining
            node_id = info.node_id
        finally:
            await c.close()
        node.restart()
        c = NodeClient(node.address, timeout=5.0)
        try:
            info = await c.info()
            assert info.node_id == node_id
            assert info.draining
            assert not (await c.set_draining(False)).draining
        finally:
            await c.close()
        assert node.stop() == 0
    messages = [r.get("msg") for r in node.log_records()]
    assert "storage node listening" in messages
    assert messages[-1] == "stopped"


async def test_a_node_that_is_down_is_a_node_error(tmp_path: Path) -> None:
    from lightningstor_storage.replicated.client import NodeError

    with running_nodes(tmp_path, 1) as (node,):
        address = node.address
    c = NodeClient(address, timeout=1.0)
    try:
        with pytest.raises(NodeError):
            await c.info()
        with pytest.raises(NodeError):
            await c.read_all(new_chunk_id())
    finally:
        await c.close()


async def test_mutual_tls_lets_only_clients_with_a_certificate_in(tmp_path: Path) -> None:
    from lightningstor_storage.replicated.client import NodeError
    from lightningstor_types.config import ClientTlsSettings
    from tests.fixtures.etcd import write_test_certificates

    certs = write_test_certificates(tmp_path / "certs")
    env = {
        "LIGHTNINGSTOR_TLS__CERT_FILE": str(certs.server_cert),
        "LIGHTNINGSTOR_TLS__KEY_FILE": str(certs.server_key),
        "LIGHTNINGSTOR_TLS__CA_FILE": str(certs.ca),
    }
    probe = grpc.ssl_channel_credentials(
        certs.ca.read_bytes(), certs.client_key.read_bytes(), certs.client_cert.read_bytes()
    )
    with running_nodes(tmp_path / "tls", 1, env=env, credentials=probe) as (node,):
        tls = ClientTlsSettings(
            ca_file=certs.ca, cert_file=certs.client_cert, key_file=certs.client_key
        )
        trusted = NodeClient(node.address, timeout=5.0, tls=tls)
        anonymous = NodeClient(node.address, timeout=2.0, tls=ClientTlsSettings(ca_file=certs.ca))
        plain = NodeClient(node.address, timeout=2.0)
        try:
            chunk_id = new_chunk_id()
            await trusted.put(chunk_id, b"secret", google_crc32c.value(b"secret"))
            assert await trusted.read_all(chunk_id) == b"secret"
            for client in (anonymous, plain):
                with pytest.raises(NodeError):
                    await client.read_all(chunk_id)
        finally:
            for client in (trusted, anonymous, plain):
                await client.close()


async def test_the_node_scrub_quarantines_a_corrupt_chunk(tmp_path: Path) -> None:
    scrub_on = {"LIGHTNINGSTOR_SCRUB_RATE_BYTES_PER_SECOND": "64MiB"}
    with running_nodes(tmp_path, 1, env=scrub_on) as (node,):
        c = NodeClient(node.address, timeout=5.0)
        try:
            ids = [new_chunk_id() for _ in range(3)]
            for chunk_id in ids:
                data = content(BLOCK_SIZE + 1, seed=len(chunk_id))
                await c.put(chunk_id, data, google_crc32c.value(data))
        finally:
            await c.close()
        node.stop()
        path = node.chunk_files()[ids[1]]
        raw = bytearray(path.read_bytes())
        raw[5] ^= 0x20
        path.write_bytes(bytes(raw))
        node.start()  # the first pass starts with the node
        await await_until(
            lambda: ids[1] not in node.chunk_files(), 30, "the scrub to quarantine the chunk"
        )
        assert set(node.chunk_files()) == {ids[0], ids[2]}
        assert [p.name.split(".")[0] for p in (node.data_dir / "quarantine").iterdir()] == [ids[1]]


def test_the_admin_cli_reports_and_drains(node: NodeProcess) -> None:
    def admin(*args: str) -> tuple[int, list[dict[str, object]]]:
        done = subprocess.run(
            [sys.executable, "-m", "lightningstor_storage.node.admin", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]

    code, (info,) = admin("info", node.address)
    assert code == 0 and info["draining"] is False and info["address"] == node.address
    code, (info,) = admin("drain", node.address)
    assert code == 0 and info["draining"] is True
    code, (info,) = admin("undrain", node.address)
    assert code == 0 and info["draining"] is False
    code, (down,) = admin("info", "127.0.0.1:1", "--timeout", "2")
    assert code == 1 and "error" in down
