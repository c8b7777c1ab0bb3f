"""Background tasks of a server: the one way they are stopped, and how their failures are logged."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from lightningstor_api.metadata.store import MetadataError


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def log_failure(logger: logging.Logger, message: str, *args: object) -> None:
    """Log the exception being handled by a background loop that goes on.

    A metadata store failure (etcd without quorum, the store closed) is a condition the loop
    retries, not a bug: one warning line with its reason, no traceback. Anything else is logged
    with its traceback.
    """
    exc = sys.exception()
    if isinstance(exc, MetadataError):
        logger.warning(message + ": %s", *args, exc)
    else:
        logger.exception(message, *args)
