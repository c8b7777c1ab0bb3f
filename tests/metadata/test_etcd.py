"""EtcdStore: the contract on a real etcd, plus what only etcd has to prove.

Failover, TLS and auth run on etcd processes of their own (tests/fixtures/etcd.py); everything
else shares one etcd per test process, each test under its own key namespace.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from aetcd import rpc  # type: ignore[import-untyped]

from lightningstor_api.metadata import (
    EmbeddedStore,
    EtcdStore,
    EventType,
    KeyValue,
    MetadataError,
    MetadataUnavailable,
    Put,
    WatchCompacted,
    WatchEvent,
    open_store,
)
from lightningstor_api.metadata.etcd_conn import EtcdConfig, EtcdTls
from lightningstor_api.metadata.factory import etcd_config
from lightningstor_types.config import Settings
from tests.fixtures.etcd import (
    EtcdCluster,
    TlsFiles,
    free_port,
    readable_at,
    running_etcd,
    write_test_certificates,
)
from tests.wait import alet_time_pass, await_until

from .conftest import OpenEtcd
from .contract import MetadataStoreContract, collect, first, until_live

pytestmark = pytest.mark.etcd

MIB = 1024 * 1024


class TestEtcd(MetadataStoreContract):
    @pytest.fixture
    async def store(self, open_etcd: OpenEtcd) -> EtcdStore:
        return await open_etcd()


async def compact(endpoint: str, revision: int) -> None:
    """Compact etcd's history up to ``revision`` (an operator's job, done directly here)."""
    async with grpc.aio.insecure_channel(endpoint) as channel:
        await rpc.KVStub(channel).Compact(rpc.CompactionRequest(revision=revision, physical=True))


@pytest.fixture
def single(tmp_path: Path) -> Iterator[EtcdCluster]:
    """An etcd member of its own, for tests that kill it or change its settings."""
    with running_etcd(tmp_path / "single") as cluster:
        yield cluster


@pytest.fixture
async def stores() -> AsyncIterator[list[EtcdStore]]:
    """Stores opened by a test without open_etcd; closed at teardown."""
    opened: list[EtcdStore] = []
    yield opened
    for store in opened:
        await store.close()


async def _answered(store: EtcdStore, key: bytes) -> KeyValue | None:
    """The key's value, or None while the store is unavailable (for a wait until it answers)."""
    try:
        return await store.get(key)
    except MetadataUnavailable:
        return None


# ---- reaching etcd ----
async def test_open_fails_in_bounded_time_when_nothing_answers(open_etcd: OpenEtcd) -> None:
    dead = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    async with asyncio.timeout(10):
        with pytest.raises(MetadataUnavailable, match="no etcd endpoint answered within 1 s"):
            await open_etcd(*dead, timeout=1.0)


async def test_a_dead_first_endpoint_is_skipped(open_etcd: OpenEtcd, etcd_endpoint: str) -> None:
    store = await open_etcd(f"127.0.0.1:{free_port()}", etcd_endpoint)
    assert store.endpoint == etcd_endpoint
    rev = await store.put(b"k", b"v")
    assert await store.revision() == rev


async def test_member_down_then_back(single: EtcdCluster, stores: list[EtcdStore]) -> None:
    store = await EtcdStore.open(EtcdConfig(single.endpoints, timeout=1.0))
    stores.append(store)
    await store.put(b"k", b"v")
    member = single.members[0]
    await asyncio.to_thread(member.kill)
    async with asyncio.timeout(10):  # every call fails within its timeout, none hangs
        with pytest.raises(MetadataUnavailable):
            await store.get(b"k")
        with pytest.raises(MetadataUnavailable):
            await store.put(b"k", b"w")
    await asyncio.to_thread(single.restart, member)
    # The channel reconnects on its own, within gRPC's back-off (<= 1 s).
    kv = await await_until(lambda: _answered(store, b"k"), 15, "a get answered after the restart")
    assert kv.value == b"v"


