"""Fixtures of the core tests: a real Core (EmbeddedStore + LocalBackend) in ``tmp_path``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from lightningstor.v1 import bucket_pb2
from lightningstor_api.core import Core
from lightningstor_types.config import Settings
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext
from tests.fixtures.etcd import EtcdCluster, running_etcd

MIB = 1024 * 1024


def make_settings(data_dir: Path, **sections: Any) -> Settings:
    """Test settings: data under ``data_dir``, 1 MiB chunks (so small bodies span chunks)."""
    storage = {"chunk_size": MIB, **sections.pop("storage", {})}
    return Settings(server={"data_dir": data_dir}, storage=storage, **sections)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def core(settings: Settings) -> AsyncIterator[Core]:
    c = await Core.open(settings)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext(principal=Principal("tester", "acme", "web"), request_id="test")


@pytest.fixture
async def bucket(core: Core, ctx: RequestContext) -> str:
    """An unversioned bucket in the caller's scope."""
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name="test-bucket"))
    return "test-bucket"


@pytest.fixture
async def versioned(core: Core, ctx: RequestContext) -> str:
    """A bucket with versioning enabled."""
    name = "versioned-bucket"
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=name))
    await core.put_bucket_versioning(
        ctx,
        bucket_pb2.PutBucketVersioningRequest(
            name=name, status=bucket_pb2.VERSIONING_STATUS_ENABLED
        ),
    )
    return name


@pytest.fixture(params=["embedded", "etcd"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, object]]:
    """Settings sections for each metadata store: the embedded default, then a real etcd."""
    if request.param == "embedded":
        yield {}
        return
    cluster: EtcdCluster
    with running_etcd(tmp_path / "etcd") as cluster:
        yield {"metadata": {"backend": "etcd", "endpoints": cluster.endpoints}}
