"""The IAM client Authorizer: decisions asked of an IAM service over ``lightningstor.iam.v1``.

- The service-account token is read from ``iam.token_path`` (re-read when the file changes) and
  sent as ``authorization: Bearer …``.
- Decisions are cached for ``min(iam.decision_cache_ttl_seconds, decision.ttl_seconds)``; that
  TTL is the longest time a revoked permission can still be used.
- Concurrent identical misses are coalesced: one call to the IAM per (principal, action,
  resource, subject) in flight; the others await its answer.
- A decision about acting as another identity (a key for it) sends that identity as the
  check's ``subject``: the IAM judges whether the caller already holds all it holds.
- Closed on failure: the IAM down, slower than ``iam.timeout_seconds``, or answering garbage means
  :class:`~lightningstor_types.errors.IamUnavailable` (gRPC UNAVAILABLE, HTTP 503), never an
  allow. Failures are not cached, and the channel reconnects within a second of the IAM's return,
  so service resumes by itself.
- :meth:`IamClientAuthorizer.probe` (readiness) asks ``GetServerInfo``, the protocol's cheapest
  call, with the same deadline: the server is not ready while the IAM cannot answer it.
- Every decision is counted in ``lightningstor_iam_decisions_total{cache,decision}`` and, when
  asked of the IAM, timed in ``lightningstor_iam_decision_duration_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import grpc
import grpc.aio

from lightningstor.iam.v1 import iam_pb2, iam_pb2_grpc
from lightningstor_api.authz import Decision
from lightningstor_api.metrics import METRICS
from lightningstor_types.actions import Action
from lightningstor_types.config import ClientTlsSettings, IamSettings
from lightningstor_types.errors import AccessDenied, IamUnavailable
from lightningstor_types.grpc_client import ClientTls, reconnect_options
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext

log = logging.getLogger(__name__)

MAX_CACHED = 100_000
CHANNEL_OPTIONS = tuple(reconnect_options(100, 1000))

_Key = tuple[str, str, str, str, str, str]
"""principal (id, org, project), action, resource, subject (``org[/project]/id`` or empty)."""


def channel_credentials(tls: ClientTlsSettings) -> grpc.ChannelCredentials:
    return ClientTls(tls.ca_file, tls.cert_file, tls.key_file).credentials()


class _TokenFile:
    """The bearer token of ``path``, re-read when its mtime or size changes."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._token = ""

    def metadata(self) -> tuple[tuple[str, str], ...]:
        if self._path is None:
            return ()
        try:
            st = self._path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                self._token = self._path.read_text().strip()
                self._stamp = stamp
        except OSError as exc:
            raise IamUnavailable(
                f"authorization is unavailable: cannot read the IAM token {self._path}: {exc}"
            ) from None
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()


def _principal_pb(p: Principal) -> iam_pb2.Principal:
    return iam_pb2.Principal(
        principal_id=p.principal_id, org_id=p.org_id, project_id=p.project_id or ""
    )


