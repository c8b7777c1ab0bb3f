"""``token_hex``: ids from a pool of ``os.urandom`` bytes, each byte handed out once."""

from __future__ import annotations

import os
import re
import threading

import pytest

from lightningstor_types.randomness import token_hex


def test_ids_have_the_asked_length_and_never_repeat() -> None:
    ids = [token_hex(n) for _ in range(5000) for n in (4, 8, 16)]
    assert all(re.fullmatch(r"[0-9a-f]+", i) for i in ids)
    assert [len(i) for i in ids[:3]] == [8, 16, 32]
    assert len(set(ids)) == len(ids)
    with pytest.raises(ValueError):
        token_hex(0)
    with pytest.raises(ValueError):
        token_hex(4097)


def test_threads_never_get_the_same_bytes() -> None:
    got: list[list[str]] = [[] for _ in range(4)]

    def draw(out: list[str]) -> None:
        out.extend(token_hex(16) for _ in range(20_000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in got for i in out]
    assert len(set(every)) == len(every) == 80_000


def test_a_forked_child_does_not_repeat_its_parents_pool() -> None:
    token_hex(16)  # the parent's pool now holds unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write its next ids and leave at once
        os.write(write, "".join(token_hex(16) for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    os.close(read)
    assert status == 0
    parent = "".join(token_hex(16) for _ in range(8))
    assert len(child) == len(parent) == 256
    assert child != parent
