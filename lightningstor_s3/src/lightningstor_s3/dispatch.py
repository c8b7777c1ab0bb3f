"""The S3 request pipeline on raw ASGI: authenticate, route, one exhaustive dispatch, errors.

Order per request: the headers are authenticated first (before the first ``receive``, so
``Expect: 100-continue`` is answered only for a request that authenticated or names a bucket of
a scope), an anonymous request that does not name its bucket's scope (``org:bucket``) is
refused with ``AccessDenied`` (one that does is decided as principal ``*`` by the bucket's
policy), then :func:`~lightningstor_s3.router.route` names the endpoint, a header of a
feature not built yet is refused (:mod:`~lightningstor_s3.unsupported`), and its handler
runs. Any error before the response starts becomes an S3 error document; after it started (a
GET body failing half-way) the connection is cut, so the client sees a short body instead of
wrong bytes.

When the request ends, one access line goes to ``lightningstor_s3.access`` (operation, scope,
status, S3 error code, bytes in and out, duration, and the request id that is also the
``x-amz-request-id`` header), and the request is counted through the server's
:class:`~lightningstor_types.service.ServerHooks`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from lightningstor_s3.auth import RequestHead, authenticate
from lightningstor_s3.conditions import condition_facts
from lightningstor_s3.cors import CorsAnswers
from lightningstor_s3.errors import (
    as_s3_error,
    error_document,
    error_headers,
    new_host_id,
    new_request_id,
)
from lightningstor_s3.exchange import Exchange, Receive, Scope, Send, parse_query
from lightningstor_s3.expected_owner import check_expected_owners
from lightningstor_s3.handlers import HANDLERS, S3Call
from lightningstor_s3.postobject import FormUploads, form_boundary
from lightningstor_s3.router import route, split_host, split_path
from lightningstor_s3.unsupported import refuse_unsupported
from lightningstor_types.config import Settings
from lightningstor_types.errors import LightningStorError, Unauthenticated
from lightningstor_types.scope import ANONYMOUS_ID, Principal, qualified_bucket
from lightningstor_types.scope import Scope as PrincipalScope
from lightningstor_types.service import (
    CredentialResolver,
    RequestContext,
    RequestRecord,
    ServerHooks,
    StorageService,
)

log = logging.getLogger("lightningstor_s3")
access_log = logging.getLogger("lightningstor_s3.access")


PREFLIGHT = "PreflightCors"
"""The operation name of a CORS preflight in metrics and access lines (no AWS operation)."""
POST_OBJECT = "PostObject"
"""A browser form upload (``POST /{bucket}`` with multipart/form-data)."""


class ResponseCutError(Exception):
    """A response failed after its head was sent; the connection must be closed."""


class S3Dispatcher:
    """The ASGI callable that serves S3 requests over a :class:`StorageService`."""

    def __init__(
        self,
        service: StorageService,
        credentials: CredentialResolver,
        settings: Settings,
        hooks: ServerHooks | None = None,
    ) -> None:
        self.service = service
        self.credentials = credentials
        self.settings = settings
        self._record = hooks.record if hooks is not None else None
        self._access = settings.logging.access_log
        self._cors = CorsAnswers(service, credentials, settings.s3.root_domains)
        self._forms = FormUploads(service, credentials, settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        ex = Exchange(scope, receive, send, request_id=new_request_id(), host_id=new_host_id())
        endpoint = "-"
        scope_name = "-"
        principal_scope: PrincipalScope | None = None
        error_code = ""
        principal: Principal | None = None
        try:
            if ex.method == "OPTIONS":  # a CORS preflight: answered without credentials
                endpoint = PREFLIGHT
                await self._cors.preflight(ex)
                return
            if ex.method == "POST" and (form := self._form_target(ex)) is not None:
                endpoint = POST_OBJECT  # signed inside the form, not in the head
                principal = await self._forms.post_object(
                    ex, *form, lambda caller: self._cors.decorate(ex, caller)
                )
                principal_scope = principal.scope
                scope_name = str(principal_scope)
                return
            call = await self._prepare(ex)
            endpoint = call.route.endpoint.value
            principal = call.ctx.principal
            principal_scope = principal.scope
            scope_name = str(principal_scope)
            await self._cors.decorate(ex, principal)
            await HANDLERS[call.route.endpoint](call)
        except Exception as exc:  # every failure becomes an S3 error or a cut connection
            error_code = exc.code if isinstance(exc, LightningStorError) else "InternalError"
            if not ex.extra_headers and endpoint != PREFLIGHT:
                await self._cors.decorate(ex, principal)
            await self._fail(ex, exc)
        finally:
            seconds = time.monotonic() - started
            status = ex.status or 499  # nothing sent: the connection was cut
            if self._record is not None:
                self._record(
                    RequestRecord("s3", endpoint, status, seconds, ex.bytes_received,
                                  ex.bytes_sent, error_code, principal_scope)
                )  # fmt: skip
            if self._access:
                access_log.info(
                    "%s %s %s", ex.method, ex.raw_path.decode("latin-1"), status,
                    extra={
                        "api": "s3", "request_id": ex.request_id, "operation": endpoint,
                        "scope": scope_name, "status": status, "error": error_code or None,
                        "bytes_in": ex.bytes_received, "bytes_out": ex.bytes_sent,
                        "duration_ms": round(seconds * 1000, 1), "client": ex.source_address,
                    },
                )  # fmt: skip

    def _form_target(self, ex: Exchange) -> tuple[str, bytes] | None:
        """``(bucket, boundary)`` of a form upload: multipart/form-data posted to a bucket."""
        boundary = form_boundary(ex.headers.get("content-type", ""))
        if boundary is None or ex.query_string:
            return None
        bucket, key = split_path(ex.raw_path, split_host(ex.host, self.settings.s3.root_domains))
        return (bucket, boundary) if bucket and not key else None

    async def _prepare(self, ex: Exchange) -> S3Call:
        s3 = self.settings.s3
        head = RequestHead(
            method=ex.method,
            raw_path=ex.raw_path,
            query_string=ex.query_string,
            headers=ex.raw_headers,
            host=ex.host,
        )
        auth = await authenticate(
            head,
            self.credentials,
            region=s3.region,
            now=datetime.now(UTC),
            max_skew=timedelta(seconds=s3.max_clock_skew_seconds),
            presign_max_expiry=timedelta(seconds=s3.presign_max_expiry_seconds),
        )
        vhost = split_host(ex.host, s3.root_domains)
        if (
            auth.principal is None
            and qualified_bucket(split_path(ex.raw_path, vhost)[0])[0] is None
        ):
            raise Unauthenticated()  # an anonymous caller must name the bucket's scope
        query = parse_query(ex.query_string)
        target = route(
            ex.method, ex.raw_path, query, ex.headers, host=ex.host, root_domains=s3.root_domains
        )
        refuse_unsupported(target.endpoint, ex.headers, query)
        principal = auth.principal
        if principal is None:
            if target.scope is None:
                raise Unauthenticated()
            owner = target.scope
            principal = Principal(ANONYMOUS_ID, owner.org_id, owner.project_id)
        bucket_scope = (target.scope or principal.scope) if target.bucket else None
        check_expected_owners(ex.headers, bucket_scope)
        ctx = RequestContext(
            principal=principal,
            request_id=ex.request_id,
            api="s3",
            source_address=ex.source_address,
            attributes=condition_facts(ex, query, auth, self.settings.server.trusted_proxies),
            scope=target.scope,
            anonymous=auth.principal is None,
        )
        return S3Call(ex, head, auth, target, query, ctx, self.service, self.settings)

    async def _fail(self, ex: Exchange, exc: Exception) -> None:
        err = as_s3_error(exc)
        if ex.started:
            log.warning(
                "response cut short after its head was sent: %s",
                err,
                extra={"request_id": ex.request_id},
            )
            raise ResponseCutError(str(err)) from exc
        await self._send_error(ex, err)

    async def _send_error(self, ex: Exchange, err: LightningStorError) -> None:
        headers = error_headers(err)
        if not ex.body_received and _has_body(ex.headers):
            # The body was never read: close rather than parse it as the next request.
            headers.append((b"connection", b"close"))
        if err.http_status == 304:
            await ex.respond(304, headers)
            return
        body = error_document(
            err,
            resource=ex.raw_path.decode("latin-1"),
            request_id=ex.request_id,
            host_id=ex.host_id,
        )
        await ex.respond_xml(body, headers, status=err.http_status)


def _has_body(headers: dict[str, str]) -> bool:
    length = headers.get("content-length", "0")
    # isdigit() alone admits "²", which int() refuses
    return "transfer-encoding" in headers or (
        length.isascii() and length.isdigit() and int(length) > 0
    )
