"""A server with the embedded IAM and three principals in two orgs (alice admin of orga; bob and
eve editors of orgb), shared by the access tests (fixtures in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lightningstor_client import LightningStorClient
from lightningstor_types.scope import Scope
from tests.integration.server import ServerProcess
from tests.s3 import rawhttp
from tests.s3.conftest import make_client

BINDINGS = """
[iam]
[[iam.bindings]]
principal = "alice"
role = "admin"
org = "orga"
[[iam.bindings]]
principal = "bob"
role = "editor"
org = "orgb"
[[iam.bindings]]
principal = "eve"
role = "editor"
org = "orgb"
"""
ORGA, ORGB = Scope("orga"), Scope("orgb")
BOB_ARN = "arn:aws:iam::orgb:user/bob"


@dataclass
class Cluster:
    server: ServerProcess
    keys: dict[str, dict[str, str]]

    def grpc(self, who: str, scope: Scope | None = None) -> LightningStorClient:
        return LightningStorClient(self.server.grpc_addr, scope=scope, timeout=20, **self.keys[who])

    def audit(self) -> list[dict[str, Any]]:
        """The audit lines written so far (``LIGHTNINGSTOR_AUDIT_FILE`` beside the server's
        directory); a line still being written is left out."""
        path = self.server.workdir.parent / "audit.log"
        text = path.read_text() if path.exists() else ""
        return [json.loads(x) for x in text[: text.rfind("\n") + 1].splitlines() if x]

    def s3(self, who: str) -> Any:
        k = self.keys[who]
        return make_client("http://" + self.server.ports["s3"], k["access_key"], k["secret_key"])


def anonymous(cluster: Cluster, method: str, target: str, body: bytes | None = None) -> Any:
    address = cluster.server.ports["s3"]
    return rawhttp.request(address, method, target, {"Host": address}, body)
