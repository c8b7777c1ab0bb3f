"""When a rule acts: the day arithmetic (rounded up to midnight), filters, and precedence."""

from __future__ import annotations

from lightningstor.v1 import common_pb2, lifecycle_pb2
from lightningstor_api.lifecycle import evaluate

DAY = 86400.0


def rule(**fields: object) -> lifecycle_pb2.LifecycleRule:
    return lifecycle_pb2.LifecycleRule(enabled=True, **fields)  # type: ignore[arg-type]


def test_days_round_up_to_the_next_midnight() -> None:
    created = 10 * DAY + 3600  # 01:00 on day 10
    assert evaluate.due_after(created, 1, DAY) == 12 * DAY
    assert evaluate.due_after(10 * DAY, 1, DAY) == 11 * DAY  # at midnight: no rounding
    assert evaluate.due_after(10.5, 2, 1.0) == 13.0  # the test knob's short day


def test_filter_conditions_all_hold() -> None:
    flt = lifecycle_pb2.LifecycleFilter(
        prefix="logs/",
        tags=[common_pb2.Tag(key="k", value="v")],
        object_size_greater_than=10,
        object_size_less_than=100,
    )
    tags = [common_pb2.Tag(key="k", value="v"), common_pb2.Tag(key="x", value="y")]
    assert evaluate.matches(flt, "logs/a", 50, tags)
    assert not evaluate.matches(flt, "other/a", 50, tags)
    assert not evaluate.matches(flt, "logs/a", 10, tags)  # strictly greater
    assert not evaluate.matches(flt, "logs/a", 100, tags)  # strictly less
    assert not evaluate.matches(flt, "logs/a", 50, [common_pb2.Tag(key="k", value="w")])


def test_earliest_enabled_rule_wins() -> None:
    rules = [
        rule(id="late", expiration_days=30),
        rule(id="early", expiration_days=2, filter=lifecycle_pb2.LifecycleFilter(prefix="a")),
        lifecycle_pb2.LifecycleRule(id="off", enabled=False, expiration_days=1),
    ]
    due = evaluate.current_expiry(rules, "ab", 1, [], 0.0, DAY)
    assert due == evaluate.Due(2 * DAY, "early")
    assert evaluate.current_expiry(rules, "b", 1, [], 0.0, DAY) == evaluate.Due(30 * DAY, "late")


def test_noncurrent_keeps_the_newest_noncurrent_versions() -> None:
    rules = [rule(id="n", noncurrent_days=1, newer_noncurrent_versions=2)]
    assert evaluate.noncurrent_expiry(rules, "k", 1, [], 0.0, 1, DAY) is None
    assert evaluate.noncurrent_expiry(rules, "k", 1, [], 0.0, 2, DAY) == evaluate.Due(DAY, "n")
