"""Fixtures shared by the metadata tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lightningstor_api.metadata import EmbeddedStore

OpenEmbedded = Callable[..., Awaitable[EmbeddedStore]]


@pytest.fixture
async def open_embedded(tmp_path: Path) -> AsyncIterator[OpenEmbedded]:
    """Open EmbeddedStores (default file ``tmp_path/meta.db``); all are closed at teardown."""
    stores: list[EmbeddedStore] = []

    async def open_store(path: Path | None = None, **options: Any) -> EmbeddedStore:
        store = await EmbeddedStore.open(path or tmp_path / "meta.db", **options)
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        await store.close()