class IamClientAuthorizer:
    """An Authorizer that asks the IAM service, with a decision cache; fails closed."""

    def __init__(self, iam: IamSettings) -> None:
        if iam.endpoint is None:
            raise ValueError("iam.endpoint is required for the IAM client")
        self.endpoint = str(iam.endpoint)
        self._tls = iam.tls
        self._ttl = iam.decision_cache_ttl_seconds
        self._timeout = iam.timeout_seconds
        self._token = _TokenFile(iam.token_path)
        self._channel: grpc.aio.Channel | None = None
        self._stub: iam_pb2_grpc.IamServiceAsyncStub | None = None
        self._cache: dict[_Key, tuple[float, Decision]] = {}
        self._inflight: dict[_Key, asyncio.Future[Decision]] = {}

    def _stub_now(self) -> iam_pb2_grpc.IamServiceAsyncStub:
        if self._stub is None:
            if self._tls is not None:
                self._channel = grpc.aio.secure_channel(
                    self.endpoint, channel_credentials(self._tls), options=CHANNEL_OPTIONS
                )
            else:
                self._channel = grpc.aio.insecure_channel(self.endpoint, options=CHANNEL_OPTIONS)
            self._stub = iam_pb2_grpc.IamServiceStub(self._channel)
        return self._stub

    async def aclose(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None

    async def probe(self) -> None:
        """Raise :class:`IamUnavailable` unless the IAM answers ``GetServerInfo`` in time."""
        try:
            await self._stub_now().GetServerInfo(
                iam_pb2.GetServerInfoRequest(),
                timeout=self._timeout,
                metadata=self._token.metadata(),
            )
        except grpc.aio.AioRpcError as err:
            raise IamUnavailable(f"the IAM at {self.endpoint} answered {err.code().name}") from None

    async def authorize(self, ctx: RequestContext, action: Action, resource: str) -> None:
        if not (await self.decide(ctx, action, resource)).allowed:
            raise AccessDenied()

    async def decide(
        self,
        ctx: RequestContext,
        action: Action,
        resource: str,
        subject: Principal | None = None,
    ) -> Decision:
        p = ctx.principal
        about = f"{subject.scope}/{subject.principal_id}" if subject is not None else ""
        key: _Key = (p.principal_id, p.org_id, p.project_id or "", str(action), resource, about)
        hit = self._cache.get(key)
        if hit is not None:
            if hit[0] > time.monotonic():
                METRICS.iam_decision(cache_hit=True, allowed=hit[1].allowed)
                return hit[1]
            del self._cache[key]
        pending = self._inflight.get(key)
        if pending is not None:  # a decision asked once for both: the waiter's is a hit
            shared = await asyncio.shield(pending)
            METRICS.iam_decision(cache_hit=True, allowed=shared.allowed)
            return shared
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        started = time.monotonic()
        try:
            decision = await self._ask(ctx, p, action, resource, subject)
        except BaseException as exc:
            # Waiters see the same failure (IamUnavailable), or IamUnavailable if we were
            # cancelled: a waiter must never be left hanging nor handed an allow.
            if isinstance(exc, IamUnavailable):
                future.set_exception(exc)
            else:
                future.set_exception(IamUnavailable("authorization is unavailable"))
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(decision)
            METRICS.iam_decision(
                cache_hit=False, allowed=decision.allowed, seconds=time.monotonic() - started
            )
            ttl = min(self._ttl, decision.ttl_seconds)
            if ttl > 0:
                if len(self._cache) >= MAX_CACHED:
                    self._cache.clear()
                self._cache[key] = (time.monotonic() + ttl, decision)
            return decision
        finally:
            del self._inflight[key]

    async def _ask(
        self,
        ctx: RequestContext,
        p: Principal,
        action: Action,
        resource: str,
        subject: Principal | None,
    ) -> Decision:
        check = iam_pb2.AuthorizationCheck(
            principal=_principal_pb(p),
            subject=_principal_pb(subject) if subject is not None else None,
            action=str(action),
            resource=resource,
            context={
                **ctx.attributes,
                "api": ctx.api,
                "source_address": ctx.source_address,
                "request_id": ctx.request_id,
            },
        )
        try:
            reply = await self._stub_now().Authorize(
                iam_pb2.AuthorizeRequest(checks=[check]),
                timeout=self._timeout,
                metadata=self._token.metadata(),
            )
        except grpc.aio.AioRpcError as err:
            log.warning(
                "IAM call failed: %s %s", err.code().name, err.details(),
                extra={"iam": self.endpoint},
            )  # fmt: skip
            raise IamUnavailable(
                f"authorization is unavailable: the IAM at {self.endpoint} answered "
                f"{err.code().name}"
            ) from None
        if not isinstance(reply, iam_pb2.AuthorizeResponse) or len(reply.decisions) != 1:
            raise IamUnavailable(
                f"authorization is unavailable: the IAM at {self.endpoint} answered "
                f"{len(reply.decisions)} decisions for 1 check"
            )
        d = reply.decisions[0]
        if d.ttl_seconds < 0:
            raise IamUnavailable("authorization is unavailable: the IAM sent a negative ttl")
        return Decision(
            d.allowed, d.reason or ("allowed" if d.allowed else "denied"), d.ttl_seconds
        )
