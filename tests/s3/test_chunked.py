"""Request bodies: plain (SHA-256 checked), aws-chunked from the real boto3 client (unsigned, with a
trailing checksum), and chunk-signed — held to the AWS documentation's published signatures, so
our verifier agreeing with our own framing below proves nothing it does not also prove there.
Every refusal carries the code S3 gives it, and is raised before the stream reports its end.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from lightningstor_s3.auth import (
    AuthResult,
    ChunkSigning,
    DecodedBody,
    PayloadInfo,
    PayloadMode,
    RequestHead,
    decode_body,
)
from lightningstor_s3.auth.errors import MalformedTrailerError
from lightningstor_types.checksums import ChecksumAlgorithm, b64digest, new_hasher
from lightningstor_types.errors import (
    BadDigest,
    IncompleteBody,
    InvalidChunkSizeError,
    InvalidRequest,
    LightningStorError,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)
from tests.s3.test_sigv4 import (
    AK,
    DOC_TIME,
    PRINCIPAL,
    REGION,
    SK,
    auth_of,
    botocore_signed,
    capturing_client,
    head_of,
)

# -- helpers ------------------------------------------------------------------------------------

DATA = bytes(range(256)) * 1000  # 256 000 bytes


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def key_for(date: str, secret: str = SK) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), date)
    for part in (REGION, "s3", "aws4_request"):
        key = _hmac(key, part)
    return key


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def collect(decoded: DecodedBody) -> bytes:
    return b"".join([data async for data in decoded])


async def decoded_from(
    body: bytes, head: RequestHead, auth: AuthResult, size: int = 65536
) -> bytes:
    return await collect(decode_body(pieces(body, size), head, auth))


async def body_refused(
    body: bytes,
    head: RequestHead,
    auth: AuthResult,
    error: type[LightningStorError],
    size: int = 65536,
) -> LightningStorError:
    decoded = decode_body(pieces(body, size), head, auth)
    with pytest.raises(LightningStorError) as caught:
        await collect(decoded)
    assert type(caught.value) is error, repr(caught.value)
    return caught.value


def frame(
    data: bytes,
    chunk_sizes: Sequence[int],
    *,
    signing: ChunkSigning | None = None,
    trailer: Sequence[tuple[str, str]] | None = None,
) -> bytes:
    """aws-chunked framing of ``data`` written from the AWS documentation, independently of the
    decoder: chunk signatures chained from the seed, the trailer signed after the last chunk."""
    out: list[bytes] = []
    previous = signing.seed_signature if signing else ""
    sizes = [*chunk_sizes, 0]
    position = 0
    for size in sizes:
        chunk = data[position : position + size]
        position += size
        header = f"{size:x}"
        if signing is not None:
            to_sign = "\n".join(
                [
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    signing.timestamp,
                    signing.scope,
                    previous,
                    hashlib.sha256(b"").hexdigest(),
                    hashlib.sha256(chunk).hexdigest(),
                ]
            )
            previous = hmac.new(signing.key, to_sign.encode(), hashlib.sha256).hexdigest()
            header += f";chunk-signature={previous}"
        out.append(header.encode() + b"\r\n")
        if size:
            out.append(chunk + b"\r\n")
    assert position == len(data), "chunk sizes must cover the data"
    for name, value in trailer or ():
        out.append(f"{name}:{value}\r\n".encode())
    if signing is not None and trailer:
        lines = "".join(f"{name}:{value}\n" for name, value in trailer)
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                signing.timestamp,
                signing.scope,
                previous,
                hashlib.sha256(lines.encode()).hexdigest(),
            ]
        )
        signature = hmac.new(signing.key, to_sign.encode(), hashlib.sha256).hexdigest()
        out.append(f"x-amz-trailer-signature:{signature}\r\n".encode())
    out.append(b"\r\n")
    return b"".join(out)


def even_chunks(length: int, size: int) -> list[int]:
    return [min(size, length - start) for start in range(0, length, size)]


def checksum(alg: ChecksumAlgorithm, data: bytes) -> str:
    hasher = new_hasher(alg)
    hasher.update(data)
    return b64digest(hasher)


async def streaming_request(
    mode: PayloadMode,
    *,
    decoded_length: int,
    trailer: ChecksumAlgorithm | None = None,
    content_encoding: str = "aws-chunked",
) -> tuple[RequestHead, AuthResult, ChunkSigning]:
    """A PUT whose head botocore's SigV4 signer signs with a streaming payload hash."""
    headers = {
        "X-Amz-Content-SHA256": mode.value,
        "Content-Encoding": content_encoding,
        "X-Amz-Decoded-Content-Length": str(decoded_length),
    }
    if trailer is not None:
        headers["X-Amz-Trailer"] = trailer.header_name
    request = AWSRequest(method="PUT", url="http://127.0.0.1:9000/bucket/big.bin", headers=headers)
    SigV4Auth(Credentials(AK, SK), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    head = head_of("PUT", prepared.url, dict(prepared.headers.items()))
    auth = await auth_of(head)
    timestamp = prepared.headers["X-Amz-Date"]
    signing = ChunkSigning(
        key=key_for(timestamp[:8]),
        timestamp=timestamp,
        scope=f"{timestamp[:8]}/{REGION}/s3/aws4_request",
        seed_signature=prepared.headers["Authorization"].rsplit("Signature=", 1)[1],
    )
    return head, auth, signing


# -- the AWS documentation's chunk-signed upload ------------------------------------------------

DOC_DATA = b"a" * 66560
DOC_SIGNATURES = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]
DOC_HEAD = head_of(
    "PUT",
    "https://s3.amazonaws.com/examplebucket/chunkObject.txt",
    {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "authorization": (
            f"AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            "x-amz-decoded-content-length;x-amz-storage-class,"
            "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        ),
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
    },
)


def doc_body(signatures: Sequence[str] = DOC_SIGNATURES) -> bytes:
    return (
        f"10000;chunk-signature={signatures[0]}\r\n".encode()
        + DOC_DATA[:65536]
        + f"\r\n400;chunk-signature={signatures[1]}\r\n".encode()
        + DOC_DATA[65536:]
        + f"\r\n0;chunk-signature={signatures[2]}\r\n\r\n".encode()
    )


async def doc_auth() -> AuthResult:
    return await auth_of(DOC_HEAD, now=DOC_TIME + timedelta(seconds=30))


async def test_the_documented_upload_authenticates_with_the_documented_seed() -> None:
    auth = await doc_auth()
    assert auth.principal == PRINCIPAL
    assert auth.payload.mode is PayloadMode.STREAMING_SIGNED
    assert auth.payload.signing is not None
    assert auth.payload.signing.seed_signature == (
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    )
    assert auth.payload.decoded_content_length == 66560
    assert auth.payload.content_encoding is None


@pytest.mark.parametrize("size", [66824, 65536, 1000, 8191, 7, 1])
async def test_the_documented_upload_decodes_split_at_any_byte(size: int) -> None:
    body = doc_body()
    assert len(body) == 66824  # the documented Content-Length
    decoded = decode_body(pieces(body, size), DOC_HEAD, await doc_auth())
    assert await collect(decoded) == DOC_DATA
    assert decoded.decoded_length == 66560
    assert decoded.trailer_checksums == {}


@pytest.mark.parametrize("index", [0, 1, 2])
async def test_any_documented_chunk_signature_changed_does_not_match(index: int) -> None:
    signatures = list(DOC_SIGNATURES)
    signatures[index] = signatures[index][:-1] + "0"
    await body_refused(doc_body(signatures), DOC_HEAD, await doc_auth(), SignatureDoesNotMatch)


@pytest.mark.parametrize("index", [1000, 66000])
async def test_a_changed_data_byte_does_not_match(index: int) -> None:
    body = bytearray(doc_body())
    body[index] = ord("b")
    await body_refused(bytes(body), DOC_HEAD, await doc_auth(), SignatureDoesNotMatch)


async def test_the_documented_upload_with_a_signed_trailer_decodes() -> None:
    signing = ChunkSigning(
        key=key_for("20130524"),
        timestamp="20130524T000000Z",
        scope="20130524/us-east-1/s3/aws4_request",
        seed_signature="106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    )
    payload = PayloadInfo(
        mode=PayloadMode.STREAMING_SIGNED_TRAILER,
        aws_chunked=True,
        decoded_content_length=66560,
        trailers=(ChecksumAlgorithm.CRC32C,),
        signing=signing,
    )
    auth = AuthResult(PRINCIPAL, AK, payload)
    body = (
        b"10000;chunk-signature="
        b"b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n"
        + DOC_DATA[:65536]
        + b"\r\n400;chunk-signature="
        b"1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n"
        + DOC_DATA[65536:]
        + b"\r\n0;chunk-signature="
        b"2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
        b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
        b"x-amz-trailer-signature:"
        b"d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
        b"\r\n"
    )
    for size in (len(body), 777, 3):
        decoded = decode_body(pieces(body, size), DOC_HEAD, auth)
        assert await collect(decoded) == DOC_DATA
        assert decoded.trailer_checksums == {ChecksumAlgorithm.CRC32C: "sOO8/Q=="}
    other_value = body.replace(b"sOO8/Q==", b"sOO8/A==")
    await body_refused(other_value, DOC_HEAD, auth, SignatureDoesNotMatch)
    unsigned = body[: body.index(b"x-amz-trailer-signature")] + b"\r\n"
    await body_refused(unsigned, DOC_HEAD, auth, MalformedTrailerError)


# -- chunk-signed bodies framed here ------------------------------------------------------------


@pytest.mark.parametrize("alg", list(ChecksumAlgorithm))
async def test_a_chunk_signed_body_with_a_signed_trailer_decodes(alg: ChecksumAlgorithm) -> None:
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED_TRAILER, decoded_length=len(DATA), trailer=alg
    )
    body = frame(
        DATA,
        even_chunks(len(DATA), 65536),
        signing=signing,
        trailer=[(alg.header_name, checksum(alg, DATA))],
    )
    decoded = decode_body(pieces(body, 10000), head, auth)
    assert await collect(decoded) == DATA
    assert decoded.trailer_checksums == {alg: checksum(alg, DATA)}


async def test_a_signed_trailer_over_a_wrong_checksum_is_bad_digest() -> None:
    alg = ChecksumAlgorithm.CRC32
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED_TRAILER, decoded_length=len(DATA), trailer=alg
    )
    wrong = [(alg.header_name, checksum(alg, b"other"))]
    body = frame(DATA, even_chunks(len(DATA), 65536), signing=signing, trailer=wrong)
    err = await body_refused(body, head, auth, BadDigest)
    assert err.message == "The CRC32 you specified did not match the calculated checksum."


