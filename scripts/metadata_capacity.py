#!/usr/bin/env python3
"""How many objects one etcd cluster holds: record sizes measured on real records.

    uv run python scripts/metadata_capacity.py [--objects 20000]

Builds representative records with the generated ``records_pb2`` classes (36-character org and
project ids, a 55-byte object key, 8 MiB chunks), prints the bytes of the three records a
PutObject writes, the size of object records and commit transactions by chunk count and for
multipart uploads (against etcd's 1.5 MiB request limit) in the layout before the record
tree of docs/metadata-capacity.md §4 (whose figures come from
tests/metadata/test_etcd_large_objects.py), then writes ``--objects`` objects'
records into a fresh etcd, compacts and defragments it and reports database bytes and member
memory per object. The figures of docs/metadata-capacity.md come from this script.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import grpc.aio
from aetcd import rpc  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fixtures.etcd

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2
from lightningstor_api.metadata import EtcdStore, Put
from lightningstor_api.metadata.etcd_conn import EtcdConfig
from tests.fixtures.etcd import running_etcd

ETCD_REQUEST_LIMIT = 1_572_864  # etcd's default --max-request-bytes

ORG, PROJECT = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))  # ids of 36 characters
ROOT = b"lightningstor/"


def chunk_ref(replicas: int) -> records_pb2.ChunkRef:
    return records_pb2.ChunkRef(
        chunk_id=secrets.token_hex(16),
        size=8 * 1024 * 1024,
        crc32c=0xDEADBEEF,
        replicas=[f"storage-node-{i:02d}" for i in range(replicas)],
    )


def object_records(
    name: str, chunks: int, replicas: int
) -> tuple[records_pb2.ObjectRecord, records_pb2.DataRecord]:
    """The version record (== the current copy) and the data record of one PutObject."""
    refs = [chunk_ref(replicas) for _ in range(chunks)]
    data = records_pb2.DataRecord(
        data_id=secrets.token_hex(16),
        refcount=1,
        size=sum(r.size for r in refs),
        chunks=records_pb2.ChunkList(chunks=refs),
    )
    record = records_pb2.ObjectRecord(
        key=name,
        version_id="null",
        sort_id=f"{secrets.randbits(64):016x}{secrets.token_hex(4)}",
        etag=f'"{secrets.token_hex(16)}"',
        size=data.size,
        headers=common_pb2.ContentHeaders(content_type="application/octet-stream"),
        user_metadata={"origin": "pipeline-7", "sha": secrets.token_hex(8)},
        storage_class="STANDARD",
        checksums=common_pb2.Checksums(crc32c="AAAAAA=="),
        owner_id=f"principal-{secrets.token_hex(6)}",
        data_id=data.data_id,
        manifest=[records_pb2.ChunkSlice(chunk=r, offset=0, length=r.size) for r in refs],
    )
    record.last_modified.GetCurrentTime()
    return record, data


def object_puts(name: str, chunks: int = 1, replicas: int = 0) -> list[Put]:
    """The three keys a PutObject writes (docs/architecture.md §5): version, current copy and
    data record."""
    record, data = object_records(name, chunks, replicas)
    scope = f"{ORG}/{PROJECT}/my-bucket-01/".encode()
    value = record.SerializeToString()
    return [
        Put(ROOT + b"versions/" + scope + name.encode() + b"\0" + record.sort_id.encode(), value),
        Put(ROOT + b"objects/" + scope + name.encode(), value),
        Put(ROOT + b"data/" + data.data_id.encode(), data.SerializeToString()),
    ]


def multipart_complete_bytes(parts: int, chunks_per_part: int, replicas: int) -> dict[str, int]:
    """Sizes of the records CompleteMultipartUpload writes today (manifest flattened)."""
    record, _ = object_records("big/object.bin", 0, replicas)
    refs = [chunk_ref(replicas) for _ in range(chunks_per_part)]  # sizes only: reuse ids
    for _ in range(parts):
        record.manifest.extend(records_pb2.ChunkSlice(chunk=r, length=r.size) for r in refs)
    record.parts.extend(
        records_pb2.PartSummary(
            part_number=n, size=chunks_per_part * 8 * 1024 * 1024, etag=f'"{secrets.token_hex(16)}"'
        )
        for n in range(1, parts + 1)
    )
    spans = [
        records_pb2.DataSpan(data_id=secrets.token_hex(16), length=1 << 32) for _ in range(parts)
    ]
    data = records_pb2.DataRecord(
        data_id=secrets.token_hex(16), refcount=1, children=records_pb2.SpanList(spans=spans)
    )
    obj = record.ByteSize()
    return {"object": obj, "data": data.ByteSize(), "txn": 2 * obj + data.ByteSize()}


def commit_bytes(chunks: int, replicas: int) -> int:
    record, data = object_records("k" * 55, chunks, replicas)
    return 2 * record.ByteSize() + data.ByteSize()


def multipart_txn_bytes(parts: int, replicas: int) -> int:
    return multipart_complete_bytes(parts, 1, replicas)["txn"]


def first_over(size: Callable[[int], int]) -> int:
    """The smallest count whose size passes etcd's request limit (sizes grow with the count)."""
    lo, hi = 1, 2
    while size(hi) <= ETCD_REQUEST_LIMIT:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if size(mid) <= ETCD_REQUEST_LIMIT else (lo, mid)
    return hi


