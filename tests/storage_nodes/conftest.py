"""Fixtures of the storage-node tests: real node processes and replicated backends over them.

nodes          four storage nodes of their own for one test (faults allowed)
shared_nodes   four storage nodes shared by a module's tests (no faults)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from lightningstor_storage.replicated import Cluster, Node, ReplicatedBackend
from lightningstor_storage.replicated.placement import Strategy
from tests.storage_nodes.nodes import NodeProcess, running_nodes
from tests.wait import await_until


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path / "nodes", 4) as started:
        yield started


@pytest.fixture(scope="module")
def shared_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NodeProcess]]:
    with running_nodes(tmp_path_factory.mktemp("nodes"), 4) as started:
        yield started


def make_backend(
    nodes: Sequence[NodeProcess],
    *,
    replication_factor: int = 3,
    write_quorum: int | None = None,
    timeout: float = 10.0,
    backoff: float = 1.0,
    zones: Sequence[str] | None = None,
    strategy: Strategy = "consistent_hash",
    scrub_rate: int = 0,
) -> ReplicatedBackend:
    """A backend over ``nodes`` (call inside the event loop; close it at the end)."""
    placed = [Node(n.address, zones[i] if zones else "", 1.0) for i, n in enumerate(nodes)]
    cluster = Cluster(
        placed,
        replication_factor=replication_factor,
        write_quorum=write_quorum or replication_factor // 2 + 1,
        strategy=strategy,
        timeout=timeout,
        backoff=backoff,
    )
    return ReplicatedBackend(cluster, scrub_rate=scrub_rate)


async def until_answers(backend: ReplicatedBackend, address: str, timeout: float = 10.0) -> None:
    """Probe the nodes (as the repair loop does) until ``address`` answers."""

    async def answers() -> bool:
        return address in await backend.cluster.refresh()

    await await_until(answers, timeout, f"{address} to answer")
