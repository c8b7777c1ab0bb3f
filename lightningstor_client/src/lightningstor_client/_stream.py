"""An object being read: its description first, then its bytes as an async iterator."""

from __future__ import annotations

from types import TracebackType

import grpc.aio

from lightningstor.v1 import object_pb2
from lightningstor_client._errors import translated
from lightningstor_client._models import ObjectInfo
from lightningstor_types.errors import InternalError

GetCall = grpc.aio.UnaryStreamCall[object_pb2.GetObjectRequest, object_pb2.GetObjectResponse]


class AsyncObjectStream:
    """The answer to GetObject: ``info``, then the content by ``async for``.

    Drain it, or close it (``aclose()`` or ``async with``) to stop the transfer early.
    """

    def __init__(self, call: GetCall, header: object_pb2.GetObjectHeader) -> None:
        self._call = call
        self._remaining = header.content_length
        self.info = ObjectInfo.from_pb(header.object)
        self.content_length: int = header.content_length
        """Bytes this stream carries (the range or part when one was asked for)."""
        self.content_range: tuple[int, int] | None = (
            (header.range_first, header.range_last) if header.is_partial else None
        )
        """The inclusive byte range returned, for a range or part read."""

    @classmethod
    async def open(cls, call: GetCall) -> AsyncObjectStream:
        """Wait for the header message (errors such as NoSuchKey are raised here)."""
        with translated():
            first = await call.read()
        if first is grpc.aio.EOF or not isinstance(first, object_pb2.GetObjectResponse):
            raise InternalError("the server sent no object header")
        if not first.HasField("header"):
            call.cancel()
            raise InternalError("the server sent content before the object header")
        return cls(call, first.header)

    def __aiter__(self) -> AsyncObjectStream:
        return self

    async def __anext__(self) -> bytes:
        with translated():
            message = await self._call.read()
        if message is grpc.aio.EOF or not isinstance(message, object_pb2.GetObjectResponse):
            if self._remaining:
                raise InternalError(f"the object stream ended {self._remaining} bytes early")
            raise StopAsyncIteration
        self._remaining -= len(message.content)
        if self._remaining < 0:
            raise InternalError("the object stream carried more bytes than announced")
        return message.content

    async def read(self) -> bytes:
        """All the remaining content at once (for small objects)."""
        return b"".join([piece async for piece in self])

    async def aclose(self) -> None:
        """Stop the transfer; the server releases what it holds."""
        self._call.cancel()

    async def __aenter__(self) -> AsyncObjectStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncObjectStream {self.info.bucket}/{self.info.key} {self.content_length} bytes>"
