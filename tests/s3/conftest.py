"""S3 fixtures over a real server process (``module_server`` from tests/conftest.py).

s3_endpoint     http://127.0.0.1:port of the module's server
address         the same, as host:port
signer          a SigV4 signer (tests/s3/rawhttp.py) with the admin key
admin_keys      the admin access key the server wrote on first start
s3              a boto3 S3 client with the newest defaults (checksums when_supported), path style
s3v4            the same, presigning with SigV4
bucket          a fresh, empty bucket
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.s3.rawhttp import Signer

if TYPE_CHECKING:
    from tests.integration.server import ServerProcess


@pytest.fixture(scope="module")
def s3_endpoint(module_server: ServerProcess) -> str:
    return "http://" + module_server.ports["s3"]


@pytest.fixture(scope="module")
def address(s3_endpoint: str) -> str:
    return s3_endpoint.removeprefix("http://")


@pytest.fixture(scope="module")
def admin_keys(module_server: ServerProcess) -> dict[str, str]:
    data = json.loads((module_server.data_dir / "admin-credentials.json").read_text())
    return {"id": data["access_key_id"], "secret": data["secret_access_key"]}


@pytest.fixture(scope="module")
def signer(address: str, admin_keys: dict[str, str]) -> Signer:
    return Signer(address, admin_keys["id"], admin_keys["secret"])


def make_client(
    endpoint: str,
    key_id: str,
    secret: str,
    *,
    verify: str | None = None,
    retries: dict[str, Any] | None = None,
    **config: Any,
) -> Any:
    """A boto3 S3 client with default settings, except path style and at most one retry
    (``retries`` replaces that, e.g. ``{"total_max_attempts": 1}`` for none at all)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        verify=verify,
        config=Config(
            s3={"addressing_style": "path"}, retries=retries or {"max_attempts": 1}, **config
        ),
    )


@pytest.fixture(scope="module")
def s3(s3_endpoint: str, admin_keys: dict[str, str]) -> Any:
    return make_client(s3_endpoint, admin_keys["id"], admin_keys["secret"])


@pytest.fixture(scope="module")
def s3v4(s3_endpoint: str, admin_keys: dict[str, str]) -> Any:
    """A client that presigns with SigV4 (boto3's presigned URLs default to SigV2)."""
    return make_client(
        s3_endpoint, admin_keys["id"], admin_keys["secret"], signature_version="s3v4"
    )


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"s3-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
