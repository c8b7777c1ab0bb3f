"""Fixtures for the operations tests (health, metrics, logs, TLS).

ops_server   a server of its own for the module (its counters start from a known state)
s3_url       http://host:port of its S3 listener
s3           a boto3 client with the admin key
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess


@pytest.fixture(scope="module")
def ops_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.integration.server import running_server

    with running_server(tmp_path_factory.mktemp("ops")) as proc:
        yield proc


@pytest.fixture(scope="module")
def s3_url(ops_server: ServerProcess) -> str:
    return "http://" + ops_server.ports["s3"]


@pytest.fixture(scope="module")
def s3(ops_server: ServerProcess, s3_url: str) -> Any:
    import json

    from tests.s3.conftest import make_client

    keys = json.loads((ops_server.data_dir / "admin-credentials.json").read_text())
    return make_client(s3_url, keys["access_key_id"], keys["secret_access_key"])
