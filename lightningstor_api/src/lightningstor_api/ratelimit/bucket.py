"""A token bucket: ``rate`` tokens a second, holding at most ``capacity``."""

from __future__ import annotations


class TokenBucket:
    """Tokens refill continuously; a request takes one only when one is there (:meth:`try_take`),
    a stream takes what it moved and may go into debt (:meth:`take`), which it then waits out.
    Time is passed in (monotonic seconds), so one clock reading serves several buckets."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def configure(self, rate: float, capacity: float) -> None:
        """A changed limit: keep the tokens (or the debt), capped at the new capacity."""
        self.rate = rate
        self.capacity = capacity
        self.tokens = min(self.tokens, capacity)

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, n: float, now: float) -> float:
        """Seconds until ``n`` tokens are there (0: now); takes nothing."""
        self._refill(now)
        return max(0.0, (n - self.tokens) / self.rate)

    def try_take(self, n: float, now: float) -> bool:
        """Take ``n`` tokens if they are there."""
        self._refill(now)
        if self.tokens < n:
            return False
        self.tokens -= n
        return True

    def take(self, n: float, now: float) -> float:
        """Take ``n`` tokens, into debt if need be; the seconds until the debt is paid."""
        self._refill(now)
        self.tokens -= n
        return max(0.0, -self.tokens / self.rate)
