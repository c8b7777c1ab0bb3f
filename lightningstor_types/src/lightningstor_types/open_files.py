"""The process's open-file limit: raised to its hard limit at start, and shared among listeners.

Every connection is a file descriptor. With the common soft limit of 1,024, a thousand idle
connections made accept() fail for every listener of the process (S3 and gRPC) while chunk files
and metadata could no longer be opened either. :func:`raise_open_file_limit` lifts the soft
limit to the hard one (no privilege needed); :func:`connection_budget` caps a listener's
connections at a share of it, so that the listeners' bounds trip long before the descriptors
run out.
"""

from __future__ import annotations

import logging
import resource

__all__ = [
    "GRPC_SHARE",
    "S3_SHARE",
    "connection_budget",
    "open_file_limit",
    "raise_open_file_limit",
]

log = logging.getLogger(__name__)

S3_SHARE = 0.5
"""Part of the open-file limit the S3 listener may hold as connections."""
GRPC_SHARE = 0.25
"""Part the gRPC listener may hold; the last quarter stays for files, etcd and storage nodes."""


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = limit
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20  # Linux refuses an infinite open-file limit; this is its usual ceiling
    if soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, limit))
        except (ValueError, OSError) as err:
            log.warning("cannot raise the open-file limit", extra={"soft": soft, "error": str(err)})
            return soft
        log.debug("open-file limit raised", extra={"from": soft, "to": hard})
        return hard
    return soft


def open_file_limit() -> int:
    """The soft RLIMIT_NOFILE in force."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def connection_budget(configured: int, share: float) -> int:
    """``configured`` (0 = unbounded), capped at ``share`` of the open-file limit."""
    cap = max(1, int(open_file_limit() * share))
    return cap if configured == 0 else min(configured, cap)
