"""SignatureMemory: each signature once in the window, bounded, forgetting only what aged out."""

from __future__ import annotations

import pytest

from lightningstor_api.callers import SignatureMemory
from lightningstor_types.errors import SlowDown

SIG = "ab" * 32


def test_a_signature_is_accepted_once_until_it_leaves_the_window() -> None:
    memory = SignatureMemory(window_seconds=60, capacity=1000)
    assert memory.first_use(1000, SIG, now=1000.0)
    assert not memory.first_use(1000, SIG, now=1059.0)
    assert memory.first_use(1000, "cd" * 32, now=1059.0)
    assert len(memory) == 2
    # Past date + window the server refuses the date itself, so the memory forgets it.
    assert memory.first_use(1061, SIG, now=1061.5)
    assert len(memory) == 1


def test_a_full_memory_refuses_new_signatures_rather_than_forgetting() -> None:
    memory = SignatureMemory(window_seconds=60, capacity=2)
    assert memory.first_use(1000, "01" * 32, now=1000.0)
    assert memory.first_use(1001, "02" * 32, now=1001.0)
    with pytest.raises(SlowDown):
        memory.first_use(1002, "03" * 32, now=1002.0)
    # A replay is still recognised as one while full.
    assert not memory.first_use(1000, "01" * 32, now=1002.0)
    # Room again once the oldest leaves the window.
    assert memory.first_use(1062, "03" * 32, now=1062.0)
