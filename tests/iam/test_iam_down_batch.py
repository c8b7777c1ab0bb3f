"""A batch delete while the external IAM is down fails as a whole (503), not key by key.

Each key of a DeleteObjects is authorized on its own; with the IAM unreachable every one of
them would wait out the same IAM timeout in turn, and the answer would be a 200 listing a
failure per key. The first unavailable decision ends the request instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from lightningstor_client import LightningStorClient
from lightningstor_types.scope import Scope
from tests.iam.iamproc import running_iam, write_config
from tests.integration.server import running_server
from tests.s3.conftest import make_client

pytestmark = pytest.mark.timeout(120)

BINDINGS = """
[[iam.bindings]]
principal = "alice"
role = "editor"
org = "orga"
"""


def test_delete_objects_with_the_iam_down_is_one_503(tmp_path: Path) -> None:
    config = write_config(tmp_path / "iam.toml", "[iam]\n" + BINDINGS)
    with running_iam(tmp_path / "iam", config) as iam:
        env = {"LIGHTNINGSTOR_IAM__MODE": "external", "LIGHTNINGSTOR_IAM__ENDPOINT": iam.addr}
        with running_server(tmp_path / "server", env=env) as server:
            with LightningStorClient(
                server.grpc_addr, scope=Scope("orga"), timeout=20, **server.admin_keys()
            ) as admin:
                made = admin.create_access_key(principal_id="alice")
            s3 = make_client(
                "http://" + server.ports["s3"], made.access_key_id, made.secret_access_key or ""
            )
            s3.create_bucket(Bucket="batch")
            keys = [f"k{i}" for i in range(5)]
            for key in keys:
                s3.put_object(Bucket="batch", Key=key, Body=b"x")
            iam.kill()
            with pytest.raises(ClientError) as exc:
                s3.delete_objects(Bucket="batch", Delete={"Objects": [{"Key": k} for k in keys]})
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            assert exc.value.response["Error"]["Code"] == "IamUnavailable"
