"""SigV4 authentication of an S3 request: the Authorization header or a presigned URL.

:func:`authenticate` reads only the request head, so it runs before the body is read (and before
``100 Continue`` is sent). It answers who signed the request and how its body is to be read
(:class:`AuthResult`); :func:`decode_body` then streams the body's bytes, verifying what the
signature promised. A request with neither an Authorization header nor presign parameters is
anonymous (``principal`` None): whether that is allowed is the caller's decision.

The order of checks is S3's: the form of the header or parameters, then the request time
(``RequestTimeTooSkewed`` beyond ``max_skew``; a presigned URL's lifetime), the payload hash,
headers sent but not signed, the access key (``InvalidAccessKeyId``), and last the signature
(``SignatureDoesNotMatch``), compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from lightningstor_s3.auth import presign
from lightningstor_s3.auth.body import DecodedBody, decode_body
from lightningstor_s3.auth.canonical import (
    ALGORITHM,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri_candidates,
    string_to_sign,
)
from lightningstor_s3.auth.credential import SignatureClaim, parse_amz_date, parse_credential
from lightningstor_s3.auth.errors import header_malformed, iso8601, missing_date
from lightningstor_s3.auth.payload import ChunkSigning, PayloadInfo, PayloadMode, payload_info
from lightningstor_s3.auth.request import AuthResult, RequestHead, header_map
from lightningstor_s3.auth.signing_key import hmac_sha256_hex, signing_key
from lightningstor_types.errors import (
    AccessDenied,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)
from lightningstor_types.service import CredentialResolver

__all__ = [
    "MAX_PRESIGN_EXPIRY",
    "MAX_SKEW",
    "AuthResult",
    "ChunkSigning",
    "DecodedBody",
    "PayloadInfo",
    "PayloadMode",
    "RequestHead",
    "authenticate",
    "decode_body",
]

MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRY = timedelta(days=7)
_UNSUPPORTED = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)


async def authenticate(
    head: RequestHead,
    credentials: CredentialResolver,
    *,
    region: str,
    now: datetime,
    max_skew: timedelta = MAX_SKEW,
    presign_max_expiry: timedelta = MAX_PRESIGN_EXPIRY,
) -> AuthResult:
    """Verify the request's signature; who signed it and how to read its body.

    Raises the S3 error for every fault: ``AuthorizationHeaderMalformed``,
    ``AuthorizationQueryParametersError``, ``InvalidArgument`` (an unsupported Authorization
    type, both mechanisms at once, a bad ``x-amz-content-sha256``), ``InvalidRequest`` (SigV2,
    a missing ``x-amz-content-sha256``, an unsupported ``x-amz-trailer``), ``AccessDenied``
    (no usable date, an expired or not yet valid presigned URL, headers not signed),
    ``RequestTimeTooSkewed``, ``InvalidAccessKeyId`` and ``SignatureDoesNotMatch``.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    headers = header_map(head.headers)
    params = presign.auth_params(head.query_string)
    authorization = _first(headers, b"authorization")
    expires_at: datetime | None = None
    if authorization is not None:
        if presign.is_presigned(params):
            raise InvalidArgument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be "
                "specified",
                ArgumentName="Authorization",
                ArgumentValue=authorization,
            )
        claim = _header_claim(authorization, headers, region=region, now=now, max_skew=max_skew)
    elif presign.is_presigned(params):
        claim, expires_at = presign.presigned_claim(
            params,
            headers,
            region=region,
            now=now,
            max_skew=max_skew,
            max_expiry=presign_max_expiry,
        )
    elif presign.is_sigv2_presigned(params):
        raise InvalidRequest(_UNSUPPORTED)
    else:
        payload = payload_info(headers, _first(headers, b"x-amz-content-sha256"))
        if payload.mode.chunk_signed:
            raise AccessDenied("A chunk-signed payload needs a signed request")
        return AuthResult(principal=None, access_key_id="", payload=payload)

    payload = payload_info(headers, claim.payload_hash.decode("utf-8", "replace"))
    _check_all_amz_headers_signed(headers, claim.signed_headers)
    access_key_id = claim.credential.access_key_id
    resolved = await credentials.resolve(access_key_id)
    if resolved is None:
        raise InvalidAccessKeyId(AWSAccessKeyId=access_key_id)
    key = signing_key(resolved.secret_access_key, claim.credential.date, region)
    _verify_signature(head, headers, claim, key)
    if payload.mode.chunk_signed:
        signing = ChunkSigning(key, claim.timestamp, claim.credential.scope, claim.signature)
        payload = replace(payload, signing=signing)
    return AuthResult(
        principal=resolved.principal,
        access_key_id=access_key_id,
        payload=payload,
        presigned=claim.presigned,
        expires_at=expires_at,
    )