async def test_chunks_in_another_order_do_not_match() -> None:
    data = b"x" * 8192 + b"y" * 8192
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED, decoded_length=len(data)
    )
    body = frame(data, [8192, 8192], signing=signing)
    first_end = body.index(b"\r\n", body.index(b"\r\n") + 2) + 2
    second_end = body.index(b"0;chunk-signature")
    swapped = body[first_end:second_end] + body[:first_end] + body[second_end:]
    await body_refused(swapped, head, auth, SignatureDoesNotMatch)


async def test_a_data_chunk_after_a_small_one_is_an_invalid_chunk_size() -> None:
    data = b"z" * 9000
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED, decoded_length=len(data)
    )
    await decoded_from(frame(data, [8192, 808], signing=signing), head, auth)  # last may be small
    err = await body_refused(
        frame(data, [3, 8997], signing=signing), head, auth, InvalidChunkSizeError
    )
    assert err.details == {"Chunk": "2", "BadChunkSize": "3"}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b"zz" + b,  # not a hex size
        lambda b: b.replace(b";chunk-signature=", b";chunk-signatur=", 1),
        lambda b: b.replace(b";chunk-signature=", b"", 1),  # a signature missing
        lambda b: b.replace(b"\r\n", b"\n", 1),  # a bare newline
        lambda b: b + b"extra",  # bytes after the end
        lambda b: b[: b.index(b"0;chunk-signature")],  # the last chunk missing
        lambda b: b[:5000],  # cut inside a chunk
        lambda b: b[:3],  # cut inside a header
        lambda b: b"",
        lambda b: b"1" * 5000 + b,  # a header line without end
    ],
    ids=[
        "size",
        "extension",
        "no signature",
        "bare LF",
        "extra bytes",
        "no last chunk",
        "cut in data",
        "cut in header",
        "empty",
        "endless header",
    ],
)
async def test_framing_that_is_not_aws_chunked_or_ends_early_is_an_incomplete_body(
    mangle: Any,
) -> None:
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED, decoded_length=len(DATA)
    )
    body = frame(DATA, even_chunks(len(DATA), 65536), signing=signing)
    await body_refused(mangle(body), head, auth, IncompleteBody, size=4096)


