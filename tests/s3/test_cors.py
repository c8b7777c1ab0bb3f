"""Bucket CORS over S3: Put/Get/DeleteBucketCors with boto3, preflights without credentials
and Access-Control-* headers on actual responses (errors included) over raw HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from tests.s3 import rawhttp

if TYPE_CHECKING:
    from lightningstor_client import LightningStorClient

APP = "http://app.example.test:8080"
RULES: dict[str, Any] = {
    "CORSRules": [
        {
            "ID": "app",
            "AllowedOrigins": [APP, "https://*.example.org"],
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["ETag", "x-amz-version-id"],
            "MaxAgeSeconds": 600,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]
}


def error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


def test_put_get_delete(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as info:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_code(info) == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as info:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_code(info) == "NoSuchCORSConfiguration"
    s3.delete_bucket_cors(Bucket=bucket)  # 204 again, as in S3


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest"),
        ([{"AllowedOrigins": ["https://*.a.*"], "AllowedMethods": ["GET"]}], "InvalidRequest"),
        (
            [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["*-*"]}],
            "InvalidRequest",
        ),
        ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML"),
        ([], "MalformedXML"),
    ],
)
def test_bad_configurations_change_nothing(
    s3: Any, bucket: str, rules: list[dict[str, Any]], code: str
) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    with pytest.raises(ClientError) as info:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert error_code(info) == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]


def test_hundred_rules_are_accepted(s3: Any, bucket: str) -> None:
    rules = [
        {"AllowedOrigins": [f"https://{i}.test"], "AllowedMethods": ["GET"]} for i in range(100)
    ]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100


@pytest.fixture
def signer(s3_endpoint: str, admin_keys: dict[str, str]) -> rawhttp.Signer:
    return rawhttp.Signer(
        s3_endpoint.removeprefix("http://"), admin_keys["id"], admin_keys["secret"]
    )


def preflight(signer: rawhttp.Signer, target: str, headers: dict[str, str]) -> rawhttp.Response:
    return rawhttp.request(signer.address, "OPTIONS", target, headers)


def test_preflight_without_credentials(s3: Any, bucket: str, signer: rawhttp.Signer) -> None:
    target = signer.presign("PUT", f"/{bucket}/up.txt")
    ask = {"Origin": APP, "Access-Control-Request-Method": "PUT"}
    # No configuration yet: refused.
    resp = preflight(signer, target, ask)
    assert (resp.status, resp.code) == (403, "AccessForbidden")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)

    resp = preflight(
        signer, target, ask | {"Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-A"}
    )
    assert resp.status == 200, resp.body
    h = resp.headers
    assert h["access-control-allow-origin"] == APP
    assert h["access-control-allow-methods"] == "GET, PUT, HEAD"
    assert h["access-control-allow-headers"] == "Content-Type, X-Amz-Meta-A"
    assert h["access-control-max-age"] == "600"
    assert h["access-control-allow-credentials"] == "true"
    assert "Origin" in h["vary"]
    # The wildcard origin of the first rule, and the "*" rule for GET only.
    wild = {"Origin": "https://photos.example.org", "Access-Control-Request-Method": "HEAD"}
    assert preflight(signer, target, wild).status == 200
    anyone = preflight(
        signer, target, {"Origin": "https://else.test", "Access-Control-Request-Method": "GET"}
    )
    assert anyone.status == 200 and anyone.headers["access-control-allow-origin"] == "*"

    for refused in (
        {"Origin": "https://else.test", "Access-Control-Request-Method": "PUT"},
        {"Origin": "https://example.org", "Access-Control-Request-Method": "PUT"},
        ask | {"Access-Control-Request-Headers": "authorization"},
        {"Origin": APP.upper(), "Access-Control-Request-Method": "PUT"},
    ):
        resp = preflight(signer, target, refused)
        assert (resp.status, resp.code) == (403, "AccessForbidden"), refused
        assert "access-control-allow-origin" not in resp.headers
    for malformed in ({"Access-Control-Request-Method": "PUT"}, {"Origin": APP}):
        resp = preflight(signer, target, malformed)
        assert (resp.status, resp.code) == (400, "BadRequest"), malformed
    # A preflight that names no key cannot tell whose bucket it is.
    resp = preflight(signer, f"/{bucket}/up.txt", ask)
    assert (resp.status, resp.code) == (403, "AccessForbidden")
    # Nothing was written by any of them.
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_headers_on_actual_responses_and_errors(
    s3: Any, bucket: str, signer: rawhttp.Signer
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)

    def get(key: str, origin: str | None) -> rawhttp.Response:
        headers = {"Origin": origin} if origin else {}
        signed, _ = signer.sign("GET", f"/{bucket}/{key}", headers=headers)
        return rawhttp.request(signer.address, "GET", f"/{bucket}/{key}", signed)

    ok = get("k", APP)
    assert ok.status == 200 and ok.body == b"data"
    assert ok.headers["access-control-allow-origin"] == APP
    assert ok.headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert "Origin" in ok.headers["vary"]
    missing = get("absent", APP)
    assert (missing.status, missing.code) == (404, "NoSuchKey")
    assert missing.headers["access-control-allow-origin"] == APP
    # A presigned GET with a bad signature: refused, and the browser may still read why.
    bad = signer.presign("GET", f"/{bucket}/k").replace("X-Amz-Signature=", "X-Amz-Signature=0")
    denied = rawhttp.request(signer.address, "GET", bad, {"Origin": APP})
    assert denied.status == 403
    assert denied.headers["access-control-allow-origin"] == APP
    # An origin no rule allows gets Vary but no grant; no Origin, no CORS headers at all.
    other = get("k", "https://else.test")
    assert other.headers["access-control-allow-origin"] == "*"  # the GET-for-anyone rule
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES["CORSRules"][:1]})
    other = get("k", "https://else.test")
    assert other.status == 200 and "access-control-allow-origin" not in other.headers
    assert "Origin" in other.headers["vary"]
    plain = get("k", None)
    assert not any(name.startswith("access-control-") for name in plain.headers)


def test_grpc_client_counterpart(client: LightningStorClient, s3: Any, bucket: str) -> None:
    from lightningstor_client import CorsRule
    from lightningstor_types.errors import InvalidRequest, NoSuchCORSConfiguration

    with pytest.raises(NoSuchCORSConfiguration):
        client.get_bucket_cors(bucket)
    rule = CorsRule(
        allowed_origins=(APP,),
        allowed_methods=("GET",),
        expose_headers=("ETag",),
        max_age_seconds=0,
        id="grpc",
    )
    client.put_bucket_cors(bucket, [rule])
    assert client.get_bucket_cors(bucket) == [rule]
    # The same rules over S3 (MaxAgeSeconds 0 is kept, not dropped).
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got == [
        {"ID": "grpc", "AllowedOrigins": [APP], "AllowedMethods": ["GET"],
         "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 0}
    ]  # fmt: skip
    with pytest.raises(InvalidRequest):
        client.put_bucket_cors(bucket, [CorsRule((APP,), ("TRACE",))])
    assert client.get_bucket_cors(bucket) == [rule]
    client.delete_bucket_cors(bucket)
    with pytest.raises(NoSuchCORSConfiguration):
        client.get_bucket_cors(bucket)
