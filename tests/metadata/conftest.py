"""Fixtures shared by the metadata tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lightningstor_api.metadata import EmbeddedStore
from lightningstor_api.metadata.etcd import EtcdStore
from lightningstor_api.metadata.etcd_conn import EtcdConfig

OpenEmbedded = Callable[..., Awaitable[EmbeddedStore]]


@pytest.fixture
async def open_embedded(tmp_path: Path) -> AsyncIterator[OpenEmbedded]:
    """Open EmbeddedStores (default file ``tmp_path/meta.db``); all are closed at teardown."""
    stores: list[EmbeddedStore] = []

    async def open_store(path: Path | None = None, **options: Any) -> EmbeddedStore:
        store = await EmbeddedStore.open(path or tmp_path / "meta.db", **options)
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        await store.close()


# -- etcd (tests/fixtures/etcd.py) ------------------------------------------------------------
#
# etcd_server     one real etcd member per test process (session scope; each xdist worker has
#                 its own, so revision arithmetic in the contract is never disturbed)
# etcd_endpoint   its host:port
# etcd_namespace  a fresh key root for one test, so tests never see each other's keys
# open_etcd       open EtcdStores on etcd_endpoint under etcd_namespace; closed at teardown
# etcd_cluster    three members of a fresh cluster for one test (failover tests)
#
# To hoist into tests/conftest.py once other directories (core, integration) need etcd.

if TYPE_CHECKING:
    from tests.fixtures.etcd import EtcdCluster

OpenEtcd = Callable[..., Awaitable[EtcdStore]]


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    from tests.fixtures.etcd import running_etcd

    with running_etcd(tmp_path_factory.mktemp("etcd")) as cluster:
        yield cluster


@pytest.fixture
def etcd_endpoint(etcd_server: EtcdCluster) -> str:
    return etcd_server.endpoint


@pytest.fixture
def etcd_namespace() -> bytes:
    return f"test/{uuid.uuid4().hex}/".encode()


@pytest.fixture
async def open_etcd(etcd_endpoint: str, etcd_namespace: bytes) -> AsyncIterator[OpenEtcd]:
    """Open EtcdStores (default: etcd_endpoint, etcd_namespace); all are closed at teardown."""
    stores: list[EtcdStore] = []

    async def open_store(*endpoints: str, **options: Any) -> EtcdStore:
        options.setdefault("namespace", etcd_namespace)
        config = EtcdConfig(list(endpoints) or [etcd_endpoint], **options)
        store = await EtcdStore.open(config)
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        await store.close()


@pytest.fixture
def etcd_cluster(tmp_path: Path) -> Iterator[EtcdCluster]:
    from tests.fixtures.etcd import running_etcd

    with running_etcd(tmp_path / "cluster", members=3) as cluster:
        yield cluster
