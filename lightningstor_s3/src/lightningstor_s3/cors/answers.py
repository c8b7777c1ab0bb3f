"""CORS answers: preflight ``OPTIONS`` without credentials, and ``Access-Control-*`` headers on
the responses (errors included) to requests that carry an ``Origin``.

Whose bucket: bucket names are per tenant, and a preflight carries no signature. The rules come
from the bucket of that name in the scope of the access key the request names: the one whose
signature it carries, else the key id of a presigned URL's ``X-Amz-Credential`` (browsers send
a preflight to the URL itself, query included) or of an ``Authorization`` header. A preflight
that names no known key is refused (403 ``AccessForbidden``), as one no rule allows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from lightningstor_s3.exchange import Exchange, parse_query
from lightningstor_s3.router import split_host, split_path
from lightningstor_types.cors import ALLOWED_METHODS, match_rule
from lightningstor_types.errors import AccessForbidden, BadRequest, LightningStorError
from lightningstor_types.scope import Principal
from lightningstor_types.service import CredentialResolver, StorageService

log = logging.getLogger(__name__)

VARY = (b"vary", b"Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")


class CorsAnswers:
    """Makes the CORS part of the answers of one S3 listener."""

    def __init__(
        self,
        service: StorageService,
        credentials: CredentialResolver,
        root_domains: Sequence[str],
    ) -> None:
        self._service = service
        self._credentials = credentials
        self._roots = root_domains

    async def preflight(self, ex: Exchange) -> None:
        """Answer an ``OPTIONS`` request from the bucket's rules (no authentication)."""
        origin = ex.headers.get("origin", "")
        method = ex.headers.get("access-control-request-method", "")
        if not origin:
            raise BadRequest("Insufficient information. Origin request header needed.")
        if method not in ALLOWED_METHODS:
            raise BadRequest(f"Invalid Access-Control-Request-Method: {method}")
        requested = [
            h.strip()
            for h in ex.headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        ]
        bucket = self._bucket(ex)
        principal = await self._named_principal(ex)
        if not bucket or principal is None:
            raise AccessForbidden()
        config = await self._service.bucket_cors(principal, bucket)
        if config is None:
            raise AccessForbidden("CORSResponse: CORS is not enabled for this bucket.")
        match = match_rule(config, origin, method, requested)
        if match is None:
            raise AccessForbidden()
        headers = [
            (name.encode(), value.encode("latin-1", "replace"))
            for name, value in match.headers(preflight=True, request_headers=requested)
        ]
        await ex.respond(200, [*headers, VARY])

    async def decorate(self, ex: Exchange, principal: Principal | None) -> None:
        """Set the ``Access-Control-*`` headers of the response to a request with an Origin
        (before its head is sent); never fails the request itself."""
        origin = ex.headers.get("origin")
        if not origin or ex.started:
            return
        try:
            bucket = self._bucket(ex)
            if principal is None:
                principal = await self._named_principal(ex)
            if not bucket or principal is None:
                return
            config = await self._service.bucket_cors(principal, bucket)
            if config is None:
                return
            match = match_rule(config, origin, ex.method)
            headers = [VARY]
            if match is not None:
                headers += [
                    (name.encode(), value.encode("latin-1", "replace"))
                    for name, value in match.headers(preflight=False)
                ]
            ex.extra_headers = headers
        except Exception:  # CORS headers are a courtesy; the answer itself must not change
            log.debug("no CORS headers for %s", ex.raw_path, exc_info=True)

    def _bucket(self, ex: Exchange) -> str:
        try:
            bucket, _ = split_path(ex.raw_path, split_host(ex.host, self._roots))
        except LightningStorError:
            return ""
        return bucket

    async def _named_principal(self, ex: Exchange) -> Principal | None:
        """The owner of the access key the request names (its signature is not checked here)."""
        key_id = ""
        if m := _CREDENTIAL_RE.search(ex.headers.get("authorization", "")):
            key_id = m.group(1)
        elif b"X-Amz-Credential" in ex.query_string:
            try:
                key_id = parse_query(ex.query_string).get("X-Amz-Credential", "").split("/")[0]
            except LightningStorError:
                return None
        if not key_id:
            return None
        resolved = await self._credentials.resolve(key_id)
        return resolved.principal if resolved is not None else None
