"""SigV4 in the Authorization header: the AWS documentation's examples, requests signed by the
real botocore signer and the real boto3 client, and every refusal with the code S3 gives it.

The helpers at the top (a credential resolver, a request head built from a URL, a boto3 client
whose requests are captured instead of sent) are shared by ``test_presign`` and
``test_chunked``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

from lightningstor_s3.auth import AuthResult, PayloadMode, RequestHead, authenticate
from lightningstor_s3.auth.canonical import (
    canonical_headers,
    canonical_query,
    canonical_uri_candidates,
)
from lightningstor_s3.auth.signing_key import hmac_sha256_hex, signing_key
from lightningstor_types.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    LightningStorError,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)
from lightningstor_types.scope import Principal
from lightningstor_types.service import ResolvedCredential

# -- shared helpers -----------------------------------------------------------------------------

REGION = "us-east-1"
AK = "AKIAIOSFODNN7EXAMPLE"  # the AWS documentation's example key
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PRINCIPAL = Principal("user-1", "acme", "web")
DOC_TIME = datetime(2013, 5, 24, tzinfo=UTC)
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ENDPOINT = "https://s3.test.example:9000"


class Resolver:
    """A credential resolver over a fixed set of keys."""

    def __init__(self, *pairs: tuple[str, str]) -> None:
        self._by_key = {
            key: ResolvedCredential(key, secret, PRINCIPAL) for key, secret in pairs or [(AK, SK)]
        }
        self.calls = 0

    async def resolve(self, access_key_id: str) -> ResolvedCredential | None:
        self.calls += 1
        return self._by_key.get(access_key_id)


def head_of(method: str, url: str, headers: Mapping[str, str | bytes] | None = None) -> RequestHead:
    """The request head an ASGI server would give for ``url`` and ``headers`` (Host added)."""
    parts = urlsplit(url)
    raw: list[tuple[bytes, bytes]] = []
    names = {name.lower() for name in headers or {}}
    if "host" not in names:
        raw.append((b"host", parts.netloc.encode()))
    for name, value in (headers or {}).items():
        raw.append(
            (name.lower().encode(), value if isinstance(value, bytes) else value.encode("latin-1"))
        )
    return RequestHead(
        method=method,
        raw_path=parts.path.encode("latin-1"),
        query_string=parts.query.encode("latin-1"),
        headers=raw,
        host=parts.netloc,
    )


def with_header(head: RequestHead, name: str, value: str | None) -> RequestHead:
    """``head`` with header ``name`` replaced (or removed when ``value`` is None)."""
    headers = [(n, v) for n, v in head.headers if n != name.encode()]
    if value is not None:
        headers.append((name.encode(), value.encode("latin-1")))
    return RequestHead(head.method, head.raw_path, head.query_string, headers, head.host)


def botocore_signed(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    secret: str = SK,
    region: str = REGION,
) -> tuple[RequestHead, bytes]:
    """A request signed now by botocore's S3 SigV4 signer; its head and body."""
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    S3SigV4Auth(Credentials(AK, secret), "s3", region).add_auth(request)
    prepared = request.prepare()
    return head_of(prepared.method, prepared.url, dict(prepared.headers.items())), body


async def auth_of(head: RequestHead, **kwargs: Any) -> AuthResult:
    resolver = kwargs.pop("resolver", None) or Resolver()
    kwargs.setdefault("region", REGION)
    kwargs.setdefault("now", datetime.now(UTC))
    return await authenticate(head, resolver, **kwargs)


async def refused(head: RequestHead, error: type[LightningStorError], **kwargs: Any) -> Any:
    """Authenticate ``head``, expecting exactly ``error``; the error raised."""
    with pytest.raises(LightningStorError) as caught:
        await auth_of(head, **kwargs)
    assert type(caught.value) is error, repr(caught.value)
    return caught.value


@dataclass
class Sent:
    """A request the boto3 client sent: its head and its whole body."""

    head: RequestHead
    body: bytes
    url: str


