"""S3 error responses: the error document, and the request-id headers every response carries.

Errors are the catalog's classes (:mod:`lightningstor_types.errors`), named by S3 code with
their HTTP status; this module only renders them. Anything else that escapes a handler is an
``InternalError`` to the client (and a logged traceback here), never a leaked exception text.
"""

from __future__ import annotations

import base64
import logging
import random

from lightningstor_s3 import xml
from lightningstor_types.errors import InternalError, LightningStorError

log = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]


# Request ids must be unique, not unguessable: the process's PRNG (reseeded in forked children)
# costs no system call, where ``secrets`` reads the kernel's random source on every request.
def new_request_id() -> str:
    """A request id in S3's form: 16 upper-case hex digits."""
    return f"{random.getrandbits(64):016X}"


def new_host_id() -> str:
    """An ``x-amz-id-2`` value: opaque base64, as S3 sends."""
    return base64.b64encode(random.getrandbits(192).to_bytes(24, "big")).decode("ascii")


def as_s3_error(exc: BaseException) -> LightningStorError:
    """The catalog error to answer for ``exc``; unexpected exceptions become InternalError."""
    if isinstance(exc, LightningStorError):
        return exc
    log.error("unexpected error in the S3 facade", exc_info=exc)
    return InternalError()


def error_document(
    err: LightningStorError, *, resource: str, request_id: str, host_id: str
) -> bytes:
    """The ``<Error>`` document for ``err`` (Code, Message, details, Resource, RequestId)."""
    return xml.render(
        xml.Error(
            code=err.code,
            message=err.message,
            details=dict(err.details),
            resource=resource,
            request_id=request_id,
            host_id=host_id,
        )
    )


def error_headers(err: LightningStorError) -> Headers:
    """Headers S3 adds to some errors (the state of a delete marker, a 304's validators, when
    to retry after a rate limit)."""
    headers: Headers = []
    if err.http_status == 503 and (retry := err.details.get("RetryAfter")):
        headers.append((b"retry-after", retry.encode()))
    if err.details.get("ResourceType") == "DeleteMarker" or err.details.get("DeleteMarker"):
        headers.append((b"x-amz-delete-marker", b"true"))
        if version := err.details.get("VersionId"):
            headers.append((b"x-amz-version-id", version.encode()))
    if err.http_status == 304 and (etag := err.details.get("ETag")):
        headers.append((b"etag", etag.encode()))
    return headers
