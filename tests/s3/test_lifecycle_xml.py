"""Lifecycle documents boto3 will not send malformed, over raw HTTP: each is refused as S3
refuses it, and the configuration in place stays."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from tests.s3.rawhttp import Signer, request


@pytest.fixture(scope="module")
def address(s3_endpoint: str) -> str:
    return s3_endpoint.removeprefix("http://")


@pytest.fixture(scope="module")
def signer(address: str, admin_keys: dict[str, str]) -> Signer:
    return Signer(address, admin_keys["id"], admin_keys["secret"])


def _put(signer: Signer, address: str, bucket: str, document: bytes, *, md5: bool = True) -> Any:
    extra = {"content-md5": base64.b64encode(hashlib.md5(document).digest()).decode()}
    headers, _ = signer.sign(
        "PUT",
        f"/{bucket}",
        query={"lifecycle": ""},
        headers=extra if md5 else {},
        payload_hash=hashlib.sha256(document).hexdigest(),
    )
    return request(address, "PUT", f"/{bucket}?lifecycle=", headers, document)


def _doc(rule: str) -> bytes:
    return f"<LifecycleConfiguration><Rule>{rule}</Rule></LifecycleConfiguration>".encode()


GOOD = "<ID>kept</ID><Status>Enabled</Status><Filter/><Expiration><Days>9</Days></Expiration>"
ON = "<ID>a</ID><Status>Enabled</Status>"
DAY1 = "<Expiration><Days>1</Days></Expiration>"
TAG = "<Tag><Key>k</Key><Value>v</Value></Tag>"
RULE = f"<Rule>{GOOD}</Rule>"

MALFORMED = [
    pytest.param(b"<LifecycleConfiguration></LifecycleConfiguration>", id="no-rule"),
    pytest.param(_doc("<ID>a</ID><Status>On</Status><Filter/>" + DAY1), id="status"),
    pytest.param(_doc(ON + DAY1), id="no-filter"),
    pytest.param(_doc(ON + f"<Filter><Prefix>a</Prefix>{TAG}</Filter>" + DAY1), id="two-conds"),
    pytest.param(_doc(ON + "<Filter/><Expiration><Days>x</Days></Expiration>"), id="days-not-int"),
    pytest.param(
        _doc(ON + "<Filter/><Expiration><Days>99999999999</Days></Expiration>"), id="days-too-big"
    ),
    pytest.param(
        _doc(ON + "<Filter/><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date>"
             "</Expiration>"),
        id="days-and-date",
    ),
    pytest.param(
        _doc(ON + "<Filter/><Expiration><Date>tomorrow</Date></Expiration>"), id="date-not-a-date"
    ),
    pytest.param(_doc(ON + "<Filter/><Prefix>x</Prefix>" + DAY1), id="filter-and-prefix"),
    pytest.param(
        f"<LifecycleConfiguration>{RULE * 1001}</LifecycleConfiguration>".encode(), id="1001-rules"
    ),
]  # fmt: skip


@pytest.mark.parametrize("document", MALFORMED)
def test_malformed_lifecycle_changes_nothing(
    signer: Signer, address: str, s3: Any, bucket: str, document: bytes
) -> None:
    assert _put(signer, address, bucket, _doc(GOOD)).status == 200
    resp = _put(signer, address, bucket, document)
    assert (resp.status, resp.code) == (400, "MalformedXML")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in rules] == ["kept"]


def test_lifecycle_without_content_md5_is_refused(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    resp = _put(signer, address, bucket, _doc(GOOD), md5=False)
    assert (resp.status, resp.code) == (400, "InvalidRequest")
    with pytest.raises(Exception, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
