"""CoalescingTransport: the small writes of one loop turn reach the socket as one write."""

from __future__ import annotations

import asyncio
from typing import Any

from lightningstor_s3.transport import COALESCE_LIMIT, CoalescingTransport


class RecordingTransport(asyncio.Transport):
    """Stands in for uvloop's transport: records each write and the close."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))
        self.events.append("write")

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


async def next_turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_small_writes_of_one_turn_go_out_together() -> None:
    real = RecordingTransport()
    t = CoalescingTransport(real, asyncio.get_running_loop())
    t.write(b"HTTP/1.1 200 OK\r\n\r\n")
    t.write(memoryview(b"body"))
    assert real.writes == []  # nothing before the end of the turn
    assert t.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
    await next_turn()
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    t.write(b"next")
    await next_turn()
    assert real.writes[1:] == [b"next"]
    assert t.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the real transport's


async def test_a_large_write_goes_out_at_once_after_what_was_gathered() -> None:
    real = RecordingTransport()
    t = CoalescingTransport(real, asyncio.get_running_loop())
    big = b"x" * COALESCE_LIMIT
    t.write(b"head")
    t.write(big)
    assert real.writes == [b"head", big]
    await next_turn()
    assert real.writes == [b"head", big]  # nothing left to flush


async def test_close_sends_what_was_gathered_first_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    real = RecordingTransport()
    t = CoalescingTransport(real, loop)
    t.write(b"last words")
    t.close()
    assert real.events == ["write", "close"] and real.writes == [b"last words"]
    await next_turn()
    assert real.writes == [b"last words"]  # the scheduled flush finds nothing

    real = RecordingTransport()
    t = CoalescingTransport(real, loop)
    t.write(b"never sent")
    t.abort()
    await next_turn()
    assert real.events == ["abort"] and real.writes == []