@pytest.mark.parametrize("role", ["leader", "follower"])
async def test_failover_during_a_write_load(
    etcd_cluster: EtcdCluster, stores: list[EtcdStore], role: str
) -> None:
    """Kill the member the store talks to: writes go on, none acknowledged is lost, and a
    watch opened before the kill delivers every write once, in order."""
    leader = etcd_cluster.leader()
    first_choice = (
        leader if role == "leader" else next(m for m in etcd_cluster.members if m is not leader)
    )
    endpoints = [first_choice.endpoint] + [
        e for e in etcd_cluster.endpoints if e != first_choice.endpoint
    ]
    store = await EtcdStore.open(EtcdConfig(endpoints, timeout=5.0))
    stores.append(store)
    assert store.endpoint == first_choice.endpoint
    watch = store.watch(b"load/", start_revision=await store.revision() + 1)
    acked: list[bytes] = []
    unknown: list[bytes] = []
    reasons: list[str] = []
    stop = asyncio.Event()

    async def writer(w: int) -> None:
        i = 0
        while not stop.is_set():
            key = b"load/%d/%05d" % (w, i)
            try:
                await store.put(key, key)
                acked.append(key)
            except MetadataUnavailable as exc:  # cut off in flight: maybe applied, maybe not
                unknown.append(key)
                reasons.append(str(exc))
            i += 1

    async def until(count: int) -> None:
        await await_until(lambda: len(acked) >= count, 30, f"{count} acknowledged writes")

    writers = [asyncio.create_task(writer(w)) for w in range(4)]
    try:
        await until(100)
        victim = etcd_cluster.member_at(store.endpoint)
        await asyncio.to_thread(victim.kill)
        killed_at = len(acked)
        await until(killed_at + 300)  # the service keeps answering
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert store.endpoint != victim.endpoint
    # Cut off: the writes in flight at the kill and, when the leader dies, those a follower
    # forwarded to it before noticing (each ends at the deadline): a few per writer at most.
    assert len(unknown) <= 4 * len(writers), reasons

    stored = await store.range(b"load/")
    keys = {kv.key for kv in stored.kvs}
    assert set(acked) <= keys  # no acknowledged write is lost
    assert keys <= set(acked) | set(unknown)
    events = await collect(watch, len(keys))
    assert {e.key for e in events} == keys and len(events) == len(keys)
    revisions = [e.mod_revision for e in events]
    assert revisions == sorted(revisions) and revisions[-1] == stored.revision


async def test_a_hung_member_is_left_behind(
    etcd_cluster: EtcdCluster, stores: list[EtcdStore]
) -> None:
    """A member that stops answering but keeps its connections open costs one call."""
    store = await EtcdStore.open(EtcdConfig(etcd_cluster.endpoints, timeout=2.0))
    stores.append(store)
    await store.put(b"k", b"v")
    hung = etcd_cluster.member_at(store.endpoint)
    hung.pause()
    try:
        async with asyncio.timeout(10):
            with pytest.raises(MetadataUnavailable, match="did not answer in time"):
                await store.get(b"k")
        # The next calls go elsewhere (after an election if it led).
        kv = await await_until(lambda: _answered(store, b"k"), 10, "a get answered elsewhere")
        assert kv.value == b"v"
        assert store.endpoint != hung.endpoint
    finally:
        hung.resume()


# ---- watch across stores, compaction ----
async def test_a_change_through_one_store_reaches_another(open_etcd: OpenEtcd) -> None:
    """The cache pattern of the servers: read, watch from the next revision, get told."""
    a, b = await open_etcd(), await open_etcd()
    await a.put(b"buckets/x", b"v1")
    cached = await b.range(b"buckets/")
    assert [kv.value for kv in cached.kvs] == [b"v1"]
    watch = b.watch(b"buckets/", start_revision=cached.revision + 1)
    pending = asyncio.create_task(first(watch))
    rev = await a.put(b"buckets/x", b"v2")
    async with asyncio.timeout(5):  # the bound
        assert await pending == WatchEvent(EventType.PUT, b"buckets/x", b"v2", rev)
    assert await a.delete(b"buckets/x")
    assert await collect(watch, 1) == [WatchEvent(EventType.DELETE, b"buckets/x", b"", rev + 1)]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_watch_compacted(open_etcd: OpenEtcd, etcd_endpoint: str) -> None:
    store = await open_etcd()
    start = await store.revision() + 1
    for i in range(5):
        await store.put(b"c/k", b"%d" % i)
    rev = await store.revision()
    await compact(etcd_endpoint, rev)
    with pytest.raises(WatchCompacted) as info:
        await anext(store.watch(b"c/", start_revision=start))
    assert (info.value.start_revision, info.value.compact_revision) == (start, rev)
    recent = store.watch(b"c/", start_revision=rev)
    assert await collect(recent, 1) == [WatchEvent(EventType.PUT, b"c/k", b"4", rev)]


