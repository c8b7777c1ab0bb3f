"""``core.orphans.walk``: every key under a prefix, in order, read window by window.

The orphan sweep, ``admin check`` and repair find which chunks are referenced by walking the
data records with it: a key it skipped would make a referenced chunk look orphaned. So the walk
is compared, key for key, with one plain range of the whole prefix, on both stores, over keys
chosen to sit on every edge of a window (the prefix itself, ``\\x00`` and ``\\xff`` bytes, keys
that are themselves sub-window prefixes, dense clusters that split again), with pages small
enough to split at every level.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from typing import Any, cast

import pytest

from lightningstor_api.core.orphans import walk
from lightningstor_api.metadata import MetadataStore, Put, RangeResult, prefix_end, range_pages

from .conftest import OpenEmbedded, OpenEtcd

PREFIX = b"data/"


def _edge_keys() -> list[bytes]:
    rng = random.Random(11)
    keys = {PREFIX, PREFIX + b"\x00", PREFIX + b"\x00\x00", PREFIX + b"\xff", PREFIX + b"\xff" * 3}
    keys |= {PREFIX + bytes([b]) for b in range(0, 256, 5)}  # every first byte, spread
    keys |= {PREFIX + b"a", PREFIX + b"a\x00", PREFIX + b"ab", PREFIX + b"a\xff"}
    keys |= {PREFIX + rng.randbytes(16).hex().encode() for _ in range(300)}  # data ids
    keys |= {PREFIX + b"7" + bytes([b]) + rng.randbytes(2) for b in range(256)}  # dense: re-splits
    return sorted(keys)


OUTSIDE = [b"data", b"data.", b"data0", b"dat\xff", b"datb"]  # around the prefix, never in it


async def _fill(store: MetadataStore, keys: list[bytes]) -> None:
    for i in range(0, len(keys), 100):  # etcd takes at most 128 operations a transaction
        await store.txn((), [Put(k, b"v") for k in keys[i : i + 100]])


async def _store(kind: str, open_embedded: OpenEmbedded, open_etcd: OpenEtcd) -> MetadataStore:
    return await (open_embedded() if kind == "embedded" else open_etcd())


@pytest.mark.parametrize("kind", ["embedded", "etcd"])
@pytest.mark.parametrize(("page", "split_after"), [(3, 1), (4, 2), (256, 16)])
async def test_the_walk_reads_every_key_once_in_order(
    kind: str, page: int, split_after: int, open_embedded: OpenEmbedded, open_etcd: OpenEtcd
) -> None:
    store = await _store(kind, open_embedded, open_etcd)
    keys = _edge_keys()
    await _fill(store, keys + OUTSIDE)
    plain = await store.range(PREFIX)
    assert [kv.key for kv in plain.kvs] == keys  # what the walk must give, key for key
    walked = [kv async for kv in walk(store, PREFIX, page=page, split_after=split_after)]
    assert [kv.key for kv in walked] == keys
    assert walked == plain.kvs  # values and revisions too


class _Asked:
    """A real store that notes the ranges a walk asks for (prefix, start)."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store
        self.asked: list[tuple[bytes, bytes | None]] = []

    async def range(self, prefix: bytes, **options: Any) -> RangeResult:
        self.asked.append((prefix, options.get("start")))
        return await self._store.range(prefix, **options)


def _counted(keys: list[bytes], asked: list[tuple[bytes, bytes | None]]) -> int:
    """The keys etcd visits to answer ``asked``: each range's, from its start to its end."""
    total = 0
    for prefix, start in asked:
        lo = bisect_left(keys, max(prefix, start or prefix))
        total += bisect_left(keys, prefix_end(prefix)) - lo
    return total


async def test_a_window_costs_etcd_its_own_keys_not_the_rest_of_the_prefix(
    open_embedded: OpenEmbedded,
) -> None:
    """3,000 data ids in pages of 10, windows split after 4 pages: paging straight through,
    each page's range runs to the end of ``data/`` (N²/page keys counted in all); windows of
    one more byte count a fifth of that or less, in at most three times the requests (a probe
    after each sub-window)."""
    store = await open_embedded()
    rng = random.Random(5)
    keys = sorted({PREFIX + rng.randbytes(16).hex().encode() for _ in range(3000)})
    await _fill(store, keys)
    plain = _Asked(store)
    async for _ in range_pages(cast(MetadataStore, plain), PREFIX, limit=10):
        pass
    windowed = _Asked(store)
    got = [
        kv.key async for kv in walk(cast(MetadataStore, windowed), PREFIX, page=10, split_after=4)
    ]
    assert got == keys
    assert _counted(keys, windowed.asked) * 5 < _counted(keys, plain.asked)
    assert len(windowed.asked) < 3 * len(plain.asked)
