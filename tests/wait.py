"""Waiting in tests: poll for an event with a deadline, so a hang becomes a failure that says what.

Every wait in the suite goes through here (``scripts/check_tests.py`` refuses ``sleep`` elsewhere
unless its allow-list says why). Deadlines are generous: they only guard against hangs, they
never measure speed.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
"""Long enough for a loaded machine; a healthy wait ends in milliseconds."""

_FIRST_INTERVAL = 0.005
_MAX_INTERVAL = 0.1


def wait_until(
    predicate: Callable[[], T], timeout: float = DEFAULT_TIMEOUT, message: str = "the condition"
) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value; fail with
    ``message`` when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    interval = _FIRST_INTERVAL
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}")
        time.sleep(interval)
        interval = min(interval * 2, _MAX_INTERVAL)


def wait_for_value(
    probe: Callable[[], T],
    done: Callable[[T], object],
    timeout: float = DEFAULT_TIMEOUT,
    message: str = "the value",
) -> T:
    """Poll ``probe`` until ``done`` holds for its value, and return that value; fail with
    ``message`` and the last value seen when ``timeout`` seconds pass first."""
    last: list[T] = []

    def ready() -> bool:
        last[:] = [probe()]
        return bool(done(last[0]))

    try:
        wait_until(ready, timeout, message)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last value: {last[0]!r}") from None
    return last[0]


async def await_until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = DEFAULT_TIMEOUT,
    message: str = "the condition",
) -> T:
    """:func:`wait_until` in a running event loop; ``predicate`` may be a coroutine function."""
    deadline = time.monotonic() + timeout
    interval = _FIRST_INTERVAL
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message}")
        await asyncio.sleep(interval)
        interval = min(interval * 2, _MAX_INTERVAL)


def let_time_pass(seconds: float, why: str) -> None:
    """Sleep on purpose, when time passing is the point (a TTL running out), never to wait for
    something to happen. ``why`` is for the reader."""
    del why
    time.sleep(seconds)


async def alet_time_pass(seconds: float, why: str) -> None:
    """:func:`let_time_pass` in a running event loop."""
    del why
    await asyncio.sleep(seconds)
