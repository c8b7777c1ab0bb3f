"""Helpers for client-streaming gRPC calls, shared by the API server and the storage node."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 2.0


class _Sized(Protocol):
    def ByteSize(self) -> int: ...  # noqa: N802 - protobuf's name


async def drain_client_stream(requests: AsyncIterator[_Sized]) -> None:
    """Read and drop, within bounds, what the client of a refused call is still sending.

    A grpc.aio client that writes after the server ended the call reports INTERNAL ("Internal
    error from Core") instead of the server's status (grpc/grpc#36066); letting it finish its
    writes first delivers the real error. Past the bounds the error is sent anyway.
    """
    received = 0
    with contextlib.suppress(Exception):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for message in requests:
                received += message.ByteSize()
                if received > DRAIN_BYTES:
                    return