@pytest.mark.parametrize("declared", [len(DATA) - 1, len(DATA) + 1])
async def test_a_decoded_length_other_than_declared_is_an_incomplete_body(declared: int) -> None:
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED, decoded_length=declared
    )
    body = frame(DATA, even_chunks(len(DATA), 65536), signing=signing)
    await body_refused(body, head, auth, IncompleteBody)


async def test_a_failed_check_surfaces_before_the_stream_ends() -> None:
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED, decoded_length=len(DATA)
    )
    body = bytearray(frame(DATA, even_chunks(len(DATA), 65536), signing=signing))
    body[200000] ^= 1
    decoded = decode_body(pieces(bytes(body), 4096), head, auth)
    taken = 0
    with pytest.raises(SignatureDoesNotMatch):
        async for data in decoded:
            taken += len(data)
    assert taken < len(DATA)


# -- the real boto3 client: STREAMING-UNSIGNED-PAYLOAD-TRAILER ----------------------------------

BIG = DATA * 10 + b"tail"  # ~2.4 MiB: several of botocore's 1 MiB chunks


async def boto3_put(body: bytes, **params: Any) -> tuple[RequestHead, bytes, AuthResult]:
    capture = capturing_client()
    capture.client.put_object(Bucket="bucket", Key="big object.bin", Body=body, **params)
    sent = capture.last
    return sent.head, sent.body, await auth_of(sent.head)


