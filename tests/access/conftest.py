"""Fixtures of the access tests: one server per module (:mod:`tests.access.cluster`) and a
bucket of alice's holding ``k`` = ``secret``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from lightningstor_client import LightningStorClient
from tests.access.cluster import BINDINGS, ORGA, ORGB, Cluster
from tests.iam.iamproc import write_config
from tests.integration.server import start_server


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("policy")
    config = write_config(root / "server.toml", BINDINGS)
    env = {"LIGHTNINGSTOR_CONFIG": str(config), "LIGHTNINGSTOR_AUDIT_FILE": str(root / "audit.log")}
    server = start_server(root / "server", env=env)
    try:
        keys = {"admin": server.admin_keys()}
        for who, scope in (("alice", ORGA), ("bob", ORGB), ("eve", ORGB)):
            with LightningStorClient(server.grpc_addr, scope=scope, **keys["admin"]) as c:
                made = c.create_access_key(principal_id=who)
            keys[who] = {
                "access_key": made.access_key_id,
                "secret_key": made.secret_access_key or "",
            }
        yield Cluster(server, keys)
    finally:
        server.stop()


_NUMBERS = itertools.count()


@pytest.fixture
def bucket(cluster: Cluster) -> Iterator[str]:
    name = f"pol-{next(_NUMBERS)}"
    with cluster.grpc("alice") as c:
        c.create_bucket(name)
        c.put_object(name, "k", b"secret")
    yield name
