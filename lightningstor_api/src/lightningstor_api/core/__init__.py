"""The core: buckets, objects, versions, multipart uploads and garbage collection.

:class:`Core` implements the service protocols of ``lightningstor_types.service`` in process;
everything else here is the machinery behind it. ``Core`` is imported on first use, so that
importing one module of the core (``core.keys``…) does not import all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lightningstor_api.core.service import Core

__all__ = ["Core"]


def __getattr__(name: str) -> object:
    if name == "Core":
        from lightningstor_api.core.service import Core

        return Core
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
