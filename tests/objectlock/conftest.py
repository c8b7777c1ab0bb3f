"""A server for the Object Lock tests (lifecycle day of one second, no background GC) and its
actors, each with a key in org acme:

    owner     editor of org acme: creates buckets, has no bypass permission
    ops       admin of org acme
    platform  a platform admin (admin on every org)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lightningstor_client import LightningStorClient
from lightningstor_types.scope import Scope
from tests.integration.server import ServerProcess, running_server
from tests.s3.conftest import make_client

CONFIG = """
[storage]
gc_interval_seconds = 3600

[lifecycle]
day_seconds = 1
interval_seconds = 0.2
lease_seconds = 1

[[iam.bindings]]
principal = "owner"
role = "editor"
org = "acme"

[[iam.bindings]]
principal = "ops"
role = "admin"
org = "acme"

[[iam.bindings]]
principal = "acme/platform"
role = "admin"
org = "*"
"""
ACME = Scope("acme", None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("objectlock")
    config = workdir / "server.toml"
    config.write_text(CONFIG)
    with running_server(workdir, env={"LIGHTNINGSTOR_CONFIG": str(config)}) as proc:
        yield proc


def key_for(server: ServerProcess, principal: str) -> dict[str, str]:
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as admin:
        made = admin.create_access_key(principal_id=principal, scope=ACME)
    return {"access_key": made.access_key_id, "secret_key": made.secret_access_key}


def s3_for(server: ServerProcess, keys: dict[str, str]) -> Any:
    return make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])


@pytest.fixture(scope="module")
def actors(server: ServerProcess) -> dict[str, dict[str, str]]:
    return {name: key_for(server, name) for name in ("owner", "ops", "platform")}