def segmented_complete_bytes(parts: int, per_segment: int) -> dict[str, int]:
    """The proposal: the object record keeps no manifest and no part list; the composite data
    record is a root of segment records, each listing up to ``per_segment`` parts (span and
    summary), all written by the commit transaction."""
    record, _ = object_records("big/object.bin", 0, 0)
    segments = []
    for first in range(0, parts, per_segment):
        count = min(per_segment, parts - first)
        spans = records_pb2.SpanList(
            spans=[
                records_pb2.DataSpan(data_id=secrets.token_hex(16), length=5 << 30)
                for _ in range(count)
            ]
        )
        summaries = [
            records_pb2.PartSummary(
                part_number=first + i + 1, size=5 << 30, etag=f'"{secrets.token_hex(16)}"'
            )
            for i in range(count)
        ]
        segments.append(spans.ByteSize() + sum(p.ByteSize() + 2 for p in summaries))
    root = records_pb2.DataRecord(
        data_id=secrets.token_hex(16),
        refcount=1,
        children=records_pb2.SpanList(
            spans=[
                records_pb2.DataSpan(data_id=secrets.token_hex(16), length=1 << 42)
                for _ in segments
            ]
        ),
    )
    obj = record.ByteSize()
    return {
        "object": obj,
        "root": root.ByteSize(),
        "segment": max(segments),
        "txn": 2 * obj + root.ByteSize() + sum(segments),
    }


async def etcd_footprint(endpoint: str, objects: int, replicas: int) -> dict[str, float]:
    """Write ``objects`` PutObjects' records, compact, defragment: database bytes per object."""
    store = await EtcdStore.open(EtcdConfig([endpoint], timeout=30))
    async with grpc.aio.insecure_channel(endpoint) as channel:
        maintenance, kv = rpc.MaintenanceStub(channel), rpc.KVStub(channel)
        before = await maintenance.Status(rpc.StatusRequest())
        batch = 128 // 3
        for first_object in range(0, objects, batch):
            ops: list[Put] = []
            for i in range(first_object, min(objects, first_object + batch)):
                ops += object_puts(
                    f"datasets/2026/11/21/shard-{i // 1000:05d}/part-{i:07d}.parquet", 1, replicas
                )
            await store.txn((), ops)
        revision = await store.revision()
        await kv.Compact(rpc.CompactionRequest(revision=revision, physical=True))
        await maintenance.Defragment(rpc.DefragmentRequest())
        after = await maintenance.Status(rpc.StatusRequest())
    await store.close()
    return {
        "db bytes/object": (after.dbSize - before.dbSize) / objects,
        "db in use bytes/object": (after.dbSizeInUse - before.dbSizeInUse) / objects,
    }


async def first_page_ms(endpoint: str, sizes: tuple[int, ...]) -> list[tuple[int, float, float]]:
    """etcd 3.4 counts every key of a Range to its end, limit or not: page cost by range size."""
    store = await EtcdStore.open(EtcdConfig([endpoint], timeout=30, namespace=b"listing/"))
    written, rows = 0, []
    for size in sizes:
        while written < size:
            await store.txn((), [Put(b"o/%09d" % (written + i), b"x" * 300) for i in range(128)])
            written += 128
        timings = []
        for start in (None, b"o/%09d" % (written - 150)):
            began = time.perf_counter()
            for _ in range(20):
                await store.range(b"o/", start=start, limit=100)
            timings.append((time.perf_counter() - began) / 20 * 1000)
        rows.append((written, timings[0], timings[1]))
    await store.close()
    return rows


