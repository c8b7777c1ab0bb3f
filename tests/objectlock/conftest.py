"""A server for the Object Lock tests (lifecycle day of one second, no background GC) and its
actors, each with a key in org acme:

    owner     editor of org acme: creates buckets, has no bypass permission
    ops       admin of org acme
    platform  a platform admin (admin on every org)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from lightningstor_client import LightningStorClient
from lightningstor_types.scope import Scope
from tests.fixtures.etcd import running_etcd
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


def lock_server(workdir: Path, metadata: str = "embedded") -> Iterator[ServerProcess]:
    """A server with the actors' bindings, on embedded metadata or a fresh etcd."""
    config = workdir / "server.toml"
    config.write_text(CONFIG)
    env = {"LIGHTNINGSTOR_CONFIG": str(config)}
    with ExitStack() as stack:
        if metadata == "etcd":
            etcd = stack.enter_context(running_etcd(workdir / "etcd"))
            env["LIGHTNINGSTOR_METADATA__BACKEND"] = "etcd"
            env["LIGHTNINGSTOR_METADATA__ENDPOINTS"] = ",".join(etcd.endpoints)
        yield stack.enter_context(running_server(workdir / "server", env=env))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    yield from lock_server(tmp_path_factory.mktemp("objectlock"))


def key_for(server: ServerProcess, principal: str) -> dict[str, str]:
    with LightningStorClient(server.grpc_addr, **server.admin_keys()) as admin:
        made = admin.create_access_key(principal_id=principal, scope=ACME)
    return {"access_key": made.access_key_id, "secret_key": made.secret_access_key}


def s3_for(server: ServerProcess, keys: dict[str, str]) -> Any:
    return make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])


@pytest.fixture(scope="module")
def actors(server: ServerProcess) -> dict[str, dict[str, str]]:
    return {name: key_for(server, name) for name in ("owner", "ops", "platform")}