@dataclass
class Capture:
    """A real boto3 S3 client whose requests are captured (and answered 200) instead of sent."""

    client: Any
    sent: list[Sent] = field(default_factory=list)
    response_body: bytes = b""

    @property
    def last(self) -> Sent:
        return self.sent[-1]


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def capturing_client(
    endpoint: str = ENDPOINT, *, addressing: str = "path", **config: Any
) -> Capture:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=AK,
        aws_secret_access_key=SK,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            retries={"max_attempts": 1, "mode": "standard"},
            **config,
        ),
    )
    capture = Capture(client)

    def before_send(request: Any, **_: Any) -> AWSResponse:
        body = request.body
        data = body.read() if hasattr(body, "read") else (body or b"")
        if isinstance(data, str):
            data = data.encode()
        headers = dict(request.headers.items())
        capture.sent.append(Sent(head_of(request.method, request.url, headers), data, request.url))
        return AWSResponse(request.url, 200, {"ETag": '"0"'}, _Raw(capture.response_body))

    client.meta.events.register("before-send.s3", before_send)
    return capture


# -- the AWS documentation's examples -----------------------------------------------------------

DOC_HOST = "examplebucket.s3.amazonaws.com"


def _doc_head(
    method: str, target: str, headers: dict[str, str], signed: str, signature: str
) -> RequestHead:
    headers = {"host": DOC_HOST, "x-amz-date": "20130524T000000Z", **headers}
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request,"
        f"SignedHeaders={signed},Signature={signature}"
    )
    return head_of(method, f"https://{DOC_HOST}{target}", headers)


DOC_EXAMPLES = {
    "GET Object": _doc_head(
        "GET",
        "/test.txt",
        {"range": "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256},
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    ),
    "PUT Object": _doc_head(
        "PUT",
        "/test%24file.text",
        {
            "date": "Fri, 24 May 2013 00:00:00 GMT",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "x-amz-content-sha256": (
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
            ),
        },
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    ),
    "GET Bucket lifecycle": _doc_head(
        "GET",
        "/?lifecycle",
        {"x-amz-content-sha256": EMPTY_SHA256},
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    ),
    "GET Bucket (list objects)": _doc_head(
        "GET",
        "/?max-keys=2&prefix=J",
        {"x-amz-content-sha256": EMPTY_SHA256},
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    ),
}


@pytest.mark.parametrize("name", DOC_EXAMPLES)
async def test_the_aws_documentation_examples_verify(name: str) -> None:
    auth = await auth_of(DOC_EXAMPLES[name], now=DOC_TIME + timedelta(minutes=3))
    assert auth.principal == PRINCIPAL
    assert auth.access_key_id == AK
    assert not auth.presigned


async def test_a_documented_signature_with_one_digit_changed_does_not_match() -> None:
    head = DOC_EXAMPLES["GET Object"]
    authorization = dict(head.headers)[b"authorization"].decode()
    changed = with_header(head, "authorization", authorization[:-1] + "0")
    err = await refused(changed, SignatureDoesNotMatch, now=DOC_TIME)
    assert err.details["AWSAccessKeyId"] == AK
    assert err.details["CanonicalRequest"].startswith("GET\n/test.txt\n\nhost:")


# -- canonical forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_path", "candidates"),
    [
        (b"", [b"/"]),
        (b"/", [b"/"]),
        (b"/b/a%20b", [b"/b/a%20b"]),
        (b"/b/a%2Bb", [b"/b/a%2Bb"]),
        (b"/b/a+b", [b"/b/a+b", b"/b/a%2Bb"]),  # a raw plus is a plus, never a space
        (b"/b/100%25", [b"/b/100%25"]),
        (b"/b/tilde~x", [b"/b/tilde~x"]),
        (b"/b/tilde%7Ex", [b"/b/tilde%7Ex", b"/b/tilde~x"]),
        (b"/b/a//b/./../c", [b"/b/a//b/./../c"]),  # never normalized
        (b"/b/%D0%BA%D0%BB%D1%8E%D1%87", [b"/b/%D0%BA%D0%BB%D1%8E%D1%87"]),
        (b"/b/\xd0\xba", [b"/b/\xd0\xba", b"/b/%D0%BA"]),  # raw UTF-8 on the wire
        (b"/b/a%2fb", [b"/b/a%2fb", b"/b/a/b"]),
        (b"/b/x(y)!*'", [b"/b/x(y)!*'", b"/b/x%28y%29%21%2A%27"]),
    ],
)
def test_canonical_uri_candidates(raw_path: bytes, candidates: list[bytes]) -> None:
    assert canonical_uri_candidates(raw_path) == candidates


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        (b"", b""),
        (b"uploads", b"uploads="),
        (b"prefix=J&max-keys=2", b"max-keys=2&prefix=J"),
        (b"b=2&a=3&a=1", b"a=1&a=3&b=2"),
        (b"prefix=a%20b&x=a+b", b"prefix=a%20b&x=a%2Bb"),
        (b"prefix=%7e%2f", b"prefix=~%2F"),
        (b"prefix=caf%C3%A9", b"prefix=caf%C3%A9"),
        (b"a=1&&b", b"a=1&b="),
        (b"response-content-type=text/plain", b"response-content-type=text%2Fplain"),
    ],
)
def test_canonical_query(query: bytes, canonical: bytes) -> None:
    assert canonical_query(query) == canonical


