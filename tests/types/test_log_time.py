"""``log_time``: the time of log and audit lines, formatted once a second, as datetime would."""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime

from lightningstor_types.logs import JsonFormatter, log_time


def _expected(seconds: float, zone: str) -> str:
    text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", zone)


def test_log_time_is_rfc3339_utc_to_the_millisecond_across_seconds() -> None:
    rng = random.Random(17)
    # Runs of times within one second, then jumps back and forth: the cached second must follow.
    times = [1_700_000_000 + rng.random() * 3 for _ in range(200)]
    times += [0.0, 0.999, 0.9999996, 86_399.5, 4_102_444_800.25, 1_700_000_001.001]
    for t in times:
        assert log_time(t) == _expected(t, "+00:00")
        assert log_time(t, "Z") == _expected(t, "Z")
    assert log_time(1_700_000_000.5) == "2023-11-14T22:13:20.500+00:00"


def test_json_lines_carry_the_record_time() -> None:
    record = logging.makeLogRecord({"msg": "hello", "created": 1_700_000_000.25})
    line = JsonFormatter().format(record)
    assert '"time": "2023-11-14T22:13:20.250+00:00"' in line
