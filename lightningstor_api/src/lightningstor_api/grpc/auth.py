"""Who is calling over gRPC: a bearer token or a signed access key; nothing else.

Every ``lightningstor.*`` call must carry one of

- ``authorization: Bearer <JWT>``: verified (joserfc) against the IAM's JWKS — in embedded
  mode the server's own signing key (``{data_dir}/iam-signing-key.json``, which
  ``lightningstor-iam token`` signs with); in external mode ``iam.jwks_url``, else the JWKS
  the IAM publishes through ``GetServerInfo``. Issuer and audience are checked when configured,
  expiry always. Claims: ``sub`` = principal id, ``org``, ``project`` (optional).
- an access key signature (:mod:`lightningstor_types.signing`): the same keys as S3, so the
  first-start admin key works over gRPC too. The signature binds the full method name and a
  nonce; this process accepts each signature once within ``iam.grpc_signature_window_seconds``
  (:class:`~lightningstor_api.callers.SignatureMemory`). A version-1 signature (no nonce: an
  older client) is refused with a message that says to upgrade.

Without either, a client certificate that ``[[server.tls.principals]]`` maps
(:class:`~lightningstor_api.callers.CertificatePrincipals`) is the caller. A call with none of
these, or a bad one, fails with ``UNAUTHENTICATED`` (catalog ``Unauthenticated``) before the
servicer runs. :class:`AuthInterceptor` does the (asynchronous) verification and
leaves the principal where :func:`authenticate` finds it.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import grpc
import grpc.aio

from lightningstor.iam.v1 import iam_pb2, iam_pb2_grpc
from lightningstor_api.callers import CertificatePrincipals, SignatureMemory
from lightningstor_api.iam.client import CHANNEL_OPTIONS, channel_credentials
from lightningstor_api.iam.tokens import (
    DEFAULT_ISSUER,
    SIGNING_KEY_FILE,
    JwksSource,
    TokenVerifier,
    load_or_create_signing_key,
    public_jwks,
)
from lightningstor_types.config import Settings
from lightningstor_types.errors import Unauthenticated
from lightningstor_types.grpc_interceptors import ApiInterceptor
from lightningstor_types.scope import Principal
from lightningstor_types.service import CredentialResolver
from lightningstor_types.signing import (
    ACCESS_KEY_HEADER,
    DATE_HEADER,
    NONCE_HEADER,
    NONCE_RE,
    SIGNATURE_HEADER,
    signature,
)

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("lightningstor_principal")


def authenticate(context: grpc.aio.ServicerContext[Any, Any]) -> Principal:
    """The principal of the current call, as :class:`AuthInterceptor` established it."""
    principal = _principal.get(None)
    if principal is None:
        raise Unauthenticated()
    return principal


class GrpcAuthenticator:
    """Turns a call's metadata (and its TLS peer) into a principal, or raises Unauthenticated."""

    def __init__(
        self,
        tokens: TokenVerifier,
        credentials: CredentialResolver,
        signatures: SignatureMemory,
        certificates: CertificatePrincipals | None = None,
    ) -> None:
        self._tokens = tokens
        self._credentials = credentials
        self._signatures = signatures
        self._certificates = certificates or CertificatePrincipals(())

    async def principal_of(
        self,
        metadata: dict[str, str],
        method: str,
        auth_context: Callable[[], Mapping[str, Iterable[bytes]]] | None = None,
    ) -> Principal:
        """``auth_context``: the call's TLS peer, asked only when a certificate may decide."""
        auth = metadata.get("authorization")
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("Access Denied: the authorization is not a bearer token")
            return await self._tokens.verify(token.strip())
        key_id = metadata.get(ACCESS_KEY_HEADER)
        if key_id is not None:
            return await self._access_key(key_id, metadata, method)
        if self._certificates and auth_context is not None:
            principal = self._certificates.principal_of(auth_context())
            if principal is not None:
                return principal
        raise Unauthenticated(
            "Access Denied: the request carries no credentials (a bearer token or a signed "
            "access key)"
        )

    async def _access_key(self, key_id: str, metadata: dict[str, str], method: str) -> Principal:
        date = metadata.get(DATE_HEADER, "")
        nonce = metadata.get(NONCE_HEADER)
        sent = metadata.get(SIGNATURE_HEADER, "")
        if nonce is None:
            raise Unauthenticated(
                "Access Denied: the access-key signature has no nonce (a client older than "
                "signature version 2, which binds the method and a nonce): upgrade the client"
            )
        now = time.time()
        window = self._signatures.window
        if not (date.isascii() and date.isdigit()) or abs(now - int(date)) > window:
            raise Unauthenticated(
                f"Access Denied: the signature date is missing or more than {window} s from "
                "the server's clock"
            )
        if not NONCE_RE.fullmatch(nonce) or len(sent) != 64:
            raise Unauthenticated("Access Denied: malformed nonce or signature")
        found = await self._credentials.resolve(key_id) if len(key_id) <= 128 else None
        expected = signature(found.secret_access_key, date, nonce, method, key_id) if found else ""
        if found is None or not hmac.compare_digest(expected.encode(), sent.encode()):
            raise Unauthenticated("Access Denied: unknown access key or bad signature")
        if not self._signatures.first_use(int(date), sent, now):
            raise Unauthenticated("Access Denied: this signature was already used (a replay)")
        return found.principal


