"""EmbeddedStore: the contract, plus what only a shared SQLite file has to prove."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import lightningstor_api.metadata as metadata
from lightningstor_api.metadata import (
    EmbeddedStore,
    EventType,
    MetadataError,
    MetadataUnavailable,
    Put,
    WatchCompacted,
    WatchEvent,
)
from lightningstor_api.metadata.embedded import WATCH_BATCH, write_lock_path
from tests.wait import alet_time_pass

from .conftest import OpenEmbedded
from .contract import MetadataStoreContract, collect, first, until_live

# Opens the store, says "ready", waits for a line on stdin so that the processes really race,
# then races create-if-absent on `keys` keys and increments a shared counter `increments` times.
RACE = r"""
import asyncio, json, sys
from pathlib import Path
from lightningstor_api.metadata import Compare, EmbeddedStore, Put

async def main(path, name, keys, increments):
    store = await EmbeddedStore.open(Path(path))
    print("ready", flush=True)
    sys.stdin.readline()
    won = []
    order = range(keys) if name == "p0" else reversed(range(keys))  # they meet midway
    for i in order:
        key = b"race/%d" % i
        if (await store.txn([Compare.absent(key)], [Put(key, name.encode())])).succeeded:
            won.append(i)
    done = 0
    while done < increments:
        kv = await store.get(b"counter")
        guard = Compare.mod_revision(b"counter", kv.mod_revision if kv else 0)
        value = b"%d" % (int(kv.value) + 1 if kv else 1)
        done += (await store.txn([guard], [Put(b"counter", value)])).succeeded
    await store.close()
    print(json.dumps(won), flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""

PUT = r"""
import asyncio, sys
from pathlib import Path
from lightningstor_api.metadata import EmbeddedStore

async def main(path, key):
    store = await EmbeddedStore.open(Path(path))
    await store.put(key.encode(), b"from another process")
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


class TestEmbedded(MetadataStoreContract):
    @pytest.fixture
    async def store(self, open_embedded: OpenEmbedded) -> EmbeddedStore:
        return await open_embedded()


def test_public_names() -> None:
    assert set(metadata.__all__) == {
        "Compare",
        "CompareOp",
        "CompareTarget",
        "Delete",
        "DeletePrefix",
        "EmbeddedStore",
        "EtcdStore",
        "open_store",
        "EventType",
        "Get",
        "KeyValue",
        "MetadataError",
        "MetadataStore",
        "MetadataUnavailable",
        "Op",
        "Put",
        "RangeResult",
        "TxnResult",
        "WatchCompacted",
        "WatchEvent",
        "prefix_end",
        "range_pages",
    }


async def test_range_rows_are_read_only_key_values(open_embedded: OpenEmbedded) -> None:
    # KeyValue is a named tuple (built per row, cheaply): still read-only, fields by name.
    store = await open_embedded()
    revision = await store.put(b"k", b"v")
    (kv,) = (await store.range(b"k")).kvs
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version) == (
        b"k",
        b"v",
        revision,
        revision,
        1,
    )
    with pytest.raises(AttributeError):
        kv.value = b"other"  # type: ignore[misc]


async def test_durability_settings(open_embedded: OpenEmbedded, tmp_path: Path) -> None:
    store = await open_embedded()
    assert await store.pragmas() == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": 30000}
    with sqlite3.connect(tmp_path / "meta.db") as conn:  # WAL is recorded in the file itself
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


async def test_reopen_keeps_data_and_revision(tmp_path: Path) -> None:
    store = await EmbeddedStore.open(tmp_path / "sub" / "meta.db")
    rev = await store.put(b"k", b"v")
    await store.close()
    store = await EmbeddedStore.open(tmp_path / "sub" / "meta.db")
    try:
        assert await store.revision() == rev
        kv = await store.get(b"k")
        assert kv is not None and kv.value == b"v"
        assert await store.put(b"k", b"w") == rev + 1
    finally:
        await store.close()


async def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(MetadataError, match="schema version 99"):
        await EmbeddedStore.open(path)


async def test_close_leaves_no_thread(tmp_path: Path) -> None:
    store = await EmbeddedStore.open(tmp_path / "meta.db")
    await store.put(b"k", b"v")
    await asyncio.gather(*(store.get(b"k") for _ in range(10)))
    watch = store.watch(b"k")
    await until_live(store, watch, b"k")  # the poller runs
    pending = asyncio.create_task(first(watch))
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await pending
    assert not [t for t in threading.enumerate() if t.name.startswith("lightningstor-meta")]


async def test_closed_store_is_unavailable(open_embedded: OpenEmbedded) -> None:
    store = await open_embedded()
    await store.close()
    with pytest.raises(MetadataUnavailable):
        await store.get(b"k")
    with pytest.raises(MetadataUnavailable):
        await store.put(b"k", b"v")
    with pytest.raises(MetadataUnavailable):
        store.watch(b"k")


async def test_second_store_on_the_same_file(open_embedded: OpenEmbedded) -> None:
    """Another store object shares no memory: its writes reach this watch by polling."""
    mine, other = await open_embedded(), await open_embedded()
    watch = mine.watch(b"s/")
    await until_live(mine, watch, b"s/sync")
    pending = asyncio.create_task(first(watch))
    rev = await other.put(b"s/k", b"v")
    async with asyncio.timeout(10):
        assert await pending == WatchEvent(EventType.PUT, b"s/k", b"v", rev)
    assert await mine.revision() == rev


async def test_watch_sees_another_process(open_embedded: OpenEmbedded, tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    store = await open_embedded(path)
    watch = store.watch(b"x/")
    pending = asyncio.create_task(first(watch))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", PUT, str(path), "x/child")
    assert await proc.wait() == 0
    async with asyncio.timeout(10):
        event = await pending
    assert (event.type, event.key) == (EventType.PUT, b"x/child")
    assert event.value == b"from another process"


async def test_processes_race(open_embedded: OpenEmbedded, tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    store = await open_embedded(path)
    keys, increments, names = 200, 50, ["p0", "p1"]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACE,
            str(path),
            name,
            str(keys),
            str(increments),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for name in names
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"ready\n"
    outputs = await asyncio.gather(*(proc.communicate(b"go\n") for proc in procs))
    assert [proc.returncode for proc in procs] == [0, 0]
    won = [set(json.loads(out.splitlines()[-1])) for out, _ in outputs]
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == set(range(keys))
    for name, indexes in zip(names, won, strict=True):
        for i in indexes:
            kv = await store.get(b"race/%d" % i)
            assert kv is not None and kv.value == name.encode() and kv.version == 1
    counter = await store.get(b"counter")
    assert counter is not None and counter.value == b"%d" % (2 * increments)


async def test_writers_take_turns_on_the_write_lock(
    open_embedded: OpenEmbedded, tmp_path: Path
) -> None:
    """A write waits while another process holds the write lock and completes once it is let
    go; reads do not wait for it."""
    path = tmp_path / "meta.db"
    store = await open_embedded(path)
    await store.put(b"k", b"before")
    fd = os.open(write_lock_path(path), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as another process's writer holds it
        write = asyncio.create_task(store.put(b"k", b"after"))
        await alet_time_pass(0.5, "a write that ignored the lock would be done by now")
        assert not write.done()
        kv = await store.get(b"k")
        assert kv is not None and kv.value == b"before"
        fcntl.flock(fd, fcntl.LOCK_UN)
        async with asyncio.timeout(10):
            await write
    finally:
        os.close(fd)
    kv = await store.get(b"k")
    assert kv is not None and kv.value == b"after"


async def test_watch_compacted(open_embedded: OpenEmbedded) -> None:
    store = await open_embedded(retained_revisions=5)
    start = await store.revision() + 1
    behind = store.watch(b"c/", start_revision=start)
    await store.put(b"c/k", b"first")
    assert [e.value for e in await collect(behind, 1)] == [b"first"]
    for i in range(20):
        await store.put(b"c/k", b"%d" % i)
    with pytest.raises(WatchCompacted):
        await anext(store.watch(b"c/", start_revision=start))
    with pytest.raises(WatchCompacted):  # fell behind while not reading
        await anext(behind)
    rev = await store.revision()  # the last five revisions are kept
    recent = store.watch(b"c/", start_revision=rev - 4)
    assert [e.mod_revision for e in await collect(recent, 5)] == list(range(rev - 4, rev + 1))


@pytest.mark.parametrize("prefix", [b"", b"b/"])
async def test_watch_never_splits_a_revision(open_embedded: OpenEmbedded, prefix: bytes) -> None:
    store = await open_embedded()
    start = await store.revision() + 1
    big = WATCH_BATCH + 100
    keys = [b"b/%05d" % i for i in range(big)]
    rev = (await store.txn((), [Put(key, b"") for key in keys])).revision
    after = [await store.put(b"b/after%d" % i, b"") for i in range(3)]
    events = await collect(watch_of(store, prefix, start), big + 3)
    assert [e.key for e in events[:big]] == keys
    assert {e.mod_revision for e in events[:big]} == {rev}
    assert [e.mod_revision for e in events[big:]] == after


def watch_of(store: EmbeddedStore, prefix: bytes, start: int) -> AsyncIterator[WatchEvent]:
    """A watch, typed as the protocol's iterator."""
    return store.watch(prefix, start_revision=start)


async def test_aclose_stops_a_waiting_watch(open_embedded: OpenEmbedded) -> None:
    store = await open_embedded()
    watch = store.watch(b"a/")
    await until_live(store, watch, b"a/sync")
    pending = asyncio.create_task(first(watch))
    await watch.aclose()  # type: ignore[attr-defined]
    async with asyncio.timeout(10):
        with pytest.raises(StopAsyncIteration):
            await pending