def capacity(args: argparse.Namespace, workdir: Path) -> None:
    puts = object_puts("datasets/2026/11/21/shard-00001/part-0001234.parquet")
    print("## One PutObject of one chunk (local backend): the three records\n")
    print("| key | key bytes | value bytes |\n| --- | --- | --- |")
    for put in puts:
        label = put.key.split(b"/")[1].decode()
        print(f"| {label} | {len(put.key)} | {len(put.value)} |")
    total = sum(len(p.key) + len(p.value) for p in puts)
    print(f"\nkeys + values: {total} bytes per object\n")
    bucket = records_pb2.BucketRecord(
        name="my-bucket-01",
        org_id=ORG,
        project_id=PROJECT,
        bucket_id=secrets.token_hex(16),
        region="us-east-1",
        owner_id=f"principal-{secrets.token_hex(6)}",
    )
    bucket.created_at.GetCurrentTime()
    print(f"bucket record: {bucket.ByteSize()} bytes\n")

    print(
        "## Object record and commit transaction by chunk count (replicas: 0 local, 3 replicated)\n"
    )
    print("| chunks | replicas | object record | data record | commit txn (2 object + data) |")
    print("| --- | --- | --- | --- | --- |")
    for replicas in (0, 3):
        for chunks in (1, 64, 640, 2048, 4096):
            record, data = object_records("k", chunks, replicas)
            size, data_size = record.ByteSize(), data.ByteSize()
            txn = 2 * size + data_size
            print(f"| {chunks} | {replicas} | {size:,} | {data_size:,} | {txn:,} |")
    print("\n## CompleteMultipartUpload today (flattened manifest, part list in both copies)\n")
    print("| parts x chunks each | object record | data record | commit txn |")
    print("| --- | --- | --- | --- |")
    for parts, per_part in ((100, 1), (1000, 1), (10_000, 1), (10_000, 64)):
        sizes = multipart_complete_bytes(parts, per_part, 0)
        cells = [f"{parts:,} x {per_part}", *(f"{sizes[k]:,}" for k in ("object", "data", "txn"))]
        print("| " + " | ".join(cells) + " |")
    one, many = multipart_complete_bytes(10_000, 1, 0), multipart_complete_bytes(10_000, 64, 0)
    per_slice = (many["object"] - one["object"]) / (10_000 * 63)
    big = one["object"] + per_slice * 10_000 * 639
    print(
        f"| 10,000 x 640 (5 TiB, extrapolated: {per_slice:.1f} bytes per slice) | {big:,.0f} | "
        f"{one['data']:,} | {2 * big + one['data']:,.0f} |"
    )
    for replicas in (0, 3):
        chunks = first_over(partial(commit_bytes, replicas=replicas))
        parts = first_over(partial(multipart_txn_bytes, replicas=replicas))
        print(
            f"- replicas {replicas}: a PutObject commit passes etcd's {ETCD_REQUEST_LIMIT:,} bytes "
            f"at {chunks:,} chunks; a CompleteMultipartUpload at {parts:,} parts of one chunk"
        )
    print("\n## Proposed: manifests spilled into segment records of 1,000 parts\n")
    sizes = segmented_complete_bytes(10_000, 1_000)
    print(
        f"10,000 parts, any chunks per part and replicas: object record {sizes['object']:,}, "
        f"root {sizes['root']:,}, largest segment {sizes['segment']:,}, "
        f"commit txn {sizes['txn']:,} bytes"
    )

    with ExitStack() as stack:
        cluster = stack.enter_context(running_etcd(workdir / "etcd"))
        figures = asyncio.run(etcd_footprint(cluster.endpoint, args.objects, 0))
        pages = asyncio.run(first_page_ms(cluster.endpoint, (1_000, 10_000, 100_000, 300_000)))
    print(f"\n## etcd 3.4 after {args.objects:,} PutObjects, compacted and defragmented\n")
    for name, value in figures.items():
        print(f"- {name}: {value:,.0f}")
    per_object = figures["db bytes/object"]
    print(f"- objects in etcd's suggested 8 GiB: {8 * 1024**3 / per_object:,.0f}")
    print("\n## A page of 100 keys (Range with limit) by keys in the range, etcd 3.4\n")
    print("| keys in range | first page ms | last page ms |\n| --- | --- | --- |")
    for keys, first_ms, last_ms in pages:
        print(f"| {keys:,} | {first_ms:.1f} | {last_ms:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--objects", type=int, default=20_000, help="objects written to etcd")
    parser.add_argument("--dir", type=Path, help="where etcd's data goes (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lightningstor-capacity-", dir=args.dir) as workdir:
        capacity(args, Path(workdir))


if __name__ == "__main__":
    main()
