"""The token bucket of the rate limits, on a clock the test passes in."""

from __future__ import annotations

import pytest

from lightningstor_api.ratelimit import TokenBucket


def test_a_full_bucket_gives_its_capacity_then_refills_at_its_rate() -> None:
    b = TokenBucket(rate=2.0, capacity=2.0, now=0.0)
    assert b.try_take(1, 0.0) and b.try_take(1, 0.0)
    assert not b.try_take(1, 0.0)
    assert b.wait(1, 0.0) == pytest.approx(0.5)
    assert b.try_take(1, 0.5)
    assert b.try_take(1, 100.0) and b.try_take(1, 100.0)  # refilled, but only to capacity
    assert not b.try_take(1, 100.0)


def test_a_refused_take_takes_nothing() -> None:
    b = TokenBucket(rate=1.0, capacity=1.0, now=0.0)
    assert not b.try_take(2, 0.0)
    assert b.try_take(1, 0.0)


def test_a_stream_goes_into_debt_and_waits_it_out() -> None:
    b = TokenBucket(rate=100.0, capacity=100.0, now=0.0)
    assert b.take(50, 0.0) == 0.0
    assert b.take(350, 0.0) == pytest.approx(3.0)  # 300 bytes of debt at 100 a second
    assert b.wait(-100, 0.0) == pytest.approx(2.0)  # until the debt is within one burst
    assert b.take(0, 3.0) == 0.0


def test_a_changed_limit_keeps_the_debt_and_caps_the_tokens() -> None:
    b = TokenBucket(rate=10.0, capacity=10.0, now=0.0)
    b.configure(rate=1.0, capacity=1.0)
    assert b.try_take(1, 0.0)
    assert not b.try_take(1, 0.0)
    b.take(10, 0.0)
    b.configure(rate=5.0, capacity=5.0)
    assert b.wait(0, 0.0) == pytest.approx(2.0)
