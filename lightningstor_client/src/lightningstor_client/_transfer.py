"""Bodies as streams of pieces, and whole-file transfers (parallel, resumable uploads).

Nothing here holds a whole body: files are read and written with ``pread``/``pwrite`` in worker
threads, one piece (at most :data:`PIECE_SIZE`) per gRPC message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from lightningstor_client._models import ObjectInfo, Part, PutResult
from lightningstor_types.files import fsync_dir

if TYPE_CHECKING:
    from lightningstor_client._aio import AsyncLightningStorClient
    from lightningstor_client._requests import ContentHeaderArgs

log = logging.getLogger("lightningstor_client")

PIECE_SIZE = 1024 * 1024
MiB = 1024 * 1024
MAX_PARTS = 10_000
STATE_SUFFIX = ".lsupload"

Body = bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes] | AsyncIterable[bytes]
"""What can be uploaded: bytes, a binary file object, or an (async) iterable of bytes."""
Progress = Callable[[int, int], None]
"""``progress(bytes_done, total)``, called on the event loop as pieces go out or come in."""

_T = TypeVar("_T")


def _split(piece: bytes) -> Iterable[bytes]:
    if len(piece) <= PIECE_SIZE:
        return (piece,) if piece else ()
    return (piece[i : i + PIECE_SIZE] for i in range(0, len(piece), PIECE_SIZE))


async def iter_pieces(data: Body) -> AsyncIterator[bytes]:
    """``data`` as non-empty pieces of at most :data:`PIECE_SIZE` bytes."""
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), PIECE_SIZE):
            yield bytes(view[start : start + PIECE_SIZE])
    elif hasattr(data, "read"):
        reader: IO[bytes] = data  # type: ignore[assignment]
        while piece := await asyncio.to_thread(reader.read, PIECE_SIZE):
            yield piece
    elif isinstance(data, AsyncIterable):
        async for piece in data:
            for part in _split(bytes(piece)):
                yield part
    else:
        for piece in data:
            for part in _split(bytes(piece)):
                yield part


async def read_region(
    fd: int, offset: int, length: int, report: Callable[[int], None]
) -> AsyncIterator[bytes]:
    """``length`` bytes of an open file from ``offset``, reporting each piece read."""
    end = offset + length
    while offset < end:
        piece = await asyncio.to_thread(os.pread, fd, min(PIECE_SIZE, end - offset), offset)
        if not piece:
            raise OSError(f"file shrank while uploading (no data at offset {offset})")
        offset += len(piece)
        report(len(piece))
        yield piece


async def run_limited(
    limit: int, items: Iterable[_T], work: Callable[[_T], Awaitable[None]]
) -> None:
    """``work`` each item, at most ``limit`` at a time; the first failure cancels the rest."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await work(item)

    tasks = [asyncio.create_task(worker()) for _ in range(max(1, limit))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class _Counter:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.done, self.total, self._progress = 0, total, progress

    def __call__(self, n: int) -> None:
        self.done += n
        if self._progress is not None:
            self._progress(self.done, self.total)


@dataclass(frozen=True, slots=True)
class ResumeState:
    """``<file>.lsupload``: the multipart upload a file was being sent with."""

    bucket: str
    key: str
    upload_id: str
    size: int
    mtime_ns: int
    part_size: int

    @staticmethod
    def path_for(path: Path) -> Path:
        return path.with_name(path.name + STATE_SUFFIX)

    @classmethod
    def load(cls, path: Path) -> ResumeState | None:
        try:
            return cls(**json.loads(cls.path_for(path).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        target = self.path_for(path)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(target)

    @classmethod
    def clear(cls, path: Path) -> None:
        cls.path_for(path).unlink(missing_ok=True)


def choose_part_size(size: int, part_size: int) -> int:
    """``part_size``, grown to whole MiB when the file would need more than 10 000 parts."""
    if -(-size // part_size) <= MAX_PARTS:
        return part_size
    return -(-size // (MAX_PARTS * MiB)) * MiB


async def _resumable_parts(
    client: AsyncLightningStorClient, state: ResumeState, part_size: int, size: int
) -> dict[int, Part] | None:
    """Parts already uploaded to ``state``'s upload, if it is still open (else None)."""
    found, key_marker, id_marker = False, None, None
    while not found:
        page = await client.list_multipart_uploads(
            state.bucket, prefix=state.key, key_marker=key_marker, upload_id_marker=id_marker
        )
        found = any(u.key == state.key and u.upload_id == state.upload_id for u in page.uploads)
        if page.next_key_marker is None:
            break
        key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker
    if not found:
        return None
    done: dict[int, Part] = {}
    marker = 0
    while True:
        parts = await client.list_parts(
            state.bucket, state.key, state.upload_id, part_number_marker=marker
        )
        for part in parts.parts:
            if part.size == min(part_size, size - (part.part_number - 1) * part_size):
                done[part.part_number] = part
        if parts.next_part_number_marker is None:
            return done
        marker = parts.next_part_number_marker


async def upload_file(
    client: AsyncLightningStorClient,
    path: Path,
    bucket: str,
    key: str,
    *,
    part_size: int,
    multipart_threshold: int,
    concurrency: int,
    progress: Progress | None,
    resume: bool,
    metadata: dict[str, str] | None,
    headers: ContentHeaderArgs,
) -> PutResult:
    """See :meth:`AsyncLightningStorClient.upload_file`."""
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        count = _Counter(st.st_size, progress)
        if st.st_size < multipart_threshold:
            body = read_region(fd, 0, st.st_size, count)
            return await client.put_object(
                bucket, key, body, content_length=st.st_size, metadata=metadata, **headers
            )
        part_size = choose_part_size(st.st_size, part_size)
        wanted = ResumeState(bucket, key, "", st.st_size, st.st_mtime_ns, part_size)
        return await _multipart(
            client, fd, path, wanted, concurrency, count, resume, metadata, headers
        )
    finally:
        os.close(fd)


async def _multipart(
    client: AsyncLightningStorClient,
    fd: int,
    path: Path,
    wanted: ResumeState,
    concurrency: int,
    count: _Counter,
    resume: bool,
    metadata: dict[str, str] | None,
    headers: ContentHeaderArgs,
) -> PutResult:
    size, part_size = wanted.size, wanted.part_size
    state = ResumeState.load(path) if resume else None
    parts: dict[int, Part] | None = None
    if state is not None and state == replace(wanted, upload_id=state.upload_id):
        parts = await _resumable_parts(client, state, part_size, size)
    if state is None or parts is None:
        upload = await client.create_multipart_upload(
            bucket=wanted.bucket, key=wanted.key, metadata=metadata, **headers
        )
        state = replace(wanted, upload_id=upload.upload_id)
        parts = {}
        if resume:
            try:
                state.save(path)
            except OSError as err:  # e.g. a read-only directory: upload, just not resumably
                log.warning("cannot record the upload for resuming: %s", err)
    count(sum(p.size or 0 for p in parts.values()))
    numbers = range(1, -(-size // part_size) + 1)

    async def send(number: int) -> None:
        offset = (number - 1) * part_size
        length = min(part_size, size - offset)
        body = read_region(fd, offset, length, count)
        parts[number] = await client.upload_part(
            state.bucket, state.key, state.upload_id, number, body, content_length=length
        )

    try:
        await run_limited(concurrency, [n for n in numbers if n not in parts], send)
    except BaseException:
        if not resume:
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    client.abort_multipart_upload(state.bucket, state.key, state.upload_id)
                )
        raise
    result = await client.complete_multipart_upload(
        state.bucket, state.key, state.upload_id, [parts[n] for n in numbers]
    )
    if resume:
        ResumeState.clear(path)
    return result


async def download_file(
    client: AsyncLightningStorClient,
    bucket: str,
    key: str,
    path: Path,
    *,
    version_id: str | None,
    part_size: int,
    concurrency: int,
    progress: Progress | None,
) -> ObjectInfo:
    """See :meth:`AsyncLightningStorClient.download_file`."""
    info = await client.head_object(bucket, key, version_id=version_id)
    count = _Counter(info.size, progress)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.lsdownload")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        os.ftruncate(fd, info.size)

        async def fetch(first: int) -> None:
            last = min(first + part_size, info.size) - 1
            stream = await client.get_object(
                bucket, key, version_id=version_id, range=(first, last), if_match=info.etag
            )
            async with stream:
                async for piece in stream:
                    await asyncio.to_thread(os.pwrite, fd, piece, first)
                    first += len(piece)
                    count(len(piece))

        await run_limited(concurrency, range(0, info.size, part_size), fetch)
        await asyncio.to_thread(os.fsync, fd)
        os.close(fd)
        fd = -1
        tmp.replace(path)
        await asyncio.to_thread(fsync_dir, path.parent)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return info
