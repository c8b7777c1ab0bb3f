"""A server for the admin tests, with bindings for non-platform admins and no background GC.

``gc_interval_seconds`` is an hour, so that only the tests run the collector (its first pass at
start sees an empty store).

    ops      admin of org acme only: every lightningstor:* action, but not on the platform
    auditor  lightningstor:admin:read on the platform (org "*"), nothing else
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server import ServerProcess, running_server

CONFIG = """
[storage]
gc_interval_seconds = 3600

[iam.roles]
auditor = ["lightningstor:admin:read"]

[[iam.bindings]]
principal = "ops"
role = "admin"
org = "acme"

[[iam.bindings]]
principal = "acme/auditor"
role = "auditor"
org = "*"
"""


def admin_server(workdir: Path) -> Iterator[ServerProcess]:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "server.toml"
    config.write_text(CONFIG)
    with running_server(workdir, env={"LIGHTNINGSTOR_CONFIG": str(config)}) as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from admin_server(tmp_path_factory.mktemp("admin"))
