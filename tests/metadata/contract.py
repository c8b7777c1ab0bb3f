"""The contract every MetadataStore implementation passes (etcd v3 semantics).

Subclass :class:`MetadataStoreContract` in a ``test_*.py`` module and provide a ``store``
fixture that yields a fresh, empty store; it is closed by the fixture, so ``close`` must be
idempotent. Revisions are only ever asserted relative to each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from lightningstor_api.metadata import (
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    DeletePrefix,
    EventType,
    Get,
    KeyValue,
    MetadataStore,
    Op,
    Put,
    WatchEvent,
    prefix_end,
)
from lightningstor_api.metadata.lease import Lease

TIMEOUT = 10.0
K = b"cmp/key"

VALUE, VERSION, CREATE, MOD = (
    CompareTarget.VALUE,
    CompareTarget.VERSION,
    CompareTarget.CREATE,
    CompareTarget.MOD,
)
EQ, NE, GT, LT = CompareOp.EQUAL, CompareOp.NOT_EQUAL, CompareOp.GREATER, CompareOp.LESS

# The key holds b"m", written twice: version 2, create_revision c, mod_revision c + 1.
Operand = Callable[[KeyValue], bytes | int]
PRESENT_CASES: list[tuple[str, CompareTarget, CompareOp, Operand, bool]] = [
    ("value==same", VALUE, EQ, lambda kv: b"m", True),
    ("value==other", VALUE, EQ, lambda kv: b"x", False),
    ("value!=other", VALUE, NE, lambda kv: b"x", True),
    ("value!=same", VALUE, NE, lambda kv: b"m", False),
    ("value>smaller", VALUE, GT, lambda kv: b"a", True),
    ("value>larger", VALUE, GT, lambda kv: b"z", False),
    ("value<larger", VALUE, LT, lambda kv: b"z", True),
    ("value<prefix-of-it", VALUE, LT, lambda kv: b"", False),
    ("version==2", VERSION, EQ, lambda kv: 2, True),
    ("version!=2", VERSION, NE, lambda kv: 2, False),
    ("version>1", VERSION, GT, lambda kv: 1, True),
    ("version<2", VERSION, LT, lambda kv: 2, False),
    ("version<3", VERSION, LT, lambda kv: 3, True),
    ("create==own", CREATE, EQ, lambda kv: kv.create_revision, True),
    ("create==0", CREATE, EQ, lambda kv: 0, False),
    ("create>before", CREATE, GT, lambda kv: kv.create_revision - 1, True),
    ("create<own", CREATE, LT, lambda kv: kv.create_revision, False),
    ("create<mod", CREATE, LT, lambda kv: kv.mod_revision, True),
    ("mod==own", MOD, EQ, lambda kv: kv.mod_revision, True),
    ("mod==create", MOD, EQ, lambda kv: kv.create_revision, False),
    ("mod!=own", MOD, NE, lambda kv: kv.mod_revision, False),
    ("mod>create", MOD, GT, lambda kv: kv.create_revision, True),
    ("mod>own", MOD, GT, lambda kv: kv.mod_revision, False),
    ("mod<next", MOD, LT, lambda kv: kv.mod_revision + 1, True),
]

# A missing key: revisions and version compare as 0; any VALUE compare fails.
ABSENT_CASES: list[tuple[str, CompareTarget, CompareOp, bytes | int, bool]] = [
    ("value==empty", VALUE, EQ, b"", False),
    ("value!=x", VALUE, NE, b"x", False),
    ("value>empty", VALUE, GT, b"", False),
    ("value<x", VALUE, LT, b"x", False),
    ("version==0", VERSION, EQ, 0, True),
    ("version<1", VERSION, LT, 1, True),
    ("version>0", VERSION, GT, 0, False),
    ("create==0", CREATE, EQ, 0, True),
    ("create!=0", CREATE, NE, 0, False),
    ("mod==0", MOD, EQ, 0, True),
    ("mod>0", MOD, GT, 0, False),
    ("mod<1", MOD, LT, 1, True),
]

ORDERED_KEYS = [
    b"r/",
    b"r/\x00",
    b"r/\x00\x01",
    b"r/\x01",
    b"r/A",
    b"r/a",
    b"r/a\x00",
    b"r/a/b",
    b"r/ab",
    b"r/b",
    b"r/\x7f",
    "r/é".encode(),  # c3 a9
    "r/€".encode(),  # e2 82 ac
    "r/𝄞".encode(),  # f0 9d 84 9e
    b"r/\xfe",
    b"r/\xff",
    b"r/\xff\x00",
    b"r/\xff\xff",
]
OUTSIDE_KEYS = [b"q", b"r", b"r.", b"r0", b"s"]


async def collect(watch: AsyncIterator[WatchEvent], count: int) -> list[WatchEvent]:
    """The next ``count`` events, failing the test instead of hanging."""
    async with asyncio.timeout(TIMEOUT):
        return [await anext(watch) for _ in range(count)]


async def first(watch: AsyncIterator[WatchEvent]) -> WatchEvent:
    """The next event (a coroutine, so it can run as a task)."""
    return await anext(watch)


async def until_live(store: MetadataStore, watch: AsyncIterator[WatchEvent], key: bytes) -> None:
    """Write ``key`` (under the watch's prefix) and take its event: from then on the watch is
    running and caught up, so what is written next is delivered live, not replayed."""
    rev = await store.put(key, b"sync")
    assert await collect(watch, 1) == [WatchEvent(EventType.PUT, key, b"sync", rev)]


async def aclose(watch: AsyncIterator[WatchEvent]) -> None:
    """Close a watch if it can be closed."""
    close: Any = getattr(watch, "aclose", None)
    if close is not None:
        await close()


async def put_all(store: MetadataStore, keys: list[bytes]) -> None:
    """Put every key, with its own bytes as the value, in one transaction."""
    await store.txn((), [Put(key, key) for key in keys])


class MetadataStoreContract:
    """Tests every implementation passes; needs a ``store`` fixture."""

    # ---- get, put, delete, revisions ----
    async def test_get_missing(self, store: MetadataStore) -> None:
        assert await store.get(b"nope") is None

    async def test_put_then_get(self, store: MetadataStore) -> None:
        before = await store.revision()
        rev = await store.put(b"k", b"v")
        assert rev == before + 1 == await store.revision()
        assert await store.get(b"k") == KeyValue(b"k", b"v", rev, rev, 1)

    async def test_versions_and_revisions_as_etcd(self, store: MetadataStore) -> None:
        r1 = await store.put(b"k", b"1")
        r2 = await store.put(b"k", b"2")
        assert r2 == r1 + 1
        assert await store.get(b"k") == KeyValue(b"k", b"2", r1, r2, 2)
        assert await store.delete(b"k") is True
        assert await store.get(b"k") is None
        assert await store.revision() == r2 + 1
        assert await store.delete(b"k") is False
        assert await store.revision() == r2 + 1  # deleting nothing changes nothing
        r3 = await store.put(b"k", b"3")
        assert r3 == r2 + 2
        assert await store.get(b"k") == KeyValue(b"k", b"3", r3, r3, 1)  # a new life

    async def test_one_counter_for_all_keys(self, store: MetadataStore) -> None:
        ra = await store.put(b"a", b"")
        rb = await store.put(b"b", b"")
        assert rb == ra + 1
        a = await store.get(b"a")
        assert a is not None and a.mod_revision == ra and a.value == b""

    async def test_binary_values(self, store: MetadataStore) -> None:
        value = bytes(range(256)) * 3
        await store.put(b"\x00\xff", value)
        kv = await store.get(b"\x00\xff")
        assert kv is not None and kv.value == value

    # ---- range ----
    async def test_range_prefix_in_raw_byte_order(self, store: MetadataStore) -> None:
        keys = ORDERED_KEYS + OUTSIDE_KEYS
        await put_all(store, list(reversed(keys)))
        result = await store.range(b"r/")
        assert [kv.key for kv in result.kvs] == sorted(ORDERED_KEYS) == ORDERED_KEYS
        assert [kv.value for kv in result.kvs] == ORDERED_KEYS
        assert result.more is False
        assert result.revision == await store.revision()

    async def test_range_start_and_end(self, store: MetadataStore) -> None:
        await put_all(store, ORDERED_KEYS + OUTSIDE_KEYS)
        got = await store.range(b"r/", start=b"r/a", end=b"r/b")
        assert [kv.key for kv in got.kvs] == [b"r/a", b"r/a\x00", b"r/a/b", b"r/ab"]
        # start before the prefix and end after it change nothing
        wide = await store.range(b"r/", start=b"a", end=b"z")
        assert [kv.key for kv in wide.kvs] == ORDERED_KEYS
        assert (await store.range(b"r/", start=b"r/b", end=b"r/b")).kvs == []
        assert (await store.range(b"r/", start=b"r/c", end=b"r/b")).kvs == []
        high = await store.range(b"r/", start=b"r/\xff")
        assert [kv.key for kv in high.kvs] == [b"r/\xff", b"r/\xff\x00", b"r/\xff\xff"]

    async def test_range_limit_and_more(self, store: MetadataStore) -> None:
        await put_all(store, ORDERED_KEYS + OUTSIDE_KEYS)
        seen: list[bytes] = []
        start: bytes | None = None
        pages = 0
        while True:
            page = await store.range(b"r/", start=start, limit=5)
            pages += 1
            seen += [kv.key for kv in page.kvs]
            if not page.more:
                break
            assert len(page.kvs) == 5
            start = page.kvs[-1].key + b"\x00"
        assert seen == ORDERED_KEYS
        assert pages == 4  # 18 keys: 5 + 5 + 5 + 3
        exact = await store.range(b"r/", limit=len(ORDERED_KEYS))
        assert exact.more is False and len(exact.kvs) == len(ORDERED_KEYS)
        cut = await store.range(b"r/", limit=len(ORDERED_KEYS) - 1)
        assert cut.more is True

    async def test_range_skips_a_common_prefix(self, store: MetadataStore) -> None:
        await put_all(store, ORDERED_KEYS)
        after_a = await store.range(b"r/", start=prefix_end(b"r/a"), limit=1)
        assert [kv.key for kv in after_a.kvs] == [b"r/b"]
        after_ff = await store.range(b"r/", start=prefix_end(b"r/\xfe"), limit=1)
        assert [kv.key for kv in after_ff.kvs] == [b"r/\xff"]

    async def test_range_of_unbounded_prefixes(self, store: MetadataStore) -> None:
        keys = [b"", b"\x00", b"a", b"\xff", b"\xff\x00", b"\xff\xff", b"\xff\xff\xff"]
        await put_all(store, keys)
        assert [kv.key for kv in (await store.range(b"")).kvs] == keys
        assert [kv.key for kv in (await store.range(b"\xff")).kvs] == keys[3:]
        assert [kv.key for kv in (await store.range(b"\xff\xff")).kvs] == keys[5:]

    async def test_range_rejects_negative_limit(self, store: MetadataStore) -> None:
        with pytest.raises(ValueError):
            await store.range(b"", limit=-1)

    # ---- prefix_end (pure, but every implementation relies on it) ----
    @pytest.mark.parametrize(
        ("prefix", "end"),
        [
            (b"a", b"b"),
            (b"ab", b"ac"),
            (b"a\x00", b"a\x01"),
            (b"a\xfe", b"a\xff"),
            (b"a\xff", b"b"),
            (b"a\xff\xff", b"b"),
            (b"\x00", b"\x01"),
            (b"\x00\xff", b"\x01"),
            ("é".encode(), b"\xc3\xaa"),
        ],
    )
    def test_prefix_end(self, prefix: bytes, end: bytes) -> None:
        assert prefix_end(prefix) == end
        for key in (prefix, prefix + b"\x00", prefix + b"\xff" * 8):
            assert key < end
        assert not end.startswith(prefix)

    @pytest.mark.parametrize("prefix", [b"", b"\xff", b"\xff\xff\xff"])
    def test_prefix_end_without_bound(self, prefix: bytes) -> None:
        with pytest.raises(ValueError):
            prefix_end(prefix)

    # ---- transactions ----
    @pytest.mark.parametrize(
        ("target", "op", "operand", "expected"),
        [pytest.param(*case[1:], id=case[0]) for case in PRESENT_CASES],
    )
    async def test_compare_present_key(
        self,
        store: MetadataStore,
        target: CompareTarget,
        op: CompareOp,
        operand: Operand,
        expected: bool,
    ) -> None:
        await store.put(K, b"m")
        await store.put(K, b"m")
        kv = await store.get(K)
        assert kv is not None and kv.version == 2
        result = await store.txn([Compare(K, target, op, operand(kv))], [Get(K)], [])
        assert result.succeeded is expected
        assert result.responses == ([kv] if expected else [])

    @pytest.mark.parametrize(
        ("target", "op", "operand", "expected"),
        [pytest.param(*case[1:], id=case[0]) for case in ABSENT_CASES],
    )
    async def test_compare_absent_key(
        self,
        store: MetadataStore,
        target: CompareTarget,
        op: CompareOp,
        operand: bytes | int,
        expected: bool,
    ) -> None:
        result = await store.txn([Compare(K, target, op, operand)], [Get(K)], [])
        assert result.succeeded is expected

    async def test_compare_helpers(self, store: MetadataStore) -> None:
        assert Compare.absent(K) == Compare(K, CREATE, EQ, 0)
        assert (await store.txn([Compare.absent(K)], [])).succeeded
        assert (await store.txn([Compare.mod_revision(K, 0)], [])).succeeded
        assert not (await store.txn([Compare.value_equals(K, b"")], [])).succeeded
        rev = await store.put(K, b"v")
        assert not (await store.txn([Compare.absent(K)], [])).succeeded
        assert (await store.txn([Compare.mod_revision(K, rev)], [])).succeeded
        assert not (await store.txn([Compare.mod_revision(K, 0)], [])).succeeded
        assert (await store.txn([Compare.value_equals(K, b"v")], [])).succeeded

    async def test_range_compares_every_key_in_the_range(self, store: MetadataStore) -> None:
        assert (await store.txn([Compare.none_in(b"r/", b"r0")], [])).succeeded
        assert not (await store.txn([Compare(b"r/", CREATE, GT, 0, range_end=b"r0")], [])).succeeded
        first = await store.put(b"r/b", b"1")
        await store.put(b"r/d", b"2")
        await store.put(b"r0", b"outside")  # range_end is exclusive
        assert (await store.txn([Compare.none_in(b"r/", b"r/b")], [])).succeeded
        assert (await store.txn([Compare.none_in(b"r/b\x00", b"r/d")], [])).succeeded
        assert not (await store.txn([Compare.none_in(b"r/", b"r/c")], [])).succeeded
        assert not (await store.txn([Compare.none_in(b"r/c", b"r0")], [])).succeeded
        assert (await store.txn([Compare(b"r/", CREATE, GT, 0, range_end=b"r0")], [])).succeeded
        # every key must hold: r/d was written after r/b
        below = Compare(b"r/", MOD, LT, first + 1, range_end=b"r0")
        assert not (await store.txn([below], [])).succeeded
        assert (
            await store.txn([Compare(b"r/", MOD, LT, first + 1, range_end=b"r/c")], [])
        ).succeeded
        with pytest.raises(ValueError):
            Compare.none_in(b"r/b", b"r/b")

    async def test_exists(self, store: MetadataStore) -> None:
        assert not (await store.txn([Compare.exists(K)], [])).succeeded
        await store.put(K, b"")
        assert (await store.txn([Compare.exists(K)], [])).succeeded

    def test_compare_checks_its_operand_type(self) -> None:
        with pytest.raises(TypeError):
            Compare(K, VALUE, EQ, 1)
        with pytest.raises(TypeError):
            Compare(K, MOD, EQ, b"1")

    async def test_all_compares_must_hold(self, store: MetadataStore) -> None:
        await store.put(b"t/a", b"1")
        both = [Compare.value_equals(b"t/a", b"1"), Compare.absent(b"t/b")]
        assert (await store.txn(both, [])).succeeded
        one = [Compare.value_equals(b"t/a", b"1"), Compare.value_equals(b"t/b", b"1")]
        assert not (await store.txn(one, [])).succeeded

    async def test_success_branch(self, store: MetadataStore) -> None:
        await store.put(b"t/old", b"o")
        ops: list[Op] = [Put(b"t/a", b"1"), Get(b"t/a"), Get(b"t/missing"), Delete(b"t/old")]
        result = await store.txn([Compare.absent(b"t/a")], ops, [Get(b"t/a")])
        assert result.succeeded
        assert result.revision == await store.revision()
        put, got, missing, deleted = result.responses
        assert put is None and missing is None and deleted == 1
        # a Get sees the branch's own earlier writes, at the transaction's revision
        assert got == KeyValue(b"t/a", b"1", result.revision, result.revision, 1)
        assert await store.get(b"t/old") is None

    async def test_failure_branch(self, store: MetadataStore) -> None:
        await store.put(b"t/a", b"1")
        again = await store.txn([Compare.absent(b"t/a")], [Put(b"t/a", b"2")], [Get(b"t/a")])
        assert not again.succeeded
        assert again.responses == [await store.get(b"t/a")]
        writes = await store.txn(
            [Compare.value_equals(b"t/a", b"nope")],
            [Put(b"t/a", b"success")],
            [Put(b"t/a", b"failure"), Delete(b"t/none")],
        )
        assert not writes.succeeded and writes.responses == [None, 0]
        kv = await store.get(b"t/a")
        assert kv is not None and kv.value == b"failure" and kv.version == 2

    async def test_txn_bumps_the_revision_once(self, store: MetadataStore) -> None:
        before = await store.revision()
        keys = [b"m/a", b"m/b", b"m/c"]
        result = await store.txn((), [Put(key, b"x") for key in keys] + [Delete(b"m/none")])
        assert result.revision == before + 1 == await store.revision()
        for key in keys:
            assert await store.get(key) == KeyValue(key, b"x", before + 1, before + 1, 1)

    async def test_txn_without_change_keeps_the_revision(self, store: MetadataStore) -> None:
        await store.put(b"n/a", b"1")
        before = await store.revision()
        failed = await store.txn([Compare.absent(b"n/a")], [Put(b"n/a", b"2")])
        assert not failed.succeeded and failed.responses == []
        assert failed.revision == before
        reads = await store.txn((), [Get(b"n/a"), Delete(b"n/none"), DeletePrefix(b"n/none/")])
        assert reads.revision == before == await store.revision()
        assert reads.responses[1:] == [0, 0]

    async def test_delete_prefix(self, store: MetadataStore) -> None:
        await put_all(store, [b"p/a", b"p/b", b"p/c/d", b"p", b"pa", b"o"])
        before = await store.revision()
        result = await store.txn((), [DeletePrefix(b"p/"), Get(b"p/a")])
        assert result.responses == [3, None]
        assert result.revision == before + 1
        assert (await store.range(b"p/")).kvs == []
        assert [kv.key for kv in (await store.range(b"")).kvs] == [b"o", b"p", b"pa"]

    async def test_delete_prefix_ff(self, store: MetadataStore) -> None:
        await put_all(store, [b"\xfe", b"\xff", b"\xff\xff", b"\xff\x00"])
        result = await store.txn((), [DeletePrefix(b"\xff")])
        assert result.responses == [3]
        assert [kv.key for kv in (await store.range(b"")).kvs] == [b"\xfe"]

    @pytest.mark.parametrize(
        "ops",
        [
            [Put(b"d/a", b"1"), Put(b"d/a", b"2")],
            [Put(b"d/a", b"1"), Delete(b"d/a")],
            [Delete(b"d/a"), Put(b"d/a", b"1")],
            [DeletePrefix(b"d/"), Put(b"d/a", b"1")],
        ],
        ids=["put-put", "put-delete", "delete-put", "deleteprefix-put"],
    )
    async def test_a_branch_writes_a_key_once(self, store: MetadataStore, ops: list[Op]) -> None:
        before = await store.revision()
        with pytest.raises(ValueError):
            await store.txn((), ops)
        with pytest.raises(ValueError):
            await store.txn((), [], ops)
        assert await store.revision() == before

    async def test_reads_and_deletes_may_repeat(self, store: MetadataStore) -> None:
        await store.put(b"d/a", b"1")
        ops: list[Op] = [
            Get(b"d/a"),
            Delete(b"d/a"),
            Delete(b"d/a"),
            DeletePrefix(b"d/"),
            Get(b"d/a"),
        ]
        result = await store.txn((), ops)
        assert result.responses[1:] == [1, 0, 0, None]

    # ---- concurrency ----
    async def test_create_if_absent_has_one_winner(self, store: MetadataStore) -> None:
        key = b"race/key"

        async def attempt(i: int) -> bool:
            result = await store.txn([Compare.absent(key)], [Put(key, b"%d" % i)])
            return result.succeeded

        wins = await asyncio.gather(*(attempt(i) for i in range(20)))
        assert wins.count(True) == 1
        kv = await store.get(key)
        assert kv is not None and kv.value == b"%d" % wins.index(True) and kv.version == 1

    async def test_optimistic_counter(self, store: MetadataStore) -> None:
        key = b"counter"

        async def increment() -> int:
            for attempt in range(1000):
                kv = await store.get(key)
                count = int(kv.value) if kv else 0
                guard = Compare.mod_revision(key, kv.mod_revision if kv else 0)
                if (await store.txn([guard], [Put(key, b"%d" % (count + 1))])).succeeded:
                    return attempt
                await asyncio.sleep(0)
            raise AssertionError("no progress")

        await asyncio.gather(*(increment() for _ in range(20)))
        kv = await store.get(key)
        assert kv is not None and kv.value == b"20" and kv.version == 20

    # ---- watch ----
    async def test_watch_replays_from_start_revision(self, store: MetadataStore) -> None:
        await store.put(b"w/before", b"0")
        start = await store.revision() + 1
        r1 = await store.put(b"w/a", b"1")
        r2 = await store.put(b"w/b", b"2")
        await store.put(b"x/other", b"x")
        r3 = (await store.txn((), [Put(b"w/a", b"3"), Delete(b"w/b")])).revision
        r4 = (await store.txn((), [DeletePrefix(b"w/")])).revision
        watch = store.watch(b"w/", start_revision=start)
        assert await collect(watch, 6) == [
            WatchEvent(EventType.PUT, b"w/a", b"1", r1),
            WatchEvent(EventType.PUT, b"w/b", b"2", r2),
            WatchEvent(EventType.PUT, b"w/a", b"3", r3),
            WatchEvent(EventType.DELETE, b"w/b", b"", r3),
            WatchEvent(EventType.DELETE, b"w/a", b"", r4),  # a range delete: in key order
            WatchEvent(EventType.DELETE, b"w/before", b"", r4),
        ]
        r5 = await store.put(b"w/c", b"live")
        assert await collect(watch, 1) == [WatchEvent(EventType.PUT, b"w/c", b"live", r5)]
        await aclose(watch)

    async def test_watch_delivers_live_events_in_order(self, store: MetadataStore) -> None:
        watch = store.watch(b"live/", start_revision=await store.revision() + 1)
        await until_live(store, watch, b"live/sync")
        pending = asyncio.create_task(first(watch))
        r1 = await store.put(b"live/a", b"1")
        await store.put(b"elsewhere", b"x")
        assert await store.delete(b"live/a")
        r2 = await store.revision()
        async with asyncio.timeout(TIMEOUT):
            assert await pending == WatchEvent(EventType.PUT, b"live/a", b"1", r1)
        assert await collect(watch, 1) == [WatchEvent(EventType.DELETE, b"live/a", b"", r2)]
        await aclose(watch)

    async def test_watch_defaults_to_future_events(self, store: MetadataStore) -> None:
        await store.put(b"f/old", b"1")
        watch = store.watch(b"f/")
        rev = await store.put(b"f/new", b"2")
        assert await collect(watch, 1) == [WatchEvent(EventType.PUT, b"f/new", b"2", rev)]
        await aclose(watch)

    async def test_watches_are_independent(self, store: MetadataStore) -> None:
        start = await store.revision() + 1
        a = store.watch(b"i/a", start_revision=start)
        b = store.watch(b"i/", start_revision=start)
        ra = await store.put(b"i/a", b"1")
        rb = await store.put(b"i/b", b"2")
        assert [e.mod_revision for e in await collect(b, 2)] == [ra, rb]
        assert [e.mod_revision for e in await collect(a, 1)] == [ra]
        await aclose(a)
        await aclose(b)

    async def test_close_ends_watches(self, store: MetadataStore) -> None:
        watch = store.watch(b"c/")
        await until_live(store, watch, b"c/sync")
        pending = asyncio.create_task(first(watch))
        await store.close()
        async with asyncio.timeout(TIMEOUT):
            with pytest.raises(StopAsyncIteration):
                await pending

    # ---- the lease over compare-and-swap (metadata/lease.py) ----
    async def test_lease_has_one_holder_until_it_goes_silent(self, store: MetadataStore) -> None:
        """Two contenders on one store, each on its own (fake) clock: the second takes the lease
        only after a full term without renewal, and the first then knows it lost it."""
        now = [0.0]
        a = Lease(store, b"lease/x", 3.0, holder="a", clock=lambda: now[0])
        b = Lease(store, b"lease/x", 3.0, holder="b", clock=lambda: now[0])
        assert await a.refresh() and a.held
        assert not await b.refresh()  # first sight of a's record
        for _ in range(5):  # a renews every step: b never takes over
            now[0] += 1.0
            assert await a.refresh()
            assert not await b.refresh()
        now[0] += 1.0  # a is silent from here on (last write at 5.0)
        assert a.held  # for half a term after its write
        assert not await b.refresh()
        now[0] += 1.0
        assert not a.held  # it stops before anyone may take over...
        assert not await b.refresh()  # ...since b waits a full term from its first sight
        now[0] += 1.0
        assert await b.refresh() and b.held
        assert not await a.refresh()  # a's compare fails: it stays out
        assert not a.held

    async def test_lease_guard_fails_once_taken_over(self, store: MetadataStore) -> None:
        now = [0.0]
        a = Lease(store, b"lease/g", 1.0, holder="a", clock=lambda: now[0])
        b = Lease(store, b"lease/g", 1.0, holder="b", clock=lambda: now[0])
        assert await a.refresh()
        guard = a.guard()
        assert (await store.txn([guard], [Put(b"lease/data", b"1")])).succeeded
        assert not await b.refresh()
        now[0] += 1.0
        assert await b.refresh()
        assert not (await store.txn([guard], [Put(b"lease/data", b"2")])).succeeded
        assert (await store.get(b"lease/data")).value == b"1"  # type: ignore[union-attr]

    async def test_lease_release_frees_it_at_once(self, store: MetadataStore) -> None:
        a = Lease(store, b"lease/r", 30.0, holder="a")
        b = Lease(store, b"lease/r", 30.0, holder="b")
        assert await a.refresh()
        await a.release()
        assert not a.held
        assert await b.refresh()
