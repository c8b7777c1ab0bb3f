"""Fixtures shared by every test directory. Keep each group in its own section."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# -- Real server processes and clients (tests/integration/server.py) ----------------------------
#
# server          a server process of its own for one test (function scope)
# module_server   one server shared by the tests of a module
# client          LightningStorClient (blocking) connected to module_server, as the admin
# aclient         AsyncLightningStorClient connected to module_server (in the test's loop)
# new_bucket      the name of a fresh, empty bucket on module_server
#
# Imports happen inside the fixtures, so that test directories which do not use them run with
# only their own distribution installed.

if TYPE_CHECKING:
    from lightningstor_client import AsyncLightningStorClient, LightningStorClient
    from tests.integration.server import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    from tests.integration.server import running_server

    with running_server(tmp_path / "server") as proc:
        yield proc


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.integration.server import running_server

    with running_server(tmp_path_factory.mktemp("server")) as proc:
        yield proc


@pytest.fixture(scope="module")
def client(module_server: ServerProcess) -> Iterator[LightningStorClient]:
    from lightningstor_client import LightningStorClient

    with LightningStorClient(module_server.grpc_addr, **module_server.admin_keys()) as c:
        yield c


@pytest.fixture
async def aclient(module_server: ServerProcess) -> AsyncIterator[AsyncLightningStorClient]:
    from lightningstor_client import AsyncLightningStorClient

    async with AsyncLightningStorClient(module_server.grpc_addr, **module_server.admin_keys()) as c:
        yield c


@pytest.fixture
def new_bucket(client: LightningStorClient) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    client.create_bucket(name)
    return name
