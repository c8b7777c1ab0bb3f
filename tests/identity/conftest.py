"""Reuse the core's fixtures (a real Core in tmp_path, a caller in org acme / project web)."""

from tests.core.conftest import core, ctx, settings

__all__ = ["core", "ctx", "settings"]
