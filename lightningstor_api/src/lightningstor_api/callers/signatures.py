"""The access-key signatures a server process accepted within the window: each is accepted once.

A signature names its date; the server refuses a date farther than the window from its clock,
so a signature needs remembering only until its date plus the window. Signatures are kept in
buckets by date second and whole buckets are dropped as they age out (a sweep once a second,
over at most 2 * window + 1 buckets). Memory is bounded by
``capacity`` (about 85 bytes a signature): when it is full a new signature is refused (SlowDown)
rather than an old one forgotten early, which would let it be replayed.

The memory is per process: a replay that reaches another server process, or another server,
within the window is not recognised there (the signature still binds the method).
"""

from __future__ import annotations

from lightningstor_types.errors import SlowDown


class SignatureMemory:
    """Remembers accepted signatures (their first 16 bytes) until they leave the window."""

    def __init__(self, window_seconds: int, capacity: int) -> None:
        self.window = window_seconds
        self.capacity = capacity
        self._by_date: dict[int, set[int]] = {}
        self._count = 0
        self._swept = -1

    def __len__(self) -> int:
        return self._count

    def first_use(self, date: int, signature_hex: str, now: float) -> bool:
        """Records the signature; False if it was accepted before (a replay).

        ``date`` must already be within the window of ``now``; raises SlowDown when full.
        """
        self._forget(now)
        tag = int(signature_hex[:32], 16)
        bucket = self._by_date.get(date)
        if bucket is not None and tag in bucket:
            return False
        if self._count >= self.capacity:
            raise SlowDown(
                "Please reduce your request rate: too many signed calls within the signature window"
            )
        if bucket is None:
            bucket = self._by_date[date] = set()
        bucket.add(tag)
        self._count += 1
        return True

    def _forget(self, now: float) -> None:
        """Drops the buckets whose dates can no longer be accepted."""
        second = int(now)
        if second == self._swept:
            return
        self._swept = second
        oldest = now - self.window
        for date in [d for d in self._by_date if d < oldest]:
            self._count -= len(self._by_date.pop(date))