async def test_history_is_compacted_behind_the_writes(tmp_path: Path) -> None:
    """etcd keeps every revision until compacted (its RSS grew without bound under 4 KiB PUTs):
    a store with ``retained_revisions`` keeps that many and compacts older ones as it writes;
    with 0 it never compacts. Current values are untouched either way."""
    retained, writes, body = 100, 400, b"x" * 4096
    with running_etcd(tmp_path / "etcd") as etcd:
        plain = await EtcdStore.open(EtcdConfig([etcd.endpoint], namespace=b"plain/"))
        try:
            first_rev = await plain.put(b"k", b"0")
            for i in range(writes):
                await plain.put(b"k%d" % (i % 10), body)
        finally:
            await plain.close()
        assert await readable_at(etcd.endpoint, first_rev)  # nothing compacted it

        config = EtcdConfig([etcd.endpoint], namespace=b"c/", retained_revisions=retained)
        store = await EtcdStore.open(config)
        try:
            for i in range(writes):
                last = await store.put(b"k%d" % (i % 10), b"%d" % i + body)
            await store.compactor.wait()
            # etcd now holds between retained and 2 * retained revisions
            assert not await readable_at(etcd.endpoint, first_rev)
            assert not await readable_at(etcd.endpoint, last - 2 * retained)
            assert await readable_at(etcd.endpoint, last - retained)
            values = {kv.key: kv.value for kv in (await store.range(b"")).kvs}
            assert values == {b"k%d" % k: b"%d" % (writes - 10 + k) + body for k in range(10)}
        finally:
            await store.close()


async def test_namespaces_do_not_meet(open_etcd: OpenEtcd, etcd_namespace: bytes) -> None:
    a = await open_etcd(namespace=etcd_namespace + b"a/")
    b = await open_etcd(namespace=etcd_namespace + b"b/")
    await a.put(b"k", b"a")
    assert await b.get(b"k") is None
    assert (await b.range(b"")).kvs == []
    kv = await a.get(b"k")
    assert kv is not None and kv.key == b"k"


async def test_close_leaves_nothing_running(open_etcd: OpenEtcd) -> None:
    store = await open_etcd()
    watch = store.watch(b"k")
    await until_live(store, watch, b"k")
    pending = asyncio.create_task(first(watch))
    await store.close()
    async with asyncio.timeout(5):
        with pytest.raises(StopAsyncIteration):
            await pending
    # gRPC settles a cancelled call's status in a task of its own, a moment after the close
    await await_until(
        lambda: asyncio.all_tasks() == {asyncio.current_task()},
        timeout=5,
        message="every task of the closed store to end",
    )
    with pytest.raises(MetadataUnavailable):
        await store.get(b"k")
    with pytest.raises(MetadataUnavailable):
        await store.put(b"k", b"v")
    with pytest.raises(MetadataUnavailable):
        store.watch(b"k")


async def test_calls_in_flight_at_close_fail_cleanly(open_etcd: OpenEtcd) -> None:
    store = await open_etcd()
    await store.put(b"k", b"v")
    calls = [asyncio.create_task(store.get(b"k")) for _ in range(50)]
    calls += [asyncio.create_task(store.put(b"k/%d" % i, b"v")) for i in range(50)]
    await asyncio.sleep(0)
    await store.close()
    for outcome in await asyncio.gather(*calls, return_exceptions=True):
        # done before the close, or MetadataUnavailable: never a CancelledError of a task
        # that nobody cancelled
        assert not isinstance(outcome, BaseException) or isinstance(outcome, MetadataUnavailable)