def _header_claim(
    authorization: str,
    headers: Mapping[bytes, Sequence[bytes]],
    *,
    region: str,
    now: datetime,
    max_skew: timedelta,
) -> SignatureClaim:
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme == "AWS":
        raise InvalidRequest(_UNSUPPORTED)
    if scheme != ALGORITHM:
        raise InvalidArgument(
            "Unsupported Authorization Type",
            ArgumentName="Authorization",
            ArgumentValue=authorization,
        )
    fields: dict[str, str] = {}
    for component in rest.split(","):
        name, _, value = component.strip().partition("=")
        fields.setdefault(name.strip(), value.strip())
    if not all(fields.get(name) for name in ("Credential", "SignedHeaders", "Signature")):
        raise header_malformed(
            "the authorization header requires three components: Credential, SignedHeaders, "
            "and Signature."
        )
    credential = parse_credential(fields["Credential"], region=region, fail=header_malformed)
    timestamp, signed_at, raw_time = _request_time(headers)
    if credential.date != timestamp[:8]:
        raise header_malformed("Invalid credential date. Date is not the same as X-Amz-Date.")
    if abs(signed_at - now) > max_skew:
        raise RequestTimeTooSkewed(
            RequestTime=raw_time,
            ServerTime=iso8601(now),
            MaxAllowedSkewMilliseconds=str(int(max_skew.total_seconds() * 1000)),
        )
    payload_hash = _first(headers, b"x-amz-content-sha256")
    if payload_hash is None:
        raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    signed_headers = tuple(
        name.strip().lower().encode("latin-1")
        for name in fields["SignedHeaders"].split(";")
        if name.strip()
    )
    if b"host" not in signed_headers:
        raise header_malformed("the SignedHeaders component must include host.")
    return SignatureClaim(
        credential=credential,
        timestamp=timestamp,
        signed_headers=signed_headers,
        signature=fields["Signature"],
        payload_hash=payload_hash.encode("latin-1"),
        presigned=False,
    )


def _request_time(headers: Mapping[bytes, Sequence[bytes]]) -> tuple[str, datetime, str]:
    """The signing time in basic form and as a datetime, and the header value it came from."""
    amz_date = _first(headers, b"x-amz-date")
    if amz_date is not None:
        signed_at = parse_amz_date(amz_date)
        if signed_at is None:
            raise missing_date()
        return amz_date, signed_at, amz_date
    date = _first(headers, b"date")
    if date is None:
        raise missing_date()
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise missing_date() from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y%m%dT%H%M%SZ"), parsed, date


def _check_all_amz_headers_signed(
    headers: Mapping[bytes, Sequence[bytes]], signed: Sequence[bytes]
) -> None:
    unsigned = sorted(
        name.decode("latin-1")
        for name in headers
        if name.startswith(b"x-amz-") and name not in signed
    )
    if unsigned:
        raise AccessDenied(
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


def _verify_signature(
    head: RequestHead,
    headers: Mapping[bytes, Sequence[bytes]],
    claim: SignatureClaim,
    key: bytes,
) -> None:
    query = canonical_query(
        head.query_string, exclude=b"X-Amz-Signature" if claim.presigned else None
    )
    signed_headers = canonical_headers(
        headers, claim.signed_headers, head.host.encode("latin-1", "replace")
    )
    provided = claim.signature.encode("utf-8", "replace")
    shown: tuple[bytes, str] | None = None
    for uri in canonical_uri_candidates(head.raw_path):
        canonical = canonical_request(
            head.method,
            uri,
            query,
            signed_headers,
            b";".join(claim.signed_headers),
            claim.payload_hash,
        )
        to_sign = string_to_sign(claim.timestamp, claim.credential.scope, canonical)
        if hmac.compare_digest(hmac_sha256_hex(key, to_sign).encode("ascii"), provided):
            return
        shown = shown or (canonical, to_sign)
    assert shown is not None
    raise SignatureDoesNotMatch(
        AWSAccessKeyId=claim.credential.access_key_id,
        StringToSign=shown[1],
        SignatureProvided=claim.signature,
        CanonicalRequest=shown[0].decode("utf-8", "replace"),
    )


def _first(headers: Mapping[bytes, Sequence[bytes]], name: bytes) -> str | None:
    values = headers.get(name)
    return values[0].decode("latin-1").strip() if values else None
