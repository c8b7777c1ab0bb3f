"""ThreadHop: blocking calls on a bounded set of threads, answered on the caller's loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lightningstor_types.threads import ThreadHop


async def test_results_and_errors_reach_the_caller() -> None:
    hop = ThreadHop(2, "test-hop")
    try:
        assert await hop.run(sum, [1, 2, 3]) == 6
        assert await hop.run(threading.current_thread) is not threading.current_thread()
        with pytest.raises(ZeroDivisionError):
            await hop.run(divmod, 1, 0)
    finally:
        hop.shutdown()


async def test_at_most_the_bound_runs_at_once() -> None:
    hop = ThreadHop(3, "test-hop")
    lock = threading.Lock()
    running = peak = 0
    gate = threading.Event()

    def work(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        gate.wait(10)
        with lock:
            running -= 1
        return i

    try:
        calls = [hop.run(work, i) for i in range(10)]
        deadline = asyncio.get_running_loop().time() + 10
        while peak < 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        gate.set()
        assert await asyncio.gather(*calls) == list(range(10))
        assert peak == 3
        names = {t.name for t in threading.enumerate() if t.name.startswith("test-hop")}
        assert len(names) == 3
    finally:
        hop.shutdown()


async def test_one_thread_keeps_the_order() -> None:
    hop = ThreadHop(1, "test-hop")
    seen: list[int] = []
    try:
        await asyncio.gather(*(hop.run(seen.append, i) for i in range(100)))
    finally:
        hop.shutdown()
    assert seen == list(range(100))


async def test_shutdown_runs_queued_calls_then_leaves_no_thread() -> None:
    hop = ThreadHop(2, "test-hop-shut")
    done: list[int] = []
    calls = [hop.run(done.append, i) for i in range(20)]
    await asyncio.to_thread(hop.shutdown)
    await asyncio.gather(*calls)
    assert sorted(done) == list(range(20))
    assert not [t for t in threading.enumerate() if t.name.startswith("test-hop-shut")]
    with pytest.raises(RuntimeError, match="shut down"):
        hop.run(done.append, 99)
    hop.shutdown()  # idempotent


async def test_a_cancelled_caller_does_not_stop_the_call() -> None:
    hop = ThreadHop(1, "test-hop")
    gate = threading.Event()
    done = threading.Event()

    def work() -> None:
        gate.wait(10)
        done.set()

    try:
        call = hop.run(work)
        call.cancel()
        gate.set()
        assert await hop.run(done.is_set)  # FIFO on one thread: work has finished
        assert call.cancelled()
    finally:
        hop.shutdown()
