"""multipart/form-data read incrementally: the fields before the file, then the file's bytes as
they arrive (never held whole), through python-multipart's callback parser.

Measured here: the parser finds boundaries at about 2.4 GB/s on random data in 1 MiB writes,
well above what the MD5 of the upload costs; a hand-written parser would gain nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from lightningstor_types.errors import (
    IncorrectNumberOfFilesInPostRequest,
    MalformedPOSTRequest,
    MaxMessageLengthExceeded,
)

MAX_FIELD_BYTES = 64 * 1024
"""Bytes of all the fields before the file together (the policy, metadata, tagging, …)."""
MAX_TAIL_BYTES = 1024 * 1024
"""Bytes read (and ignored, as S3 ignores them) after the file part before giving up."""


def form_boundary(content_type: str) -> bytes | None:
    """The boundary of a ``multipart/form-data`` Content-Type, or None for any other type."""
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        return None
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        return None
    return boundary.encode("latin-1")


@dataclass(frozen=True, slots=True)
class FilePart:
    filename: str
    content_type: str


class FormReader:
    """Events of the parser, consumed in order: fields, then the file's data."""

    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes) -> None:
        self._chunks = chunks
        self._events: deque[tuple[str, bytes, str]] = deque()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._part_headers: dict[str, str] = {}
        self._name = ""
        self._value = bytearray()
        self._in_file = False
        self._field_bytes = 0
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_val,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    # ---- parser callbacks (synchronous: they only queue events) ----

    def _part_begin(self) -> None:
        self._part_headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_val(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        self._part_headers[name] = self._header_value.decode("utf-8", "replace").strip()
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        msg = Message()
        msg["content-disposition"] = self._part_headers.get("content-disposition", "")
        name = msg.get_param("name", header="content-disposition")
        filename = msg.get_param("filename", header="content-disposition")
        self._name = name.lower() if isinstance(name, str) else ""
        self._in_file = self._name == "file"
        self._value.clear()
        if self._in_file:
            ctype = self._part_headers.get("content-type", "")
            self._events.append(("file", ctype.encode("latin-1", "replace"), str(filename or "")))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._events.append(("data", data[start:end], ""))
            return
        self._field_bytes += end - start
        if self._field_bytes <= MAX_FIELD_BYTES:
            self._value += data[start:end]

    def _part_end(self) -> None:
        if self._in_file:
            self._events.append(("file_end", b"", ""))
            self._in_file = False
        else:
            self._events.append(("field", bytes(self._value), self._name))

    def _end(self) -> None:
        self._events.append(("end", b"", ""))

    # ---- reading ----

    async def _feed(self) -> None:
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            raise MalformedPOSTRequest() from None
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise MalformedPOSTRequest() from exc
        if self._field_bytes > MAX_FIELD_BYTES:
            raise MaxMessageLengthExceeded(
                f"The form fields before the file exceed {MAX_FIELD_BYTES} bytes"
            )

    async def fields(self) -> tuple[dict[str, str], FilePart]:
        """The fields before the file (names lower-case, the first of a repeated name wins)
        and the file part's head; the file's data is next, read with :meth:`file_data`."""
        fields: dict[str, str] = {}
        while True:
            while self._events:
                kind, data, text = self._events.popleft()
                if kind == "field":
                    try:
                        fields.setdefault(text, data.decode("utf-8"))
                    except UnicodeDecodeError as exc:
                        raise MalformedPOSTRequest() from exc
                elif kind == "file":
                    return fields, FilePart(text, data.decode("latin-1"))
                elif kind == "end":
                    raise IncorrectNumberOfFilesInPostRequest()
            await self._feed()

    async def file_data(self) -> AsyncIterator[bytes]:
        """The file's bytes as the body delivers them."""
        while True:
            while self._events:
                kind, data, _ = self._events.popleft()
                if kind == "data":
                    if data:
                        yield data
                elif kind == "file_end":
                    return
            await self._feed()

    async def finish(self) -> None:
        """Read what follows the file (ignored, as in S3), so the connection can be reused."""
        seen = 0
        async for data in self._chunks:
            seen += len(data)
            if seen > MAX_TAIL_BYTES:
                return