@pytest.mark.parametrize("alg", [None, *ChecksumAlgorithm])
async def test_a_boto3_upload_with_a_trailing_checksum_decodes(
    alg: ChecksumAlgorithm | None,
) -> None:
    params = {"ChecksumAlgorithm": alg.value} if alg else {}
    head, wire, auth = await boto3_put(BIG, **params)
    expected = alg or ChecksumAlgorithm.CRC32  # boto3's default: CRC32 when supported
    assert auth.payload.mode is PayloadMode.STREAMING_UNSIGNED_TRAILER
    assert auth.payload.trailers == (expected,)
    decoded = decode_body(pieces(wire, 65536), head, auth)
    assert await collect(decoded) == BIG
    assert decoded.decoded_length == len(BIG)
    assert decoded.trailer_checksums == {expected: checksum(expected, BIG)}


async def test_an_empty_boto3_upload_decodes() -> None:
    head, wire, auth = await boto3_put(b"")
    decoded = decode_body(pieces(wire, 65536), head, auth)
    assert await collect(decoded) == b""
    assert decoded.trailer_checksums == {ChecksumAlgorithm.CRC32: "AAAAAA=="}


async def test_a_boto3_upload_whose_data_changed_is_bad_digest() -> None:
    head, wire, auth = await boto3_put(BIG)
    changed = bytearray(wire)
    changed[100] ^= 1
    err = await body_refused(bytes(changed), head, auth, BadDigest)
    assert "CRC32" in err.message


async def test_a_trailer_value_that_is_not_a_checksum_is_invalid() -> None:
    head, wire, auth = await boto3_put(b"hello")
    name = b"x-amz-checksum-crc32:"
    start = wire.index(name) + len(name)
    bad = wire[:start] + b"not base64!" + wire[wire.index(b"\r\n", start) :]
    err = await body_refused(bad, head, auth, InvalidRequest)
    assert err.message == "Value for x-amz-checksum-crc32 trailing header is invalid."


async def test_a_trailer_missing_or_not_announced_is_malformed() -> None:
    head, wire, auth = await boto3_put(b"hello")
    start = wire.index(b"x-amz-checksum-crc32:")
    missing = wire[:start] + wire[wire.index(b"\r\n", start) + 2 :]
    await body_refused(missing, head, auth, MalformedTrailerError)
    other = wire.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32c:")
    await body_refused(other, head, auth, MalformedTrailerError)
    no_colon = wire.replace(b"x-amz-checksum-crc32:", b"x-amz-checksum-crc32 ")
    await body_refused(no_colon, head, auth, MalformedTrailerError)


async def test_an_unsigned_framed_body_that_ends_after_its_last_chunk_is_whole() -> None:
    # What some SDKs send with no checksum to add: ``0\r\n`` and nothing more.
    head, auth, _ = await streaming_request(
        PayloadMode.STREAMING_UNSIGNED_TRAILER, decoded_length=len(DATA)
    )
    body = frame(DATA, even_chunks(len(DATA), 65536))
    assert body.endswith(b"\r\n0\r\n\r\n")
    assert await decoded_from(body[:-2], head, auth) == DATA
    assert await decoded_from(body, head, auth) == DATA


