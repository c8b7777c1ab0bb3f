"""``GroupCommitter``: work items queued from asyncio, run in batches on one worker thread.

The embedded store uses it so that the write transactions that arrive while one SQLite commit
is being fsynced all go into the next commit: one fsync for many callers. Each caller is
answered only when the batch that holds its item has finished (for the store: committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeAlias, TypeVar

I = TypeVar("I")  # noqa: E741 - the conventional name for an item type
R = TypeVar("R")

Outcome: TypeAlias = "R | BaseException"
_Entry: TypeAlias = "tuple[I, asyncio.AbstractEventLoop, asyncio.Future[R]]"


class GroupCommitter(Generic[I, R]):
    """Queue items; one worker thread runs everything queued so far as one batch, in order.

    ``run(items)`` runs on ``executor`` (which must have one thread, or at least run this
    committer's batches one at a time) and returns one outcome per item: a result, or the
    exception for that item alone. If ``run`` raises, every item of the batch gets the error.
    """

    def __init__(
        self,
        executor: Executor,
        run: Callable[[Sequence[I]], Sequence[Outcome[R]]],
        *,
        max_batch: int,
    ) -> None:
        """Batches hold at most ``max_batch`` items (bounds how long one commit holds a lock)."""
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self._executor = executor
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Entry[I, R]] = []
        self._draining = False  # a drain is queued on, or running in, the executor
        self.batches = 0  # batches run so far (for the store: SQLite transactions, fsyncs)

    def submit(self, item: I) -> asyncio.Future[R]:
        """Queue ``item``; the future resolves once its batch has run."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._lock:
            self._pending.append((item, loop, future))
            if self._draining:
                return future  # the running drain takes it with the next batch
            self._draining = True
        try:
            self._executor.submit(self._drain)
        except BaseException:
            with self._lock:
                self._draining = False
                self._pending.clear()
            raise
        return future

    def _drain(self) -> None:
        """On the worker thread: run batches until nothing is queued."""
        while True:
            with self._lock:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if not batch:
                    self._draining = False
                    return
            self.batches += 1
            outcomes: Sequence[Outcome[R]]
            try:
                outcomes = self._run([item for item, _, _ in batch])
            except BaseException as exc:  # the whole batch failed (BEGIN or COMMIT)
                outcomes = [exc] * len(batch)
            # One wake-up per event loop per batch, not one per item.
            by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[R], Outcome[R]]]]
            by_loop = {}
            for (_, loop, future), outcome in zip(batch, outcomes, strict=True):
                by_loop.setdefault(loop, []).append((future, outcome))
            for loop, answers in by_loop.items():
                # RuntimeError: that loop is closed, so nobody is waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, answers)


def _resolve(answers: list[tuple[asyncio.Future[R], Outcome[R]]]) -> None:
    for future, outcome in answers:
        if future.done():  # the caller was cancelled; the work still happened
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
