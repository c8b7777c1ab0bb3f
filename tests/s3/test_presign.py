"""Presigned URLs: the AWS documentation's example, URLs from boto3's real presigner, and every
refusal (expired, not yet valid, lifetime out of range, parameters missing or wrong, tampering)
with the code S3 gives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from lightningstor_s3.auth import PayloadMode, RequestHead
from lightningstor_types.errors import (
    AccessDenied,
    AuthorizationQueryParametersError,
    InvalidAccessKeyId,
    InvalidRequest,
    SignatureDoesNotMatch,
)
from tests.s3.test_sigv4 import (
    AK,
    DOC_TIME,
    PRINCIPAL,
    SK,
    TRICKY_KEYS,
    Resolver,
    auth_of,
    capturing_client,
    head_of,
    refused,
    with_header,
)

DOC_URL = (
    "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    f"&X-Amz-Credential={AK}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)


def presigned(
    operation: str = "get_object", *, expires: int = 3600, **params: Any
) -> tuple[str, datetime]:
    """A URL from boto3's presigner, and (to the second) when it was signed."""
    params.setdefault("Bucket", "bucket")
    params.setdefault("Key", "key")
    client = capturing_client("http://127.0.0.1:9000").client
    url: str = client.generate_presigned_url(operation, Params=params, ExpiresIn=expires)
    signed_at = dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"]
    return url, datetime.strptime(signed_at, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def with_params(url: str, **changes: str | None) -> str:
    """``url`` with query parameters replaced (None removes one), re-encoded."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_the_aws_documentation_example_verifies() -> None:
    auth = await auth_of(head_of("GET", DOC_URL), now=DOC_TIME + timedelta(hours=23))
    assert auth.principal == PRINCIPAL
    assert auth.presigned
    assert auth.expires_at == DOC_TIME + timedelta(days=1)
    assert auth.payload.mode is PayloadMode.UNSIGNED


@pytest.mark.parametrize("key", TRICKY_KEYS)
async def test_boto3_presigned_gets_of_tricky_keys_verify(key: str) -> None:
    url, _ = presigned(
        Key=key,
        ResponseContentDisposition='attachment; filename="a b+c.txt"',
        ResponseContentType="text/plain; charset=utf-8",
        VersionId="v~1 2",
    )
    auth = await auth_of(head_of("GET", url))
    assert auth.principal == PRINCIPAL
    assert auth.presigned


async def test_a_boto3_presigned_put_verifies_with_an_unsigned_payload() -> None:
    url, _ = presigned("put_object", Key="up load+1.bin", ContentType="text/plain")
    assert "X-Amz-SignedHeaders=content-type%3Bhost" in url
    auth = await auth_of(head_of("PUT", url, {"content-length": "5", "content-type": "text/plain"}))
    assert auth.payload.mode is PayloadMode.UNSIGNED
    assert auth.payload.content_length == 5


async def test_the_url_is_valid_until_the_last_second_of_its_lifetime() -> None:
    url, signed_at = presigned(expires=60)
    await auth_of(head_of("GET", url), now=signed_at + timedelta(seconds=60))
    err = await refused(head_of("GET", url), AccessDenied, now=signed_at + timedelta(seconds=61))
    assert err.message == "Request has expired"
    assert err.details == {
        "X-Amz-Expires": "60",
        "Expires": (signed_at + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ServerTime": (signed_at + timedelta(seconds=61)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


async def test_a_url_from_the_future_is_not_valid_yet_beyond_the_skew() -> None:
    url, signed_at = presigned()
    await auth_of(head_of("GET", url), now=signed_at - timedelta(minutes=14))
    err = await refused(head_of("GET", url), AccessDenied, now=signed_at - timedelta(minutes=16))
    assert err.message == "Request is not valid yet"


async def test_a_week_is_the_longest_lifetime() -> None:
    url, signed_at = presigned(expires=604800)
    auth = await auth_of(head_of("GET", url), now=signed_at + timedelta(days=6))
    assert auth.expires_at == signed_at + timedelta(days=7)


@pytest.mark.parametrize("expires", ["0", "604801", "-1", "1.5", "abc", ""])
async def test_a_lifetime_out_of_range_is_refused(expires: str) -> None:
    url, _ = presigned()
    await refused(
        head_of("GET", with_params(url, X_Amz_Expires=expires)), AuthorizationQueryParametersError
    )


async def test_the_configured_lifetime_limit_applies() -> None:
    url, signed_at = presigned(expires=2 * 86400)
    err = await refused(
        head_of("GET", url),
        AuthorizationQueryParametersError,
        now=signed_at,
        presign_max_expiry=timedelta(days=1),
    )
    assert "86400" in err.message


@pytest.mark.parametrize(
    "change",
    [
        {"X_Amz_Signature": None},
        {"X_Amz_Credential": None},
        {"X_Amz_Date": None},
        {"X_Amz_Expires": None},
        {"X_Amz_SignedHeaders": None},
        {"X_Amz_Algorithm": "AWS4-HMAC-SHA512"},
        {"X_Amz_Date": "2024-01-01T00:00:00Z"},
        {"X_Amz_Credential": f"{AK}/20130524/us-east-1/s3"},
        {"X_Amz_Credential": f"{AK}/20130524/us-east-1/iam/aws4_request"},
        {"X_Amz_Credential": f"{AK}/20130524/us-east-1/s3/aws4_request"},  # not X-Amz-Date's day
        {"X_Amz_SignedHeaders": "x-amz-date"},
    ],
    ids=lambda change: ",".join(f"{k}={v}" for k, v in change.items()),
)
async def test_missing_or_wrong_parameters_are_refused(change: dict[str, str | None]) -> None:
    url, _ = presigned()
    await refused(head_of("GET", with_params(url, **change)), AuthorizationQueryParametersError)


async def test_a_wrong_region_names_the_right_one() -> None:
    url, signed_at = presigned()
    credential = f"{AK}/{signed_at:%Y%m%d}/eu-west-1/s3/aws4_request"
    err = await refused(
        head_of("GET", with_params(url, X_Amz_Credential=credential)),
        AuthorizationQueryParametersError,
    )
    assert err.details == {"Region": "us-east-1"}


async def test_an_unknown_access_key_is_invalid() -> None:
    url, _ = presigned()
    await refused(head_of("GET", url), InvalidAccessKeyId, resolver=Resolver(("OTHER", SK)))


async def test_a_wrong_secret_does_not_match() -> None:
    url, _ = presigned()
    await refused(head_of("GET", url), SignatureDoesNotMatch, resolver=Resolver((AK, "other")))


@pytest.mark.parametrize(
    "change",
    [
        lambda h: RequestHead("PUT", h.raw_path, h.query_string, h.headers, h.host),
        lambda h: RequestHead(h.method, b"/bucket/other", h.query_string, h.headers, h.host),
        lambda h: RequestHead(h.method, h.raw_path, h.query_string + b"&x=1", h.headers, h.host),
        lambda h: with_header(h, "host", "elsewhere:9000"),
    ],
    ids=["method", "path", "added parameter", "host"],
)
async def test_a_tampered_url_does_not_match(change: Any) -> None:
    url, _ = presigned()
    await refused(change(head_of("GET", url)), SignatureDoesNotMatch)


async def test_an_amz_header_sent_with_a_presigned_url_must_be_signed() -> None:
    url, _ = presigned("put_object")
    err = await refused(head_of("PUT", url, {"x-amz-acl": "public-read"}), AccessDenied)
    assert err.details == {"HeadersNotSigned": "x-amz-acl"}


async def test_a_signature_version_2_url_is_not_supported() -> None:
    url = "http://127.0.0.1:9000/bucket/key?AWSAccessKeyId=AK&Expires=1700000000&Signature=abc%3D"
    await refused(head_of("GET", url), InvalidRequest)
