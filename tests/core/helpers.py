"""Helpers of the core tests: bodies, round trips and "did anything change" snapshots."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import object_pb2
from lightningstor_api.authz import Authorizer
from lightningstor_api.core import Core
from lightningstor_api.iam.audit import AUDIT_LOGGER
from lightningstor_api.iam.embedded import EmbeddedAuthorizer
from lightningstor_api.iam.policy import PolicyEngine
from lightningstor_types.config import IamSettings
from lightningstor_types.service import RequestContext


async def chunks_of(data: bytes, piece: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``data`` as a request body arrives: in pieces."""
    for i in range(0, len(data), piece):
        yield data[i : i + piece]


def etag_of(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


async def put(
    core: Core, ctx: RequestContext, bucket: str, key: str, data: bytes = b"", **header: Any
) -> object_pb2.PutObjectResponse:
    header.setdefault("content_length", len(data))
    return await core.put_object(
        ctx, object_pb2.PutObjectHeader(bucket=bucket, key=key, **header), chunks_of(data)
    )


async def get(
    core: Core, ctx: RequestContext, bucket: str, key: str, **req: Any
) -> tuple[object_pb2.GetObjectHeader, bytes]:
    stream = await core.get_object(ctx, object_pb2.GetObjectRequest(bucket=bucket, key=key, **req))
    body = b"".join([piece async for piece in stream.body])
    return stream.header, body


def chunk_files(data_dir: Path) -> set[str]:
    """Every file under ``data_dir/chunks`` (temporary ones included)."""
    root = data_dir / "chunks"
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )


async def metadata(core: Core) -> dict[bytes, bytes]:
    """Every metadata key and value."""
    page = await core.cc.store.range(core.cc.keys.root)
    return {kv.key: kv.value for kv in page.kvs}


async def snapshot(core: Core) -> tuple[dict[bytes, bytes], set[str]]:
    """All metadata and all chunk files: equal before and after a refused request."""
    return await metadata(core), chunk_files(core.cc.settings.server.data_dir)


async def data_records(core: Core) -> list[records_pb2.DataRecord]:
    page = await core.cc.store.range(core.cc.keys.data_prefix())
    return [records_pb2.DataRecord.FromString(kv.value) for kv in page.kvs]


async def gc_entries(core: Core) -> list[records_pb2.GcRecord]:
    page = await core.cc.store.range(core.cc.keys.gc_prefix())
    return [records_pb2.GcRecord.FromString(kv.value) for kv in page.kvs]


def keys_of(infos: Iterable[Any]) -> list[str]:
    return [i.key for i in infos]


def policy(**iam: Any) -> Authorizer:
    """The embedded policy engine with ``[iam]`` settings ``iam`` (roles, bindings): the real
    authorizer, deny by default."""
    return EmbeddedAuthorizer(PolicyEngine.from_settings(IamSettings(**iam)))


def audited(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    """(action, resource, decision) of each audit line so far: every authorization the core
    asked for, in order (``caplog`` must capture ``lightningstor.audit`` at INFO)."""
    return [
        (str(r.msg["action"]), str(r.msg["resource"]), str(r.msg["decision"]))
        for r in caplog.records
        if r.name == AUDIT_LOGGER and isinstance(r.msg, dict)
    ]
