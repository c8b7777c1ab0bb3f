"""Which storage nodes answer: a failure marks a node down for a back-off period.

A node that failed (unreachable, timed out, an internal error) is *down* until its back-off
ends; then the next call may try it again, and a success marks it up. Answers about a chunk
(not found, corrupt, exists) are no failure of the node. Writes skip down nodes; reads try them
last.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["NodeHealth", "NodeStatus"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class NodeStatus:
    """What is known of one node's health."""

    down_until: float = 0.0
    """Monotonic time before which the node is skipped."""
    failures: int = 0
    """Consecutive failures."""
    last_error: str = ""


class NodeHealth:
    """Up/down state of a fixed set of nodes."""

    def __init__(
        self,
        addresses: Iterable[str],
        backoff_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._status = {a: NodeStatus() for a in addresses}
        self._backoff = backoff_seconds
        self._clock = clock

    def is_up(self, address: str) -> bool:
        """False while the node's back-off runs."""
        return self._status[address].down_until <= self._clock()

    def status(self, address: str) -> NodeStatus:
        return self._status[address]

    def failed(self, address: str, error: BaseException | str) -> None:
        """Record a failure: the node is down for the back-off period."""
        st = self._status[address]
        if st.down_until <= self._clock() and st.failures == 0:
            log.warning("storage node %s marked down: %s", address, error)
        st.failures += 1
        st.last_error = str(error)
        st.down_until = self._clock() + self._backoff

    def succeeded(self, address: str) -> bool:
        """Record an answer; True if the node had failed before (it is back)."""
        st = self._status[address]
        recovered = st.failures > 0
        if recovered:
            log.info("storage node %s is back after %d failures", address, st.failures)
        st.failures = 0
        st.down_until = 0.0
        st.last_error = ""
        return recovered

    def up_first(self, addresses: Iterable[str]) -> list[str]:
        """``addresses`` with the down ones moved to the end (order otherwise kept)."""
        items = list(addresses)
        return [a for a in items if self.is_up(a)] + [a for a in items if not self.is_up(a)]