async def test_a_trailer_on_a_body_without_one_announced_is_malformed() -> None:
    head, auth, signing = await streaming_request(
        PayloadMode.STREAMING_SIGNED, decoded_length=len(DATA)
    )
    body = frame(DATA, even_chunks(len(DATA), 65536), signing=signing)
    with_trailer = body[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    await body_refused(with_trailer, head, auth, MalformedTrailerError)


async def test_aws_chunked_with_an_unsigned_payload_and_another_encoding() -> None:
    head, auth, _ = await streaming_request(
        PayloadMode.UNSIGNED, decoded_length=len(DATA), content_encoding="gzip, aws-chunked"
    )
    assert auth.payload.aws_chunked
    assert auth.payload.content_encoding == "gzip"
    body = frame(DATA, even_chunks(len(DATA), 10000))
    assert await decoded_from(body, head, auth, size=3333) == DATA


async def test_a_trailer_announced_on_a_body_that_cannot_carry_one_is_invalid() -> None:
    head, _ = botocore_signed(
        "PUT", "http://127.0.0.1:9000/b/k", headers={"X-Amz-Trailer": "x-amz-checksum-crc32"}
    )
    with pytest.raises(InvalidRequest):
        await auth_of(head)


# -- plain bodies -------------------------------------------------------------------------------


async def test_a_signed_plain_body_is_checked_at_its_end() -> None:
    head, body = botocore_signed("PUT", "http://127.0.0.1:9000/b/k", body=BIG)
    auth = await auth_of(head)
    assert auth.payload.mode is PayloadMode.SIGNED
    assert await decoded_from(body, head, auth) == BIG
    assert await decoded_from(body, head, auth, size=1 << 20) == BIG  # hashed in a thread

    changed = BIG[:-1] + b"!"
    decoded = decode_body(pieces(changed, 65536), head, auth)
    taken = 0
    with pytest.raises(XAmzContentSHA256Mismatch) as caught:
        async for data in decoded:
            taken += len(data)
    assert taken == len(BIG)  # every byte passed, and the end was never reported
    assert caught.value.details == {
        "ClientComputedContentSHA256": hashlib.sha256(BIG).hexdigest(),
        "S3ComputedContentSHA256": hashlib.sha256(changed).hexdigest(),
    }


async def test_a_plain_body_shorter_than_its_content_length_is_incomplete() -> None:
    head, _ = botocore_signed("PUT", "http://127.0.0.1:9000/b/k", body=b"hello")
    auth = await auth_of(head)
    assert auth.payload.content_length == 5
    await body_refused(b"hell", head, auth, IncompleteBody)


async def test_an_unsigned_plain_body_passes_through() -> None:
    head = head_of("PUT", "http://127.0.0.1:9000/b/k", {"content-length": str(len(DATA))})
    auth = await auth_of(head)
    assert auth.principal is None
    assert await decoded_from(DATA, head, auth) == DATA


async def test_closing_early_closes_the_raw_body() -> None:
    closed = False

    async def source() -> AsyncIterator[bytes]:
        nonlocal closed
        try:
            for _ in range(10):
                yield b"x" * 1000
        finally:
            closed = True

    auth = AuthResult(None, "", PayloadInfo(PayloadMode.UNSIGNED))
    decoded = decode_body(source(), head_of("PUT", "http://h/b/k"), auth)
    assert await decoded.__anext__() == b"x" * 1000
    await decoded.aclose()
    assert closed


def test_a_chunk_signed_payload_without_its_signing_context_is_a_programming_error() -> None:
    payload = PayloadInfo(PayloadMode.STREAMING_SIGNED, aws_chunked=True, decoded_content_length=1)
    with pytest.raises(ValueError, match="signing context"):
        decode_body(pieces(b"", 1), head_of("PUT", "http://h/b/k"), AuthResult(None, "", payload))


def test_signing_contexts_do_not_show_their_key() -> None:
    signing = ChunkSigning(b"secret-key", "20130524T000000Z", "scope", "seed")
    assert "secret-key" not in repr(signing)
    assert "secret-key" not in repr(PayloadInfo(PayloadMode.STREAMING_SIGNED, signing=signing))
