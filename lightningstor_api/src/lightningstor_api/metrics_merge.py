"""One Prometheus page for a server of several processes: the workers' pages merged.

Each worker of a multi-process server serves its own page on a private unix socket
(:mod:`lightningstor_api.workers`); whichever worker a scrape reaches fetches the others' pages
and answers with :func:`merge_pages` of all of them, so the page shows the whole server.

Merge rule, per family type: counters, histograms (``_bucket``, ``_sum``, ``_count``) and
summaries are summed sample by sample (same name and labels); gauges named in ``primary_only``
(the figures of the periodic store scan, which only worker 0 runs, and ``target_info``, whose
labels name one process) are taken from the primary page alone; every other gauge describes
its process and is summed. A sample present on only some pages counts what those pages hold.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

__all__ = ["ServerPage", "fetch_page", "merge_pages"]

_SUMMED_TYPES = frozenset({"counter", "histogram", "summary", "gaugehistogram"})
_FETCH_TIMEOUT = 2.0


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def merge_pages(
    primary: bytes | None, others: Sequence[bytes], primary_only: Collection[str]
) -> bytes:
    """The page of the whole server from the primary worker's page and the other workers'.

    ``primary`` is None when worker 0 did not answer: its store gauges are then absent.
    """
    families: dict[str, Metric] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], Sample]] = {}
    pages = [(True, primary)] if primary is not None else []
    pages += [(False, page) for page in others]
    for is_primary, page in pages:
        for family in text_string_to_metric_families(page.decode()):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit
                )
                sums[family.name] = {}
            summed = family.type in _SUMMED_TYPES or (
                family.type == "gauge" and family.name not in primary_only
            )
            if not summed and not is_primary:
                continue
            samples = sums[family.name]
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                seen = samples.get(key)
                value = s.value if seen is None else seen.value + s.value
                samples[key] = Sample(s.name, s.labels, value, s.timestamp, s.exemplar)
    for name, merged in families.items():
        merged.samples = list(sums[name].values())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families.values()))
    return generate_latest(registry)


async def fetch_page(socket_path: Path) -> bytes | None:
    """``GET /metrics`` from a worker's private socket; None if it does not answer in time."""
    with contextlib.suppress(OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
        return await asyncio.wait_for(_get(socket_path), _FETCH_TIMEOUT)
    return None


async def _get(socket_path: Path) -> bytes | None:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nhost: worker\r\nconnection: close\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200 "):
            return None
        return await reader.read()  # to EOF: the listener closes after one answer
    finally:
        writer.close()


class ServerPage:
    """The page of the whole server, as worker ``index`` serves it to scrapers."""

    def __init__(
        self,
        own_page: Callable[[], bytes],
        index: int,
        sockets: Sequence[Path],
        primary_only: Collection[str],
    ) -> None:
        self._own = own_page
        self._index = index
        self._sockets = sockets
        self._primary_only = primary_only

    async def scrape(self) -> tuple[bytes, str]:
        """Fetch the other workers' pages (skipping any that does not answer) and merge."""
        others = [i for i in range(len(self._sockets)) if i != self._index]
        fetched = await asyncio.gather(*(fetch_page(self._sockets[i]) for i in others))
        pages = {i: page for i, page in zip(others, fetched, strict=True) if page is not None}
        pages[self._index] = self._own()
        primary = pages.pop(0, None)
        return merge_pages(primary, list(pages.values()), self._primary_only), CONTENT_TYPE_LATEST
