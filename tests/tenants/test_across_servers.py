"""Tenant records made on one server are seen by another over the same etcd, without restart,
and an IamAdminService in front of an external IAM refuses to manage tenants."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from lightningstor_client import LightningStorClient
from lightningstor_types.errors import AccessDenied, IamManagedExternally
from lightningstor_types.scope import Scope
from tests.fixtures.etcd import EtcdCluster, running_etcd
from tests.iam.iamproc import start_iam, write_config
from tests.integration.server import ServerProcess, start_server
from tests.wait import wait_until

pytestmark = pytest.mark.timeout(180)

WEB = Scope("acme", "web")


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    with running_etcd(tmp_path / "etcd") as cluster:
        yield cluster


@pytest.mark.etcd
def test_a_binding_made_on_one_server_holds_on_the_other(tmp_path: Path, etcd: EtcdCluster) -> None:
    env = {
        "LIGHTNINGSTOR_METADATA__BACKEND": "etcd",
        "LIGHTNINGSTOR_METADATA__ENDPOINTS": ",".join(etcd.endpoints),
        "LIGHTNINGSTOR_STORAGE__LOCAL_DIR": str(tmp_path / "shared-chunks"),
        "LIGHTNINGSTOR_IAM__SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        # Longer than the waits below: only the watch can bring the change in time.
        "LIGHTNINGSTOR_METADATA__CACHE_TTL_SECONDS": "300",
    }
    with ExitStack() as stack:
        a = start_server(tmp_path / "a", env=env)
        stack.callback(a.stop)
        b = start_server(tmp_path / "b", env=env)
        stack.callback(b.stop)
        root = a.admin_keys()
        with LightningStorClient(a.grpc_addr, scope=WEB, **root) as admin:
            admin.create_bucket("shared")
            admin.put_object("shared", "k", b"v")
            made = admin.create_access_key(principal_id="bob", scope=WEB)
        bob = {"access_key": made.access_key_id, "secret_key": made.secret_access_key or ""}
        with LightningStorClient(b.grpc_addr, **bob) as on_b:
            with pytest.raises(AccessDenied):
                on_b.get_object("shared", "k")
            with LightningStorClient(a.grpc_addr, **root) as admin:
                binding = admin.create_binding(
                    "viewer", principal="acme/web/bob", org="acme", project="web"
                )

            def reads() -> bool:
                try:
                    return on_b.get_object("shared", "k").read() == b"v"
                except AccessDenied:
                    return False

            wait_until(reads, timeout=60, message="server b to see the binding made on a")
            with LightningStorClient(a.grpc_addr, **root) as admin:
                admin.delete_binding(binding.id, org="acme")

            def refused() -> bool:
                return not reads()

            wait_until(refused, timeout=60, message="server b to see the binding revoked")


def test_the_external_iam_keeps_its_tenants(tmp_path: Path) -> None:
    iam_config = write_config(tmp_path / "iam.toml", "")
    iam = start_iam(tmp_path / "iam", iam_config)
    try:
        env = {"LIGHTNINGSTOR_IAM__MODE": "external", "LIGHTNINGSTOR_IAM__ENDPOINT": iam.addr}
        server: ServerProcess = start_server(tmp_path / "server", env=env)
        try:
            with LightningStorClient(server.grpc_addr, **server.admin_keys()) as admin:
                with pytest.raises(IamManagedExternally):
                    admin.create_binding("viewer", principal="acme/bob", org="acme")
                with pytest.raises(IamManagedExternally):
                    admin.list_bindings()
                admin.create_bucket("still-served")  # the IAM decides, as before
        finally:
            server.stop()
    finally:
        iam.stop()
