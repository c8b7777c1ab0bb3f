"""SigV4 authentication and request-body decoding for the S3 facade.

Two calls, in this order, for every request::

    auth = await authenticate(head, credentials, region=region, now=now)   # head only
    body = decode_body(receive_chunks, head, auth)                          # the object's bytes
    ... consume body to the end (it raises on any fault), then body.trailer_checksums

:func:`authenticate` covers the Authorization header and presigned URLs (query parameters);
:func:`decode_body` plain bodies (SHA-256 checked when signed) and aws-chunked bodies (chunk
signatures, trailer signature and trailing checksums checked). Module map: ``sigv4`` (the
entry point and header parsing), ``presign`` (query parameters), ``credential`` (the scope),
``canonical`` (canonical request), ``signing_key`` (derived keys, cached), ``payload`` (payload
modes), ``body`` and ``chunked`` (decoding), ``errors`` (S3 wording).
"""

from lightningstor_s3.auth.body import DecodedBody, decode_body
from lightningstor_s3.auth.payload import ChunkSigning, PayloadInfo, PayloadMode
from lightningstor_s3.auth.request import AuthResult, RequestHead
from lightningstor_s3.auth.sigv4 import MAX_PRESIGN_EXPIRY, MAX_SKEW, authenticate

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
