"""Objects whose chunk or part lists are large stay inside etcd's request limit (issue #4).

The core runs on a real etcd with its real record bounds. Every transaction it sends is
measured (the serialized etcd TxnRequest, what etcd's ``--max-request-bytes`` limits) and the
largest must stay under etcd's default 1,572,864 bytes.

- 10,000 parts: S3's minimum part size (5 MiB) would make that 50 GB, so the core runs with
  ``limits.min_part_size`` lowered to 1 byte (a configuration the settings allow) and tiny
  parts. The metadata is exactly what 10,000 parts of any size produce: one part data record
  each, a root and ten segments on completion.
- 5,120 chunks with 3 replicas each (5 GiB at 1 MiB chunks on the replicated backend) cannot be
  written here as data (15 GB); the PutObject's records are built by the core's own builder from
  5,120 chunk references with 3 replicas each and committed through the core's commit path,
  then resolved back, deleted and collected. The same path with real replicas and real bytes
  runs below with real storage nodes and lowered bounds.

The figures of docs/metadata-capacity.md §4 are logged (``-o log_cli=true --log-cli-level=INFO``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aetcd import rpc  # type: ignore[import-untyped]

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_api.core.content import RecordBounds, content_slices, multipart_records
from lightningstor_api.core.content import chunk_records as build_chunk_records
from lightningstor_api.core.versions import commit_version
from lightningstor_api.metadata import EtcdStore, TxnResult
from lightningstor_types.checksums import ChecksumAlgorithm
from lightningstor_types.config import Settings
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext
from tests.core.helpers import chunk_files, chunks_of, get, put
from tests.storage_nodes.nodes import NodeProcess, running_nodes

pytestmark = pytest.mark.etcd
log = logging.getLogger(__name__)

ETCD_REQUEST_LIMIT = 1_572_864
MIB = 1024 * 1024
PARTS = 10_000
PART_SIZE = 16
CTX = RequestContext(principal=Principal("tester", "acme", "web"), request_id="test")


class Measured:
    """The real EtcdStore, noting the size of every transaction request it sends."""

    def __init__(self, inner: EtcdStore) -> None:
        self.inner = inner
        self.largest = 0

    async def txn(self, compares: Any, success: Any, failure: Any = ()) -> TxnResult:
        request = rpc.TxnRequest(
            compare=[self.inner._compare(c) for c in compares],
            success=[self.inner._op(op) for op in success],
            failure=[self.inner._op(op) for op in failure],
        )
        self.largest = max(self.largest, request.ByteSize())
        return await self.inner.txn(compares, success, failure)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def core(tmp_path: Path, etcd_endpoint: str) -> AsyncIterator[tuple[Core, Measured]]:
    settings = Settings(
        server={"data_dir": tmp_path},
        storage={"chunk_size": MIB},
        metadata={
            "backend": "etcd",
            "endpoints": [etcd_endpoint],
            "prefix": f"test/{uuid.uuid4().hex}/lightningstor/",
        },
        limits={"min_part_size": 1},
    )
    c = await Core.open(settings)
    inner = c.cc.store
    assert isinstance(inner, EtcdStore)
    measured = Measured(inner)
    c.cc.store = measured  # type: ignore[assignment]
    await c.create_bucket(CTX, bucket_pb2.CreateBucketRequest(name="big"))
    try:
        yield c, measured
    finally:
        c.cc.store = inner
        await c.close()


async def all_data(core: Core) -> list[records_pb2.DataRecord]:
    """Every data record (paged: there are thousands)."""
    out: list[records_pb2.DataRecord] = []
    start: bytes | None = None
    while True:
        page = await core.cc.store.range(core.cc.keys.data_prefix(), start=start, limit=1000)
        out.extend(records_pb2.DataRecord.FromString(kv.value) for kv in page.kvs)
        if not page.more or not page.kvs:
            return out
        start = page.kvs[-1].key + b"\x00"


async def nothing_left(core: Core) -> None:
    """Collect until the journal is empty; then no data record and no chunk file remain."""
    for _ in range(5):
        await core.gc.run_once()
        page = await core.cc.store.range(core.cc.keys.gc_prefix(), limit=1)
        if not page.kvs:
            break
    assert not (await core.cc.store.range(core.cc.keys.gc_prefix(), limit=1)).kvs
    assert await all_data(core) == []
    assert chunk_files(core.cc.settings.server.data_dir) == set()


def part_body(n: int) -> bytes:
    return b"%05d:" % n + os.urandom(PART_SIZE - 6)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # 10,000 parts on etcd: minutes on a busy machine, not a hang
async def test_ten_thousand_parts_complete_read_copy_and_collect_on_etcd(
    core: tuple[Core, Measured],
) -> None:
    c, measured = core
    created = await c.create_multipart_upload(
        CTX,
        object_pb2.CreateMultipartUploadRequest(
            bucket="big", key="huge", checksum_algorithm=common_pb2.CHECKSUM_ALGORITHM_SHA256
        ),
    )
    uid = created.upload_id
    bodies = [part_body(n) for n in range(1, PARTS + 1)]
    parts = []
    for n in range(1, PARTS + 1):  # one at a time: every part commit bumps the upload record
        header = object_pb2.UploadPartHeader(
            bucket="big", key="huge", upload_id=uid, part_number=n, content_length=PART_SIZE
        )
        sent = await c.upload_part(CTX, header, chunks_of(bodies[n - 1]))
        parts.append(object_pb2.CompletedPart(part_number=n, etag=sent.etag))
    measured.largest = 0
    done = await c.complete_multipart_upload(
        CTX,
        object_pb2.CompleteMultipartUploadRequest(
            bucket="big", key="huge", upload_id=uid, parts=parts
        ),
    )
    complete_bytes = measured.largest
    log.info("figure: complete of %d parts: largest txn %d bytes", PARTS, complete_bytes)
    assert 0 < complete_bytes < ETCD_REQUEST_LIMIT
    assert done.etag.endswith(f'-{PARTS}"')
    whole = b"".join(bodies)
    assert done.size == len(whole)

    # The version record holds no part list and no manifest: the root and ten segments do.
    kv = await c.cc.store.get(c.cc.keys.object(CTX.principal.scope, "big", "huge"))
    assert kv is not None
    rec = records_pb2.ObjectRecord.FromString(kv.value)
    assert rec.part_count == PARTS and not rec.parts and not rec.manifest
    log.info("figure: object record %d bytes", len(kv.value))
    root = records_pb2.DataRecord.FromString(
        (await c.cc.store.get(c.cc.keys.data(rec.data_id))).value  # type: ignore[union-attr]
    )
    assert len(root.children.spans) == 10
    segments = [await c.cc.data_cache.load(sp.data_id) for sp in root.children.spans]
    log.info(
        "figure: root %d bytes, segments %s", root.ByteSize(), [s.ByteSize() for s in segments]
    )

    head = await c.head_object(
        CTX, object_pb2.HeadObjectRequest(bucket="big", key="huge", checksum_mode=True)
    )
    assert head.header.object.parts_count == PARTS
    assert head.header.object.size == len(whole)
    assert head.header.object.checksums.sha256.endswith(f"-{PARTS}")

    # A range across the first segment boundary (parts 999 to 1002), a part in the second
    # segment with its own checksum, and the whole object.
    first, last = 998 * PART_SIZE + 3, 1002 * PART_SIZE - 2
    _, got = await get(c, CTX, "big", "huge", range=common_pb2.ByteRange(first=first, last=last))
    assert got == whole[first : last + 1]
    n = 1500
    header, got = await get(c, CTX, "big", "huge", part_number=n, checksum_mode=True)
    assert got == bodies[n - 1]
    assert header.range_first == (n - 1) * PART_SIZE
    assert header.object.parts_count == PARTS
    assert (
        header.object.checksums.sha256
        == base64.b64encode(hashlib.sha256(bodies[n - 1]).digest()).decode()
    )
    _, got = await get(c, CTX, "big", "huge")
    assert got == whole

    # A copy shares the root; deleting the original leaves the copy whole.
    measured.largest = 0
    await c.copy_object(
        CTX,
        object_pb2.CopyObjectRequest(
            bucket="big", key="copy", source=object_pb2.CopySource(bucket="big", key="huge")
        ),
    )
    assert measured.largest < ETCD_REQUEST_LIMIT
    await c.delete_object(CTX, object_pb2.DeleteObjectRequest(bucket="big", key="huge"))
    await c.gc.run_once()
    _, got = await get(c, CTX, "big", "copy", part_number=PARTS)
    assert got == bodies[-1]
    _, got = await get(c, CTX, "big", "copy", range=common_pb2.ByteRange(first=first, last=last))
    assert got == whole[first : last + 1]

    measured.largest = 0
    await c.delete_object(CTX, object_pb2.DeleteObjectRequest(bucket="big", key="copy"))
    await nothing_left(c)
    assert 0 < measured.largest < ETCD_REQUEST_LIMIT  # the collector's transactions too
    log.info("figure: delete and collect: largest txn %d bytes", measured.largest)


def replicated_chunk() -> records_pb2.ChunkRef:
    return records_pb2.ChunkRef(
        chunk_id=secrets.token_hex(16),
        size=MIB,
        crc32c=0xDEADBEEF,
        replicas=[f"10.0.0.{i}:9002" for i in range(1, 4)],
    )


async def test_put_of_5120_replicated_chunks_fits_one_request_on_etcd(
    core: tuple[Core, Measured],
) -> None:
    c, measured = core
    chunks = [replicated_chunk() for _ in range(5120)]
    size = 5120 * MIB
    records = build_chunk_records(chunks, size, c.cc.bounds)
    assert len(records) > 1  # a root over segments
    rec = records_pb2.ObjectRecord(etag='"x"', size=size, data_id=records[0].data_id)
    ref = await c.cc.bucket(CTX.principal.scope, "big")
    measured.largest = 0
    await commit_version(c.cc, ref, "five-gib", rec, new_data=records)
    assert 0 < measured.largest < ETCD_REQUEST_LIMIT
    log.info(
        "figure: put txn %d bytes, records %s", measured.largest, [r.ByteSize() for r in records]
    )

    head = await c.head_object(CTX, object_pb2.HeadObjectRequest(bucket="big", key="five-gib"))
    assert head.header.object.size == size
    # Every chunk, in order, with its replicas, resolved back through the tree.
    got = [s async for s in content_slices(c.cc.data_cache, rec.data_id, 0, size - 1)]
    assert [s.chunk for s in got] == chunks
    # A range across a segment boundary touches just the two chunks around it.
    edge = c.cc.bounds.segment_chunks * MIB
    near = [s async for s in content_slices(c.cc.data_cache, rec.data_id, edge - 5, edge + 5)]
    assert [s.chunk.chunk_id for s in near] == [
        chunks[c.cc.bounds.segment_chunks - 1].chunk_id,
        chunks[c.cc.bounds.segment_chunks].chunk_id,
    ]
    assert [(s.offset, s.length) for s in near] == [(MIB - 5, 5), (0, 6)]

    # Overwriting releases the old tree (its root goes to the journal) within the limit too.
    measured.largest = 0
    again = build_chunk_records([replicated_chunk() for _ in range(5120)], size, c.cc.bounds)
    rec2 = records_pb2.ObjectRecord(etag='"y"', size=size, data_id=again[0].data_id)
    await commit_version(c.cc, ref, "five-gib", rec2, new_data=again)
    assert measured.largest < ETCD_REQUEST_LIMIT
    log.info("figure: overwrite txn %d bytes", measured.largest)
    await c.delete_object(CTX, object_pb2.DeleteObjectRequest(bucket="big", key="five-gib"))
    await nothing_left(c)
    assert measured.largest < ETCD_REQUEST_LIMIT


async def test_record_sizes_of_ten_thousand_parts_with_sha256(core: tuple[Core, Measured]) -> None:
    """The segments of 10,000 parts each carrying a SHA-256 stay far from the limit."""
    c, _ = core
    parts = [
        records_pb2.PartRecord(
            part_number=n,
            size=5 * MIB,
            etag=f'"{secrets.token_hex(16)}"',
            data_id=secrets.token_hex(16),
            checksums=common_pb2.Checksums(
                sha256=secrets.token_urlsafe(32)[:43] + "=",
                type=common_pb2.CHECKSUM_TYPE_COMPOSITE,
            ),
        )
        for n in range(1, PARTS + 1)
    ]
    records = multipart_records(parts, ChecksumAlgorithm.SHA256, c.cc.bounds)
    total = sum(r.ByteSize() for r in records)
    assert len(records) == 11
    assert total < ETCD_REQUEST_LIMIT * 0.8


@pytest.fixture
def storage_nodes(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path / "nodes", 4) as started:
        yield started


async def test_replicated_put_splits_its_chunk_list_on_etcd(
    tmp_path: Path, etcd_endpoint: str, storage_nodes: list[NodeProcess]
) -> None:
    """Real bytes on real storage nodes (3 replicas), metadata on etcd, record bounds lowered
    so that 10 chunks make a root over three segments; read back, then collected."""
    settings = Settings(
        server={"data_dir": tmp_path / "server"},
        storage={
            "backend": "distributed",
            "chunk_size": MIB,
            "distributed": {
                "nodes": [{"address": n.address} for n in storage_nodes],
                "replication_factor": 3,
            },
        },
        metadata={
            "backend": "etcd",
            "endpoints": [etcd_endpoint],
            "prefix": f"test/{uuid.uuid4().hex}/lightningstor/",
        },
    )
    c = await Core.open(settings)
    c.cc.bounds = RecordBounds(inline_slices=2, segment_chunks=4, segment_parts=2)
    try:
        await c.create_bucket(CTX, bucket_pb2.CreateBucketRequest(name="dist"))
        data = os.urandom(10 * MIB - 7)
        await put(c, CTX, "dist", "k", data)
        kv = await c.cc.store.get(c.cc.keys.object(CTX.principal.scope, "dist", "k"))
        assert kv is not None
        rec = records_pb2.ObjectRecord.FromString(kv.value)
        assert not rec.manifest  # over the inline bound: read through the tree
        records = await all_data(c)
        segments = [r for r in records if r.WhichOneof("content") == "chunks"]
        assert sorted(len(s.chunks.chunks) for s in segments) == [2, 4, 4]
        addresses = {n.address for n in storage_nodes}
        for chunk in (ch for s in segments for ch in s.chunks.chunks):
            assert 2 <= len(chunk.replicas) <= 3 and set(chunk.replicas) <= addresses
        _, body = await get(c, CTX, "dist", "k")
        assert body == data
        first, last = 4 * MIB - 3, 8 * MIB + 3  # across both segment boundaries
        _, got = await get(c, CTX, "dist", "k", range=common_pb2.ByteRange(first=first, last=last))
        assert got == data[first : last + 1]
        await c.delete_object(CTX, object_pb2.DeleteObjectRequest(bucket="dist", key="k"))
        await c.gc.run_once()
        await c.gc.run_once()
        assert await all_data(c) == []
        assert all(not n.chunk_files() for n in storage_nodes)
    finally:
        await c.close()
