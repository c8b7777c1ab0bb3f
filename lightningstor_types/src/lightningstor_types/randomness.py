"""Random identifiers from a pool of ``os.urandom`` bytes.

``secrets.token_hex`` makes one ``getrandom`` system call per id, and ``os.urandom`` releases
the GIL around it: on the event loop's thread, taking the GIL back from whichever thread took it
cost more than the call (a PUT makes several ids). The pool reads 4 KiB at a time; each byte is
handed out once, under a lock, and a forked child starts with an empty pool, so two processes
never share bytes.
"""

from __future__ import annotations

import os
import threading

__all__ = ["token_hex"]

_POOL_BYTES = 4096

_lock = threading.Lock()
_pool = b""
_offset = 0


def token_hex(nbytes: int) -> str:
    """``nbytes`` random bytes (at most 4 KiB), as lowercase hex, as ``secrets.token_hex``."""
    global _pool, _offset
    if not 0 < nbytes <= _POOL_BYTES:
        raise ValueError(f"nbytes must be 1..{_POOL_BYTES}, not {nbytes}")
    with _lock:
        if _offset + nbytes > len(_pool):
            _pool, _offset = os.urandom(_POOL_BYTES), 0
        start = _offset
        _offset += nbytes
        return _pool[start:_offset].hex()


def _forget() -> None:
    global _pool, _offset
    _pool, _offset = b"", 0


os.register_at_fork(after_in_child=_forget)
