"""Placement (rendezvous hashing, zones, weights) and node health, without processes."""

from __future__ import annotations

from collections import Counter

import pytest

from lightningstor_storage import new_chunk_id
from lightningstor_storage.replicated.health import NodeHealth
from lightningstor_storage.replicated.placement import Node, Placement, hrw_order, zone_rounds

IDS = [f"{i:032x}" for i in range(20_000)]


def nodes(count: int, zones: str = "") -> list[Node]:
    return [Node(f"10.0.0.{i}:9002", zones[i] if zones else "") for i in range(count)]


def test_order_is_stable_and_a_permutation() -> None:
    p = Placement(nodes(5), 3, "consistent_hash")
    chunk_id = new_chunk_id()
    assert p.order(chunk_id) == p.order(chunk_id)
    assert sorted(n.address for n in p.order(chunk_id)) == sorted(n.address for n in p.nodes)
    # The order of the node list does not matter, only its members.
    assert Placement(list(reversed(nodes(5))), 3, "consistent_hash").order(chunk_id) == p.order(
        chunk_id
    )


@pytest.mark.parametrize("rf", [1, 3])
def test_adding_a_fifth_node_moves_a_fifth_of_placements(rf: int) -> None:
    four = Placement(nodes(4), rf, "consistent_hash")
    five = Placement(nodes(5), rf, "consistent_hash")
    moved = 0
    for chunk_id in IDS:
        before = {n.address for n in four.targets(chunk_id)}
        after = {n.address for n in five.targets(chunk_id)}
        # Only the new node takes places; nothing moves between the old ones.
        assert after - before <= {"10.0.0.4:9002"}
        moved += len(after - before)
    share = moved / (len(IDS) * rf)
    assert share == pytest.approx(1 / 5, abs=0.015)


def test_removing_a_node_moves_only_its_placements() -> None:
    five = Placement(nodes(5), 3, "consistent_hash")
    four = Placement(nodes(5)[:4], 3, "consistent_hash")
    for chunk_id in IDS[:2000]:
        before = [n.address for n in five.targets(chunk_id)]
        after = [n.address for n in four.targets(chunk_id)]
        kept = [a for a in before if a != "10.0.0.4:9002"]
        assert after[: len(kept)] == kept


def test_weights_share_first_places() -> None:
    placed = [Node("a:1", weight=1.0), Node("b:1", weight=2.0), Node("c:1", weight=1.0)]
    first = Counter(hrw_order(chunk_id, placed)[0].address for chunk_id in IDS)
    assert first["b:1"] / len(IDS) == pytest.approx(0.5, abs=0.02)
    assert first["a:1"] / len(IDS) == pytest.approx(0.25, abs=0.02)


def test_zone_aware_puts_replicas_in_distinct_zones() -> None:
    p = Placement(nodes(6, "aabbcc"), 3, "zone_aware")
    consistent = Placement(nodes(6, "aabbcc"), 3, "consistent_hash")
    same_zone = 0
    for chunk_id in IDS[:3000]:
        zones = [n.zone for n in p.targets(chunk_id)]
        assert sorted(zones) == ["a", "b", "c"]
        same_zone += len({n.zone for n in consistent.targets(chunk_id)}) < 3
    assert same_zone > 0  # plain hashing does not spread by itself


def test_zone_aware_with_fewer_zones_than_replicas_uses_every_zone() -> None:
    p = Placement(nodes(4, "abbb"), 3, "zone_aware")
    for chunk_id in IDS[:1000]:
        assert {n.zone for n in p.targets(chunk_id)} == {"a", "b"}


def test_zone_aware_skips_unusable_nodes_and_keeps_spreading() -> None:
    p = Placement(nodes(6, "aabbcc"), 3, "zone_aware")
    for chunk_id in IDS[:1000]:
        first = p.targets(chunk_id)[0]
        targets = p.targets(chunk_id, lambda n, f=first: n != f)
        assert first not in targets
        assert sorted(n.zone for n in targets) == ["a", "b", "c"]


def test_zone_rounds() -> None:
    a1, a2, b1, c1 = Node("a1", "a"), Node("a2", "a"), Node("b1", "b"), Node("c1", "c")
    assert zone_rounds([a1, a2, b1, c1]) == [a1, b1, c1, a2]


def test_random_keeps_holders_and_spreads() -> None:
    p = Placement(nodes(5), 3, "random")
    assert not p.deterministic
    chunk_id = new_chunk_id()
    holders = ("10.0.0.1:9002", "10.0.0.3:9002")
    for _ in range(20):
        targets = [n.address for n in p.targets(chunk_id, keep=holders)]
        assert set(targets[:2]) == set(holders)
    firsts = Counter(p.targets(chunk_id)[0].address for _ in range(2000))
    assert len(firsts) == 5


def test_placement_refuses_duplicate_or_no_nodes() -> None:
    with pytest.raises(ValueError):
        Placement([], 3, "consistent_hash")
    with pytest.raises(ValueError):
        Placement([Node("a:1"), Node("a:1")], 1, "consistent_hash")


def test_health_backoff() -> None:
    now = [100.0]
    h = NodeHealth(["a", "b"], 10.0, clock=lambda: now[0])
    assert h.is_up("a")
    h.failed("a", "boom")
    assert not h.is_up("a")
    assert h.up_first(["a", "b"]) == ["b", "a"]
    now[0] += 10.5
    assert h.is_up("a")  # the back-off is over: the next call may try it
    h.failed("a", "again")
    assert not h.is_up("a")
    assert h.status("a").failures == 2
    assert h.succeeded("a") is True
    assert h.is_up("a")
    assert h.succeeded("a") is False
