"""EmbeddedStore group commit: concurrent txns share one SQLite commit, each keeps its semantics."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from lightningstor_api.metadata import (
    Compare,
    Delete,
    EmbeddedStore,
    Get,
    MetadataError,
    Put,
    TxnResult,
)

from .conftest import OpenEmbedded
from .contract import aclose, collect

T = TypeVar("T")

# Runs `n` create-if-absent txns at once, prints their revisions once all are answered, then
# waits to be killed: whatever it printed must survive a SIGKILL.
KILLED_AFTER_ACK = r"""
import asyncio, json, sys
from pathlib import Path
from lightningstor_api.metadata import Compare, EmbeddedStore, Put

async def main(path, n):
    store = await EmbeddedStore.open(Path(path))
    async def one(i):
        key = b"durable/%03d" % i
        return (await store.txn([Compare.absent(key)], [Put(key, b"v%d" % i)])).revision
    revisions = await asyncio.gather(*(one(i) for i in range(n)))
    print(json.dumps({"revisions": revisions, "batches": store.write_batches}), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock from another connection (as another server process would)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


async def queued_while_locked(
    path: Path, calls: list[Callable[[], Awaitable[T]]]
) -> list[T | BaseException]:
    """Start every call while the write lock is held elsewhere, so they queue up, then release."""
    with write_lock_held(path):
        tasks = [asyncio.ensure_future(call()) for call in calls]
        await asyncio.sleep(0)  # every task runs up to its submit
        await asyncio.sleep(0)
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_conflicting_creates_have_exactly_one_winner_each(
    open_embedded: OpenEmbedded, tmp_path: Path
) -> None:
    store = await open_embedded()
    start = await store.put(b"other", b"x")
    batches = store.write_batches
    keys, contenders = 10, 20

    def create(key: int, who: int) -> Callable[[], Awaitable[TxnResult]]:
        k = b"race/%d" % key
        return lambda: store.txn([Compare.absent(k)], [Put(k, b"%d" % who)], [Get(k)])

    calls = [create(key, who) for who in range(contenders) for key in range(keys)]
    results = await queued_while_locked(tmp_path / "meta.db", calls)

    assert all(isinstance(r, TxnResult) for r in results)
    txns = [r for r in results if isinstance(r, TxnResult)]
    # Batched: 200 transactions in at most two SQLite commits (the first may have started alone).
    assert store.write_batches - batches <= 2
    # The first contender of each key (in submission order) wins; every other one loses.
    winners = txns[:keys]
    assert all(r.succeeded for r in winners)
    assert not any(r.succeeded for r in txns[keys:])
    # Each winner got its own revision, in order; losers changed nothing.
    assert [r.revision for r in winners] == list(range(start + 1, start + keys + 1))
    assert await store.revision() == start + keys
    for key, result in enumerate(winners):
        kv = await store.get(b"race/%d" % key)
        assert kv is not None and kv.value == b"0" and kv.mod_revision == result.revision
    # A loser's failure branch sees the winner's committed-in-the-same-batch write.
    for result in txns[keys:]:
        seen = result.responses[0]
        assert seen is not None and getattr(seen, "value", None) == b"0"


async def test_later_txns_in_a_batch_see_earlier_ones(
    open_embedded: OpenEmbedded, tmp_path: Path
) -> None:
    """Compare-and-set chains through one batch: each step sees the one before it."""
    store = await open_embedded()
    await store.put(b"counter", b"0")

    def step(i: int) -> Callable[[], Awaitable[TxnResult]]:
        guard = Compare.value_equals(b"counter", b"%d" % i)
        return lambda: store.txn([guard], [Put(b"counter", b"%d" % (i + 1))])

    results = await queued_while_locked(tmp_path / "meta.db", [step(i) for i in range(50)])
    assert all(isinstance(r, TxnResult) and r.succeeded for r in results)
    kv = await store.get(b"counter")
    assert kv is not None and kv.value == b"50" and kv.version == 51


async def test_a_failing_txn_rolls_back_alone(open_embedded: OpenEmbedded, tmp_path: Path) -> None:
    store = await open_embedded()
    await store.put(b"keep", b"old")
    start = await store.revision()
    unbindable: Any = object()  # SQLite cannot store it: the txn fails inside the batch

    calls: list[Callable[[], Awaitable[TxnResult]]] = [
        lambda: store.txn([], [Put(b"a", b"1")]),
        # Its first put runs, then its second fails: the first must be rolled back too.
        lambda: store.txn([], [Put(b"bad/1", b"x"), Delete(b"keep"), Put(b"bad/2", unbindable)]),
        lambda: store.txn([], [Put(b"b", b"2")]),
    ]
    a, bad, b = await queued_while_locked(tmp_path / "meta.db", calls)

    assert isinstance(bad, MetadataError)
    assert isinstance(a, TxnResult) and isinstance(b, TxnResult)
    assert (a.revision, b.revision) == (start + 1, start + 2)  # no revision for the failed one
    assert await store.get(b"bad/1") is None
    kept = await store.get(b"keep")
    assert kept is not None and kept.value == b"old"
    assert (await store.range(b"bad/")).kvs == []
    for key, value in ((b"a", b"1"), (b"b", b"2")):
        kv = await store.get(key)
        assert kv is not None and kv.value == value
    # The watch log has the two good revisions and nothing of the failed one.
    watch = store.watch(b"", start_revision=start + 1)
    events = await collect(watch, 2)
    await aclose(watch)
    assert [(e.key, e.mod_revision) for e in events] == [(b"a", start + 1), (b"b", start + 2)]


async def test_acknowledged_txns_survive_a_kill(tmp_path: Path) -> None:
    path, n = tmp_path / "meta.db", 100
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_AFTER_ACK, str(path), str(n), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = await proc.stdout.readline()
    finally:
        proc.kill()
        await proc.wait()
    report = json.loads(line)
    assert report["batches"] < n  # they really were grouped
    assert sorted(report["revisions"]) == list(range(2, n + 2))

    store = await EmbeddedStore.open(path)
    try:
        assert await store.revision() == n + 1
        for i, revision in enumerate(report["revisions"]):
            kv = await store.get(b"durable/%03d" % i)
            assert kv is not None and kv.value == b"v%d" % i and kv.mod_revision == revision
    finally:
        await store.close()


@pytest.mark.parametrize("cancel_index", [0, 5])
async def test_a_cancelled_caller_does_not_disturb_the_batch(
    open_embedded: OpenEmbedded, tmp_path: Path, cancel_index: int
) -> None:
    """A caller that gives up still has its write applied (as before), and the others answered."""
    store = await open_embedded()

    def put(i: int) -> Callable[[], Awaitable[int]]:
        return lambda: store.put(b"c/%d" % i, b"v")

    with write_lock_held(tmp_path / "meta.db"):
        tasks = [asyncio.ensure_future(put(i)()) for i in range(10)]
        await asyncio.sleep(0)
        tasks[cancel_index].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[cancel_index], asyncio.CancelledError)
    assert all(isinstance(r, int) for i, r in enumerate(results) if i != cancel_index)
    assert len((await store.range(b"c/")).kvs) == 10
