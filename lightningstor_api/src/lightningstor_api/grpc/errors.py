"""Errors → gRPC statuses, in one place (docs/architecture.md §9).

A :class:`LightningStorError` ends the call with its catalog gRPC status and message, the S3 code
and details in trailing metadata (:meth:`LightningStorError.grpc_metadata`; the client reads them
back with :func:`lightningstor_types.errors.error_from_grpc`). Anything else is a bug: logged with
its traceback, answered INTERNAL / InternalError with the catalog's generic message.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import grpc.aio

from lightningstor_types.errors import InternalError, LightningStorError

REQUEST_ID_KEY = "x-request-id"
"""The call's request id: in the trailers of unary calls and failures, in the initial
metadata of streamed responses (sent by the client, or made by the server)."""

log = logging.getLogger(__name__)


async def abort_with(
    context: grpc.aio.ServicerContext[Any, Any], exc: Exception, method: str, request_id: str
) -> NoReturn:
    """End the call with the status for ``exc`` (re-raises an abort already under way)."""
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    where = {"method": method, "request_id": request_id}
    if isinstance(exc, LightningStorError):
        err = exc
        level = logging.WARNING if err.http_status >= 500 else logging.DEBUG
        log.log(level, "%s: %s", err.code, err.message, extra=where)
    else:
        log.error("unexpected error", exc_info=exc, extra=where)
        err = InternalError()
    trailers = (*err.grpc_metadata(), (REQUEST_ID_KEY, request_id))
    await context.abort(err.grpc_status, err.message, trailers)