_AUTHENTICATOR: GrpcAuthenticator | None = None


def configure_authentication(settings: Settings, credentials: CredentialResolver) -> None:
    """Set up the process's authenticator from the configuration (once, at start)."""
    global _AUTHENTICATOR
    iam = settings.iam
    source: JwksSource
    issuer = iam.issuer
    if iam.mode == "embedded":
        key = load_or_create_signing_key(settings.server.data_dir / SIGNING_KEY_FILE)
        jwks = public_jwks(key)

        async def local() -> dict[str, Any]:
            return jwks

        source, issuer = local, iam.issuer or DEFAULT_ISSUER
    elif iam.jwks_url:
        source = _jwks_from_url(iam.jwks_url, iam.timeout_seconds)
    else:
        source = _jwks_from_iam(settings)
    verifier = TokenVerifier(source, issuer=issuer, audience=iam.audience)
    signatures = SignatureMemory(iam.grpc_signature_window_seconds, iam.grpc_nonce_capacity)
    tls = settings.server.tls
    certificates = CertificatePrincipals(tls.principals if tls is not None else ())
    _AUTHENTICATOR = GrpcAuthenticator(verifier, credentials, signatures, certificates)


def _jwks_from_url(url: str, timeout: float) -> JwksSource:
    def fetch() -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - http(s) only
            value: dict[str, Any] = json.loads(reply.read())
            return value

    async def source() -> dict[str, Any]:
        return await asyncio.to_thread(fetch)

    return source


def _jwks_from_iam(settings: Settings) -> JwksSource:
    iam = settings.iam
    endpoint = str(iam.endpoint)

    async def source() -> dict[str, Any]:
        if iam.tls is not None:
            channel = grpc.aio.secure_channel(
                endpoint, channel_credentials(iam.tls), options=CHANNEL_OPTIONS
            )
        else:
            channel = grpc.aio.insecure_channel(endpoint, options=CHANNEL_OPTIONS)
        async with channel:
            stub = iam_pb2_grpc.IamServiceStub(channel)
            info = await stub.GetServerInfo(
                iam_pb2.GetServerInfoRequest(), timeout=iam.timeout_seconds
            )
        value: dict[str, Any] = json.loads(info.jwks_json)
        return value

    return source


class AuthInterceptor(ApiInterceptor):
    """Authenticates every ``lightningstor.*`` call before its servicer runs.

    Put it after the interceptor that translates errors, so that its Unauthenticated becomes
    the catalog's UNAUTHENTICATED status with the error code in the trailers.
    """

    def wrap(
        self, handler: grpc.RpcMethodHandler[Any, Any], method: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        return _wrap(handler, method)


async def _establish(context: grpc.aio.ServicerContext[Any, Any], method: str) -> None:
    if _AUTHENTICATOR is None:
        raise Unauthenticated("Access Denied: authentication is not configured")
    metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
    principal = await _AUTHENTICATOR.principal_of(metadata, method, context.auth_context)
    _principal.set(principal)


def _wrap(handler: grpc.RpcMethodHandler[Any, Any], method: str) -> grpc.RpcMethodHandler[Any, Any]:
    if handler.unary_unary is not None or handler.stream_unary is not None:
        unary: Any = handler.unary_unary or handler.stream_unary  # a coroutine function on aio

        async def call_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await _establish(context, method)
            return await unary(request, context)

        make = (
            grpc.unary_unary_rpc_method_handler
            if handler.unary_unary is not None
            else grpc.stream_unary_rpc_method_handler
        )
        return make(
            call_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    streaming: Any = handler.unary_stream or handler.stream_stream  # an async generator on aio

    async def call_streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await _establish(context, method)
        responses = streaming(request, context)
        try:
            async for response in responses:
                yield response
        finally:
            aclose = getattr(responses, "aclose", None)
            if aclose is not None:
                await aclose()

    make_streaming = (
        grpc.unary_stream_rpc_method_handler
        if handler.unary_stream is not None
        else grpc.stream_stream_rpc_method_handler
    )
    return make_streaming(
        call_streaming,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
