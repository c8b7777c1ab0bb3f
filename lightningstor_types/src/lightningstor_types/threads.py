"""``ThreadHop``: a bounded set of worker threads that run blocking calls for asyncio callers.

``loop.run_in_executor`` costs a ``concurrent.futures.Future`` (with its condition variable),
a work item, the executor's bookkeeping and an asyncio future chained to it, per call; on a
small GET that was ~10% of the server's CPU over its three hops (profiled, issue 9). Here a call
is one ``SimpleQueue.put`` and one ``call_soon_threadsafe`` that resolves a plain asyncio future.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar, TypeVarTuple

__all__ = ["ThreadHop"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


class ThreadHop:
    """Up to ``threads`` worker threads (started when no thread is idle), calls in FIFO order."""

    def __init__(self, threads: int, name: str) -> None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self._max = threads
        self._name = name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = threading.Semaphore(0)  # one release per finished call, as in the stdlib
        self._shut = False

    def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> asyncio.Future[T]:
        """Queue ``fn(*args)``; the future gets its result or exception.

        Cancelling the future does not stop a call that already started.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:  # so that a shutdown never leaves a queued call without a thread
            if self._shut:
                raise RuntimeError(f"{self._name}: threads are shut down")
            self._queue.put((fn, args, loop, future))
            # A new thread only when none is idle: every thread that allocates (1 MiB reads)
            # gets a malloc arena of its own, and idle arenas keep their memory (RSS).
            if not self._idle.acquire(timeout=0) and len(self._threads) < self._max:
                self._spawn()
        return future

    def shutdown(self, wait: bool = True) -> None:
        """Stop the threads once the calls already queued have run; idempotent."""
        with self._lock:
            if self._shut:
                threads = []
            else:
                self._shut = True
                threads = list(self._threads)
                for _ in threads:
                    self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _spawn(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            _call(*job)
            del job  # an idle thread keeps no argument or result alive (1 MiB pieces)
            self._idle.release()


def _call(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
) -> None:
    try:
        result = fn(*args)
    except BaseException as exc:
        _answer(loop, future, exc, failed=True)
    else:
        _answer(loop, future, result, failed=False)


def _answer(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], value: Any, *, failed: bool
) -> None:
    # RuntimeError: the loop is closed, so nobody waits for this answer.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, value, failed)


def _settle(future: asyncio.Future[Any], value: Any, failed: bool) -> None:
    if future.done():  # cancelled by its caller meanwhile
        return
    if failed:
        future.set_exception(value)
    else:
        future.set_result(value)
