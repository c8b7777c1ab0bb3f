"""``DescriptorWatch``: notices when the process runs out of file descriptors.

When the open-file limit is reached, accept() fails on every listener, but neither uvloop (libuv
accepts and drops the connection with a reserved descriptor) nor gRPC core tells Python, and
opening chunk files fails too. Once a second the watch opens one descriptor and closes it; when
that fails for lack of descriptors it counts ``lightningstor_connection_limits_total{listener=
"process",reason="open_files"}`` and logs a warning (once when it starts, then every
:data:`LOG_INTERVAL` seconds while it lasts). Two system calls a second.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import time

from lightningstor_api.metrics import METRICS, Metrics
from lightningstor_types.open_files import open_file_limit

__all__ = ["LOG_INTERVAL", "DescriptorWatch"]

log = logging.getLogger(__name__)

LOG_INTERVAL = 10.0
_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE})


class DescriptorWatch:
    """Probes for a free file descriptor every ``interval`` seconds."""

    def __init__(self, interval: float = 1.0, metrics: Metrics = METRICS) -> None:
        self._interval = interval
        self._metrics = metrics
        self._logged_at: float | None = None

    def probe(self) -> bool:
        """True when a descriptor could be opened; counted and logged when not."""
        try:
            os.close(os.open(os.devnull, os.O_RDONLY))
        except OSError as err:
            if err.errno not in _EXHAUSTED:
                raise
            self._metrics.connection_limit("process", "open_files")
            now = time.monotonic()
            if self._logged_at is None or now - self._logged_at >= LOG_INTERVAL:
                self._logged_at = now
                log.warning(
                    "out of file descriptors: connections are dropped at accept",
                    extra={"limit": open_file_limit(), "error": err.strerror},
                )
            return False
        if self._logged_at is not None:
            self._logged_at = None
            log.info("file descriptors available again")
        return True

    async def run(self) -> None:
        while True:
            self.probe()
            await asyncio.sleep(self._interval)