def test_canonical_query_leaves_out_the_presigned_signature() -> None:
    assert canonical_query(b"X-Amz-Signature=abc&b=1", exclude=b"X-Amz-Signature") == b"b=1"


def test_canonical_headers_trim_fold_and_join() -> None:
    headers = {b"x-amz-meta-a": [b"  one   two  ", b"three"], b"x-amz-date": [b"20130524T000000Z"]}
    assert canonical_headers(headers, [b"host", b"x-amz-date", b"x-amz-meta-a"], b"h:9000") == (
        b"host:h:9000\nx-amz-date:20130524T000000Z\nx-amz-meta-a:one two,three\n"
    )


@pytest.mark.parametrize(
    ("key", "message", "expected"),
    [
        # RFC 4231, test cases 1, 2 and 6 (a key longer than the block is hashed first)
        (b"\x0b" * 20, "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (b"Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (b"\xaa" * 131, "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ],
)  # fmt: skip
def test_hmac_matches_the_rfc_vectors(key: bytes, message: str, expected: str) -> None:
    assert hmac_sha256_hex(key, message) == expected


def test_the_signing_key_is_derived_once_per_day_and_cached() -> None:
    signing_key.cache_clear()
    first = signing_key(SK, "20130524", REGION)
    second = signing_key(SK, "20130524", REGION)
    assert first is second
    assert signing_key.cache_info().hits == 1
    assert signing_key(SK, "20130525", REGION) != first


# -- real clients -------------------------------------------------------------------------------

TRICKY_KEYS = [
    "plain.txt",
    "with space.txt",
    "plus+sign",
    "percent%20literal",
    "100%",
    "tilde~key",
    "unicodé/ключ/日本語",
    "emoji 🚀",
    "double//slash",
    "/leading-slash",
    "dots/./and/../too",
    "q?x=1&y=2#frag",
    "semi;colon,comma=equals",
    "star*paren(x)!'quote\"",
    "a" * 300,
]


@pytest.mark.parametrize("key", TRICKY_KEYS)
@pytest.mark.parametrize("addressing", ["path", "virtual"])
async def test_boto3_requests_for_tricky_keys_verify(key: str, addressing: str) -> None:
    capture = capturing_client(addressing=addressing)
    capture.client.head_object(Bucket="bucket", Key=key)
    capture.client.get_object(Bucket="bucket", Key=key, Range="bytes=0-9", VersionId="v 1+")
    capture.client.delete_object(Bucket="bucket", Key=key)
    for sent in capture.sent:
        auth = await auth_of(sent.head)
        assert auth.principal == PRINCIPAL
        assert auth.payload.mode in (PayloadMode.SIGNED, PayloadMode.UNSIGNED)


async def test_boto3_listing_with_a_tricky_prefix_verifies() -> None:
    capture = capturing_client()
    capture.response_body = (
        b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>bucket</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
        b"</ListBucketResult>"
    )
    capture.client.list_objects_v2(
        Bucket="bucket", Prefix="a b+c/ключ~%", Delimiter="/", StartAfter="x y", MaxKeys=7
    )
    capture.client.list_objects_v2(Bucket="bucket", EncodingType="url", FetchOwner=True)
    for sent in capture.sent:
        assert (await auth_of(sent.head)).principal == PRINCIPAL


async def test_boto3_put_over_http_signs_the_payload_hash() -> None:
    capture = capturing_client("http://127.0.0.1:9000")
    capture.client.put_object(Bucket="bucket", Key="k", Body=b"hello", Metadata={"a": "b  c"})
    auth = await auth_of(capture.last.head)
    assert auth.payload.mode is PayloadMode.SIGNED
    assert auth.payload.content_sha256 == (
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )
    assert auth.payload.content_length == 5
    assert not auth.payload.aws_chunked


async def test_boto3_put_over_https_streams_an_unsigned_payload_with_a_trailer() -> None:
    capture = capturing_client()
    capture.client.put_object(Bucket="bucket", Key="k", Body=b"hello")
    auth = await auth_of(capture.last.head)
    assert auth.payload.mode is PayloadMode.STREAMING_UNSIGNED_TRAILER
    assert auth.payload.aws_chunked
    assert auth.payload.decoded_content_length == 5
    assert [alg.value for alg in auth.payload.trailers] == ["CRC32"]
    assert auth.payload.signing is None


async def test_a_request_signed_with_the_date_header_verifies() -> None:
    head, _ = botocore_signed(
        "GET",
        "http://127.0.0.1:9000/bucket/key",
        headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
    )
    assert b"x-amz-date" not in dict(head.headers)
    await auth_of(head)  # botocore rewrites the Date header to the signing time


async def test_a_request_within_the_allowed_skew_verifies() -> None:
    head, _ = botocore_signed("GET", "http://127.0.0.1:9000/bucket/key")
    for delta in (timedelta(minutes=14), -timedelta(minutes=14)):
        assert (await auth_of(head, now=datetime.now(UTC) + delta)).access_key_id == AK


async def test_anonymous_requests_have_no_principal() -> None:
    resolver = Resolver()
    auth = await auth_of(head_of("GET", "http://127.0.0.1:9000/bucket/key"), resolver=resolver)
    assert auth.principal is None
    assert auth.access_key_id == ""
    assert auth.payload.mode is PayloadMode.UNSIGNED
    assert resolver.calls == 0


# -- refusals -----------------------------------------------------------------------------------

URL = "http://127.0.0.1:9000/bucket/key"


MALFORMED = AuthorizationHeaderMalformed


def _malformed(scope: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders=host, Signature=0"


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        ("AWS4-HMAC-SHA256", AuthorizationHeaderMalformed),
        ("AWS4-HMAC-SHA256 garbage", AuthorizationHeaderMalformed),
        ("AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=0", MALFORMED),
        (f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request", MALFORMED),
        (_malformed("2013/us-east-1/s3/aws4_request"), AuthorizationHeaderMalformed),
        (_malformed("20130524/us-east-1/s3"), AuthorizationHeaderMalformed),
        (_malformed("20130524/us-east-1/ec2/aws4_request"), AuthorizationHeaderMalformed),
        (_malformed("20130524/us-east-1/s3/aws5_request"), AuthorizationHeaderMalformed),
        ("Bearer eyJhbGciOi", InvalidArgument),
        ("", InvalidArgument),
        (f"AWS {AK}:frJIUN8DYpKDtOLCwo//yllqDzg=", InvalidRequest),
    ],
)  # fmt: skip
async def test_a_garbled_authorization_header_is_refused(
    authorization: str, error: type[LightningStorError]
) -> None:
    head = head_of("GET", URL, {"authorization": authorization, "x-amz-date": "20130524T000000Z"})
    await refused(head, error, now=DOC_TIME)


async def test_a_wrong_secret_does_not_match() -> None:
    head, _ = botocore_signed("GET", URL, secret="not-the-secret")
    err = await refused(head, SignatureDoesNotMatch)
    assert err.details["SignatureProvided"]
    assert err.details["StringToSign"].startswith("AWS4-HMAC-SHA256\n")


async def test_an_unknown_access_key_is_invalid() -> None:
    head, _ = botocore_signed("GET", URL)
    err = await refused(head, InvalidAccessKeyId, resolver=Resolver(("OTHERKEY", SK)))
    assert err.details == {"AWSAccessKeyId": AK}


async def test_a_clock_skew_beyond_fifteen_minutes_is_refused_with_the_server_time() -> None:
    head, _ = botocore_signed("GET", URL)
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=16)
    err = await refused(head, RequestTimeTooSkewed, now=now)
    assert err.details["ServerTime"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert err.details["RequestTime"] == dict(head.headers)[b"x-amz-date"].decode()
    assert err.details["MaxAllowedSkewMilliseconds"] == "900000"
    await refused(head, RequestTimeTooSkewed, now=now - timedelta(minutes=32))
    await refused(
        head, RequestTimeTooSkewed, now=now - timedelta(minutes=15), max_skew=timedelta(0)
    )


async def test_a_wrong_region_names_the_right_one() -> None:
    head, _ = botocore_signed("GET", URL, region="eu-west-1")
    err = await refused(head, AuthorizationHeaderMalformed)
    assert err.details == {"Region": REGION}
    assert "the region 'eu-west-1' is wrong; expecting 'us-east-1'" in err.message


async def test_a_request_without_a_date_is_access_denied() -> None:
    head, _ = botocore_signed("GET", URL)
    await refused(with_header(head, "x-amz-date", None), AccessDenied)
    await refused(with_header(head, "x-amz-date", "yesterday"), AccessDenied)


async def test_a_credential_date_other_than_the_request_date_is_malformed() -> None:
    head, _ = botocore_signed("GET", URL)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y%m%dT%H%M%SZ")
    await refused(
        with_header(head, "x-amz-date", tomorrow),
        AuthorizationHeaderMalformed,
        now=datetime.now(UTC) + timedelta(days=1),
    )


async def test_the_payload_hash_header_is_required_and_checked() -> None:
    head, _ = botocore_signed("GET", URL)
    err = await refused(with_header(head, "x-amz-content-sha256", None), InvalidRequest)
    assert "x-amz-content-sha256" in err.message
    err = await refused(with_header(head, "x-amz-content-sha256", "bogus"), InvalidArgument)
    assert err.details["ArgumentName"] == "x-amz-content-sha256"


async def test_an_amz_header_that_was_not_signed_is_access_denied() -> None:
    head, _ = botocore_signed("PUT", URL, body=b"x")
    err = await refused(with_header(head, "x-amz-acl", "public-read"), AccessDenied)
    assert err.details == {"HeadersNotSigned": "x-amz-acl"}


@pytest.mark.parametrize(
    "change",
    [
        lambda h: RequestHead("DELETE", h.raw_path, h.query_string, h.headers, h.host),
        lambda h: RequestHead(h.method, b"/bucket/other", h.query_string, h.headers, h.host),
        lambda h: RequestHead(h.method, h.raw_path, b"versionId=2", h.headers, h.host),
        lambda h: with_header(h, "host", "evil.example:9000"),
        lambda h: with_header(h, "range", "bytes=0-99"),
    ],
    ids=["method", "path", "query", "host", "signed header"],
)
async def test_any_signed_part_changed_does_not_match(change: Any) -> None:
    head, _ = botocore_signed("GET", URL + "?versionId=1", headers={"Range": "bytes=0-9"})
    await auth_of(head)
    await refused(change(head), SignatureDoesNotMatch)


async def test_both_header_and_query_authentication_is_invalid() -> None:
    head, _ = botocore_signed("GET", URL)
    both = RequestHead(
        head.method, head.raw_path, b"X-Amz-Algorithm=AWS4-HMAC-SHA256", head.headers, head.host
    )
    err = await refused(both, InvalidArgument)
    assert err.details["ArgumentName"] == "Authorization"


async def test_an_anonymous_chunk_signed_body_is_access_denied() -> None:
    head = head_of("PUT", URL, {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                "x-amz-decoded-content-length": "0"})  # fmt: skip
    await refused(head, AccessDenied)
