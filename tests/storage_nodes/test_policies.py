"""Storage policies side by side on seven real storage nodes: chosen per storage class, recorded
per chunk, read back after the configuration changed, and moved to a node that joins.

The seven nodes are shared by the module; after each test every node is resumed and restarted
(same address, same data) if the test stopped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor.meta.v1 import records_pb2
from lightningstor_client import AsyncLightningStorClient
from lightningstor_storage import ChunkInfo, new_chunk_id
from lightningstor_storage.policies import PolicyBackend
from lightningstor_storage.replicated.placement import Node, Placement
from lightningstor_types.config import DistributedSettings, NodeSettings
from lightningstor_types.errors import NoSuchKey, ServiceUnavailable
from tests.integration.server import running_server
from tests.s3.conftest import make_client
from tests.storage_nodes.nodes import NodeProcess, restore, running_nodes
from tests.wait import wait_until

pytestmark = pytest.mark.timeout(240)
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path_factory.mktemp("nodes"), 7) as started:
        yield started


@pytest.fixture
def nodes(cluster: list[NodeProcess]) -> Iterator[list[NodeProcess]]:
    yield cluster
    restore(cluster)


def copies(nodes: list[NodeProcess]) -> Counter[str]:
    """Chunk id -> how many nodes hold a file of it (replicas, or fragments)."""
    return Counter(chunk_id for n in nodes for chunk_id in n.chunk_files())


def settled(nodes: list[NodeProcess], before: Counter[str], chunks: int, each: int) -> None:
    """Wait until the chunk files added since ``before`` are ``chunks`` chunks of ``each`` files
    (a put returns at its write quorum; the last replicas or fragments land in the background)."""

    def done() -> bool:
        new = copies(nodes) - before
        return len(new) == chunks and set(new.values()) == {each}

    wait_until(done, message=f"{chunks} new chunks of {each} files each")


def write_config(path: Path, nodes: list[NodeProcess], *lines: str) -> Path:
    text = ["[storage]", 'backend = "distributed"', 'chunk_size = "1MiB"']
    text += ["[storage.distributed]", "request_timeout_seconds = 10", *lines]
    for node in nodes:
        text += ["[[storage.distributed.nodes]]", f'address = "{node.address}"']
    path.write_text("\n".join(text) + "\n")
    return path


@contextlib.contextmanager
def s3_server(workdir: Path, data_dir: Path, config: Path) -> Iterator[Any]:
    """A server of ``config`` over ``data_dir``, and a boto3 client of its admin key."""
    with running_server(workdir, data_dir=data_dir, args=["--config", str(config)]) as server:
        keys = server.admin_keys()
        s3 = make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])
        try:
            yield s3
        finally:
            s3.close()


def get(s3: Any, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket="mixed", Key=key)["Body"].read()
    return data


def test_storage_class_chooses_the_policy_and_a_changed_default_strands_nothing(
    nodes: list[NodeProcess], tmp_path: Path
) -> None:
    """STANDARD -> replicated 3, STANDARD_IA -> erasure 4+2 in one bucket (PUT and multipart);
    HEAD and LIST report the class; an unknown class is InvalidStorageClass and stores nothing.
    Restarted with erasure 3+2 as the default, every old object still reads (each chunk by its
    recorded policy) and a new one is coded 3+2."""
    first = write_config(
        tmp_path / "first.toml",
        nodes,
        'policy = "replicated"',
        'storage_class_policies = { STANDARD_IA = "erasure" }',
    )
    bodies = {"std": os.urandom(MIB + MIB // 2), "ia": os.urandom(MIB + MIB // 2)}
    part = os.urandom(MIB + 1000)
    data_dir = tmp_path / "data"
    with s3_server(tmp_path / "one", data_dir, first) as s3:
        s3.create_bucket(Bucket="mixed")
        before = copies(nodes)
        s3.put_object(Bucket="mixed", Key="std", Body=bodies["std"])
        settled(nodes, before, 2, 3)  # two chunks: three replicas each
        before = copies(nodes)
        s3.put_object(Bucket="mixed", Key="ia", Body=bodies["ia"], StorageClass="STANDARD_IA")
        settled(nodes, before, 2, 6)  # six fragments each
        before = copies(nodes)
        up = s3.create_multipart_upload(Bucket="mixed", Key="mp", StorageClass="STANDARD_IA")
        etag = s3.upload_part(
            Bucket="mixed", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=part
        )["ETag"]
        s3.complete_multipart_upload(
            Bucket="mixed",
            Key="mp",
            UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
        settled(nodes, before, 2, 6)
        assert "StorageClass" not in s3.head_object(Bucket="mixed", Key="std")
        assert s3.head_object(Bucket="mixed", Key="ia")["StorageClass"] == "STANDARD_IA"
        assert s3.head_object(Bucket="mixed", Key="mp")["StorageClass"] == "STANDARD_IA"
        listed = s3.list_objects_v2(Bucket="mixed")["Contents"]
        assert {o["Key"]: o["StorageClass"] for o in listed} == {
            "ia": "STANDARD_IA",
            "mp": "STANDARD_IA",
            "std": "STANDARD",
        }
        before = copies(nodes)
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket="mixed", Key="bad", Body=os.urandom(MIB), StorageClass="PLATINUM")
        assert err.value.response["Error"]["Code"] == "InvalidStorageClass"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert copies(nodes) == before
        with pytest.raises(ClientError):
            s3.head_object(Bucket="mixed", Key="bad")
    second = write_config(
        tmp_path / "second.toml",
        nodes,
        'policy = "erasure"',
        "erasure_data_fragments = 3",
        "erasure_parity_fragments = 2",
    )
    with s3_server(tmp_path / "two", data_dir, second) as s3:
        assert get(s3, "std") == bodies["std"]
        assert get(s3, "ia") == bodies["ia"]
        assert get(s3, "mp") == part
        ranged = s3.get_object(Bucket="mixed", Key="std", Range=f"bytes={MIB - 5}-{MIB + 4}")
        assert ranged["Body"].read() == bodies["std"][MIB - 5 : MIB + 5]
        before = copies(nodes)
        new = os.urandom(MIB + 10)
        s3.put_object(Bucket="mixed", Key="new", Body=new)
        settled(nodes, before, 2, 5)  # 3 + 2 fragments
        assert get(s3, "new") == new


def test_sealed_chunks_follow_their_storage_class_policy(
    nodes: list[NodeProcess], tmp_path: Path
) -> None:
    """Server-side encryption over storage policies: an SSE-S3 object of an erasure-coded class
    is stored as sealed chunks coded 4+2 (no plaintext on any node), a STANDARD one replicated;
    both read back whole and by range after a restart with another default."""
    first = write_config(
        tmp_path / "first.toml",
        nodes,
        'policy = "replicated"',
        'storage_class_policies = { STANDARD_IA = "erasure" }',
    )
    marker = b"SEALED-PLAINTEXT-" + os.urandom(8).hex().encode()
    bodies = {k: b"".join(marker + os.urandom(5000) for _ in range(300)) for k in ("ia", "std")}
    data_dir = tmp_path / "data"
    sse = {"ServerSideEncryption": "AES256"}
    with s3_server(tmp_path / "one", data_dir, first) as s3:
        s3.create_bucket(Bucket="mixed")
        before = copies(nodes)
        s3.put_object(
            Bucket="mixed", Key="ia", Body=bodies["ia"], StorageClass="STANDARD_IA", **sse
        )
        settled(nodes, before, 2, 6)  # two sealed chunks, six fragments each
        before = copies(nodes)
        s3.put_object(Bucket="mixed", Key="std", Body=bodies["std"], **sse)
        settled(nodes, before, 2, 3)
        head = s3.head_object(Bucket="mixed", Key="ia")
        assert (head["ServerSideEncryption"], head["StorageClass"]) == ("AES256", "STANDARD_IA")
        for node in nodes:
            for path in node.chunk_files().values():
                assert marker not in path.read_bytes(), path
    second = write_config(
        tmp_path / "second.toml",
        nodes,
        'policy = "erasure"',
        "erasure_data_fragments = 3",
        "erasure_parity_fragments = 2",
    )
    with s3_server(tmp_path / "two", data_dir, second) as s3:
        for key, body in bodies.items():
            assert get(s3, key) == body
            ranged = s3.get_object(Bucket="mixed", Key=key, Range=f"bytes={MIB - 5}-{MIB + 70_000}")
            assert ranged["Body"].read() == body[MIB - 5 : MIB + 70_001]


def _placed_on(node: NodeProcess, nodes: list[NodeProcess]) -> str:
    """A new chunk id whose three replicas over ``nodes`` (the default placement) include
    ``node``: each draw succeeds 3 times in 7."""
    placement = Placement([Node(n.address) for n in nodes], 3, "consistent_hash")
    for _ in range(1000):
        cid = new_chunk_id()
        if node.address in {t.address for t in placement.targets(cid)}:
            return cid
    raise AssertionError("no chunk id of 1,000 is placed on the node")


def settings(nodes: list[NodeProcess], **fields: Any) -> DistributedSettings:
    return DistributedSettings(
        nodes=[NodeSettings(address=n.address) for n in nodes],
        request_timeout_seconds=10,
        scrub_rate_bytes_per_second=0,
        **fields,
    )


async def read(b: PolicyBackend, info: ChunkInfo) -> bytes:
    pieces = b.get_chunk(info.chunk_id, replicas=info.replicas, policy=info.policy)
    return b"".join([p async for p in pieces])


def refs(infos: list[ChunkInfo]) -> list[records_pb2.ChunkRef]:
    return [
        records_pb2.ChunkRef(
            chunk_id=i.chunk_id, size=i.size, crc32c=i.crc32c, replicas=i.replicas, policy=i.policy
        )
        for i in infos
    ]


async def test_a_node_added_receives_the_fragments_and_replicas_placement_gives_it(
    nodes: list[NodeProcess],
) -> None:
    """Chunks of both policies written on six nodes; with the seventh added, a repair pass
    moves to it exactly what HRW placement now puts there (fragments and replicas), leaving
    every chunk whole: k + m distinct fragments or three replicas, each on its targets."""
    six, added = nodes[:6], nodes[6]
    small = PolicyBackend(settings(six))
    datas = [os.urandom(MIB + 1000 * i) for i in range(12)]
    # Three replicas of seven nodes miss the seventh for a random chunk 4 times in 7: the first
    # replicated chunk is one that placement puts there, so that a replica always moves.
    ids = [_placed_on(added, nodes), *(new_chunk_id() for _ in datas[1:])]
    try:
        infos = [
            await small.put_chunk(cid, d, kind="erasure" if i % 2 else "replicated")
            for i, (cid, d) in enumerate(zip(ids, datas, strict=True))
        ]
        await small.idle()
    finally:
        await small.close()
    assert {i.policy for i in infos} == {"", "erasure:4+2"}
    assert not set(added.chunk_files()) & {i.chunk_id for i in infos}
    grown = PolicyBackend(settings(nodes))
    try:

        async def referenced() -> AsyncIterator[records_pb2.ChunkRef]:
            for ref in refs(infos):
                yield ref

        await grown.repair_once(referenced)
        erasure = grown.backend_for("erasure:4+2")
        moved = 0
        for info, data in zip(infos, datas, strict=True):
            backend = grown.backend_for(info.policy)
            c = backend.cluster
            targets = {n.address for n in c.placement.targets(info.chunk_id, c.writable)}
            holding = {n.address for n in nodes if info.chunk_id in n.chunk_files()}
            assert holding == targets, info
            moved += added.address in targets
            assert await read(grown, info) == data
            check = await grown.check_chunk(
                info.chunk_id, info.size, info.crc32c, replicas=info.replicas, policy=info.policy
            )
            assert check.state == "good", check
            assert check.detail.startswith("OK: 6 of 6 fragments") == bool(info.policy), check
        assert moved > 0  # with 12 chunks, HRW puts some on the seventh node
        assert erasure.repairer.stats.replicas_trimmed > 0
        assert grown.repairer.stats.replicas_trimmed > 0
        total = grown.repair_stats()  # what admin status and the metrics report: both policies
        assert total.passes == 1 and total.chunks_checked == len(infos)
        assert total.replicas_trimmed == (
            erasure.repairer.stats.replicas_trimmed + grown.repairer.stats.replicas_trimmed
        )
    finally:
        await grown.close()


async def test_small_chunks_below_the_threshold_stay_replicated(
    nodes: list[NodeProcess],
) -> None:
    """With ``erasure_min_chunk_bytes``, a chunk given whole below it is replicated even where
    erasure is asked for (its policy says so); one at the threshold is coded."""
    b = PolicyBackend(settings(nodes, policy="erasure", erasure_min_chunk_bytes=256 * 1024))
    try:
        below = await b.put_chunk(new_chunk_id(), os.urandom(256 * 1024 - 1))
        at = await b.put_chunk(new_chunk_id(), os.urandom(256 * 1024))
        await b.idle()
        assert (below.policy, at.policy) == ("", "erasure:4+2")
        held = copies(nodes)
        assert (held[below.chunk_id], held[at.chunk_id]) == (3, 6)
        assert len(await asyncio.gather(read(b, below), read(b, at))) == 2
    finally:
        await b.close()


async def test_two_nodes_killed_under_mixed_load_through_the_server(
    nodes: list[NodeProcess], tmp_path: Path
) -> None:
    """A server over seven nodes, STANDARD replicated 3 and STANDARD_IA erasure 4+2 in one
    bucket; writers and readers run while two nodes are killed: no read fails, every object
    whose PUT was acknowledged reads back, a PUT that failed is ServiceUnavailable and left
    nothing, and writes go on with five nodes."""
    config = write_config(
        tmp_path / "server.toml",
        nodes,
        'policy = "replicated"',
        'storage_class_policies = { STANDARD_IA = "erasure" }',
    )
    sizes = (100, 300_000, MIB + MIB // 2)
    acked: dict[str, bytes] = {}
    failed: list[str] = []
    reads = 0
    killed = asyncio.Event()
    with running_server(tmp_path / "server", args=["--config", str(config)]) as server:
        async with AsyncLightningStorClient(server.grpc_addr, **server.admin_keys()) as c:
            await c.create_bucket("load")

            async def writer(w: int) -> None:
                for i in range(24):
                    key = f"w{w}/{i}"
                    data = os.urandom(sizes[i % len(sizes)])
                    cls = "STANDARD_IA" if (i + w) % 2 else "STANDARD"
                    try:
                        await c.put_object("load", key, data, storage_class=cls)
                    except ServiceUnavailable:
                        failed.append(key)  # in flight when the nodes died
                        continue
                    acked[key] = data
                    if w == 0 and i >= 8 and not killed.is_set():
                        nodes[1].kill()
                        nodes[4].kill()
                        killed.set()

            async def reader() -> None:
                nonlocal reads
                while not killed.is_set() or reads < 60:
                    for key, data in list(acked.items()):
                        async with await c.get_object("load", key) as stream:
                            assert b"".join([p async for p in stream]) == data, key
                        reads += 1
                    await asyncio.sleep(0)

            writers = asyncio.gather(*(writer(w) for w in range(3)))
            await asyncio.wait_for(asyncio.gather(writers, reader(), reader()), 180)
            assert killed.is_set() and reads >= 60
            assert len(acked) > 60  # writes went on with five nodes
            for key in failed:
                with pytest.raises(NoSuchKey):
                    await c.head_object("load", key)
            for key, data in acked.items():
                async with await c.get_object("load", key) as stream:
                    assert b"".join([p async for p in stream]) == data, key


def test_settings_map_storage_classes_and_check_the_erasure_layout_they_use() -> None:
    """A class mapped to erasure brings the erasure checks (k + m nodes) even when the default
    is replicated; a key that is no S3 storage class is refused, naming it."""
    five = [{"address": f"127.0.0.1:{9000 + i}"} for i in range(5)]
    plain = DistributedSettings.model_validate({"nodes": five})
    assert plain.policy_for("STANDARD_IA") == "replicated" and not plain.erasure_in_use
    with pytest.raises(ValueError, match="at least 6 nodes"):
        DistributedSettings.model_validate(
            {"nodes": five, "storage_class_policies": {"STANDARD_IA": "erasure"}}
        )
    six = [*five, {"address": "127.0.0.1:9005"}]
    mapped = DistributedSettings.model_validate(
        {"nodes": six, "storage_class_policies": {"STANDARD_IA": "erasure"}}
    )
    assert (mapped.policy_for("STANDARD_IA"), mapped.policy_for("STANDARD")) == (
        "erasure",
        "replicated",
    )
    with pytest.raises(ValueError, match="not an S3 storage class"):
        DistributedSettings.model_validate(
            {"nodes": six, "storage_class_policies": {"PLATINUM": "erasure"}}
        )