# ---- etcd's limits ----
@pytest.mark.parametrize("size", [MIB + MIB // 2 + 1, 3 * MIB], ids=["over-1.5MiB", "3MiB"])
async def test_an_oversized_request_fails_clearly(open_etcd: OpenEtcd, size: int) -> None:
    store = await open_etcd()
    async with asyncio.timeout(10):
        with pytest.raises(MetadataError, match="too large") as info:
            await store.put(b"big", b"x" * size)
        assert not isinstance(info.value, MetadataUnavailable)
        with pytest.raises(MetadataError, match="too large"):
            await store.txn((), [Put(b"a", b"x" * (size // 2)), Put(b"b", b"x" * (size // 2))])
    assert await store.get(b"big") is None


async def test_pages_larger_than_grpc_default_limit(open_etcd: OpenEtcd) -> None:
    """Values near etcd's limit fit, and a page of them (over gRPC's default 4 MiB) is read."""
    store = await open_etcd()
    value = b"v" * (MIB + MIB // 4)
    for i in range(4):
        await store.put(b"p/%d" % i, value)
    page = await store.range(b"p/")
    assert [kv.value for kv in page.kvs] == [value] * 4


async def test_too_many_operations_in_one_txn(open_etcd: OpenEtcd) -> None:
    store = await open_etcd()
    with pytest.raises(MetadataError, match="too many operations"):
        await store.txn((), [Put(b"m/%d" % i, b"") for i in range(129)])
    await store.txn((), [Put(b"m/%d" % i, b"") for i in range(128)])


# ---- TLS and authentication ----
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return write_test_certificates(tmp_path_factory.mktemp("tls"))


async def test_mutual_tls_from_the_settings(
    tmp_path: Path, tls_files: TlsFiles, stores: list[EtcdStore]
) -> None:
    args, context = tls_files.etcd_args(), tls_files.client_context()
    with running_etcd(tmp_path, extra_args=args, ssl_context=context) as cluster:
        tls = {
            "ca_file": tls_files.ca,
            "cert_file": tls_files.client_cert,
            "key_file": tls_files.client_key,
        }
        settings = Settings(
            metadata={"backend": "etcd", "endpoints": cluster.endpoints, "tls": tls}
        )
        store = await open_store(settings)
        assert isinstance(store, EtcdStore)
        stores.append(store)
        rev = await store.put(b"tls/k", b"v")
        assert await store.get(b"tls/k") is not None and await store.revision() == rev

        # without a client certificate, or in plain TCP, there is no connection: unavailable
        for config in (
            EtcdConfig(cluster.endpoints, tls=EtcdTls(ca=tls_files.ca.read_bytes()), timeout=1),
            EtcdConfig(cluster.endpoints, timeout=1),
        ):
            with pytest.raises(MetadataUnavailable):
                await EtcdStore.open(config)


async def enable_auth(endpoint: str) -> None:
    """root (needed to enable auth) and a user "ls" who may use keys under lightningstor/."""
    async with grpc.aio.insecure_channel(endpoint) as channel:
        auth = rpc.AuthStub(channel)
        await auth.UserAdd(rpc.AuthUserAddRequest(name="root", password="root-pw"))
        await auth.UserGrantRole(rpc.AuthUserGrantRoleRequest(user="root", role="root"))
        await auth.RoleAdd(rpc.AuthRoleAddRequest(name="ls"))
        permission = rpc.Permission(
            permType=rpc.Permission.READWRITE, key=b"lightningstor/", range_end=b"lightningstor0"
        )
        await auth.RoleGrantPermission(
            rpc.AuthRoleGrantPermissionRequest(name="ls", perm=permission)
        )
        await auth.UserAdd(rpc.AuthUserAddRequest(name="ls", password="ls-pw"))
        await auth.UserGrantRole(rpc.AuthUserGrantRoleRequest(user="ls", role="ls"))
        await auth.AuthEnable(rpc.AuthEnableRequest())


async def test_authentication(tmp_path: Path, stores: list[EtcdStore]) -> None:
    with running_etcd(tmp_path, extra_args=["--auth-token-ttl=1"]) as cluster:
        await enable_auth(cluster.endpoint)
        meta = {"backend": "etcd", "chainfire_endpoints": cluster.endpoint, "timeout_seconds": 2}
        store = await open_store(Settings(metadata={**meta, "username": "ls", "password": "ls-pw"}))
        assert isinstance(store, EtcdStore)
        stores.append(store)
        await store.put(b"lightningstor/k", b"v")
        with pytest.raises(MetadataError, match="permission denied"):
            await store.put(b"elsewhere", b"v")
        watch = store.watch(b"lightningstor/")
        await alet_time_pass(1.5, "the token expires; the store fetches a new one by itself")
        rev = await store.put(b"lightningstor/k", b"w")
        await alet_time_pass(1.5, "expired again: calls that notice together fetch one token")
        reads = await asyncio.gather(*(store.get(b"lightningstor/k") for _ in range(20)))
        assert {kv.value for kv in reads if kv is not None} == {b"w"}
        assert await collect(watch, 1) == [WatchEvent(EventType.PUT, b"lightningstor/k", b"w", rev)]
        await watch.aclose()  # type: ignore[attr-defined]

        with pytest.raises(MetadataError, match=r"authentication as .ls.*authentication failed"):
            await open_store(Settings(metadata={**meta, "username": "ls", "password": "wrong"}))
        with pytest.raises(MetadataError, match=r"user name is empty|permission denied"):
            await open_store(Settings(metadata=meta))


# ---- the factory ----
def test_etcd_config_from_the_settings(tls_files: TlsFiles) -> None:
    settings = Settings(
        metadata={
            "backend": "etcd",
            "chainfire_endpoints": "10.0.0.1:2379, etcd-2.internal:2379",
            "tls": {"ca_file": tls_files.ca},
            "username": "svc",
            "password": "s3cret",
            "timeout_seconds": "1500ms",
            "prefix": "tenant-a/",
        }
    )
    config = etcd_config(settings)
    assert list(config.endpoints) == ["10.0.0.1:2379", "etcd-2.internal:2379"]
    assert config.tls == EtcdTls(ca=tls_files.ca.read_bytes())
    assert (config.username, config.password, config.timeout) == ("svc", "s3cret", 1.5)
    assert (config.namespace, config.probe_key) == (b"", b"tenant-a/")
    assert config.retained_revisions == 10_000  # the server compacts etcd by default
    assert "s3cret" not in repr(config)


def test_unreadable_tls_file_is_a_metadata_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    settings = Settings(
        metadata={"backend": "etcd", "endpoints": ["h:1"], "tls": {"ca_file": missing}}
    )
    with pytest.raises(MetadataError, match=r"nope\.pem"):
        etcd_config(settings)


async def test_open_store_picks_the_backend(tmp_path: Path, etcd_endpoint: str) -> None:
    embedded = await open_store(Settings(server={"data_dir": tmp_path}))
    try:
        assert isinstance(embedded, EmbeddedStore)
        assert embedded.path == tmp_path / "metadata.db"
    finally:
        await embedded.close()
    prefix = f"factory-{uuid.uuid4().hex}/"
    on_etcd = await open_store(
        Settings(metadata={"backend": "etcd", "endpoints": [etcd_endpoint], "prefix": prefix})
    )
    try:
        assert isinstance(on_etcd, EtcdStore)
        await on_etcd.put(prefix.encode() + b"k", b"v")
        kv = await on_etcd.get(prefix.encode() + b"k")
        assert kv is not None and kv.value == b"v"
    finally:
        await on_etcd.close()


def test_tls_needs_both_certificate_and_key() -> None:
    with pytest.raises(ValueError):
        EtcdTls(cert=b"cert")
    assert isinstance(EtcdTls().credentials(), grpc.ChannelCredentials)
