"""The connection layer of :class:`~lightningstor_api.metadata.etcd.EtcdStore`.

One gRPC channel per configured endpoint (TLS or plain), one endpoint in use at a time. A call
that cannot reach its endpoint, or that the member refuses before applying it (no leader), moves
to the next endpoint and is tried again until the call's deadline (``timeout``). A call cut off
after it was sent may or may not have been applied: reads are repeated, writes are not (the
caller gets :class:`MetadataUnavailable`, as etcd's own client does). Auth tokens are fetched
with ``Authenticate`` and fetched again when etcd reports them invalid. gRPC errors become
metadata errors here and nowhere else.

The messages and stubs are etcd's v3 API as generated in ``aetcd.rpc`` (aetcd ships them
without type stubs, so they are ``Any`` here and typed at this module's boundary).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from aetcd import rpc  # type: ignore[import-untyped]

from lightningstor_api.metadata.store import MetadataError, MetadataUnavailable

CONNECT_TIMEOUT_S = 1.0  # longest wait for one endpoint's connection before trying the next
RETRY_PAUSE_S = (0.05, 0.5)  # pause after every endpoint failed once: first, longest
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", -1),  # a page of large records can pass 4 MiB
    ("grpc.max_send_message_length", -1),  # etcd judges the size and says so
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),  # a restarted member is used again within 1 s
    ("grpc.keepalive_time_ms", 10_000),  # etcd refuses pings more often than every 5 s
    ("grpc.keepalive_timeout_ms", 5_000),
)
# etcd's rpctypes.MetadataRequireLeaderKey: a member without a leader ends the stream.
REQUIRE_LEADER = ("hasleader", "true")

# What etcd answers when it refused a request before applying it (rpctypes, codes Unavailable
# and ResourceExhausted): safe to send again, to another member.
_NOT_APPLIED = (
    "etcdserver: no leader",
    "etcdserver: not capable",
    "etcdserver: unhealthy cluster",
    "etcdserver: too many requests",
)
# What gRPC says when the connection was never made: the request did not leave this process.
_NOT_SENT = ("failed to connect to all addresses", "connection refused", "dns resolution failed")


@dataclass(frozen=True, slots=True)
class EtcdTls:
    """TLS toward etcd: PEM bytes; no CA means the system trust store; cert and key for mTLS."""

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.cert
        )


@dataclass(frozen=True, slots=True)
class EtcdConfig:
    """How to reach etcd.

    ``endpoints``: ``host:port`` of the members, tried in order. ``timeout``: the deadline of
    one store call, failover included. ``namespace`` is prepended to every key (so that several
    stores, e.g. tests, share one etcd); ``probe_key`` is a key the etcd user may read, read to
    learn the store revision (default: the namespace). ``retained_revisions``: the history the
    store keeps when it compacts etcd behind its writes (0: it never compacts).
    """

    endpoints: Sequence[str]
    tls: EtcdTls | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 5.0
    namespace: bytes = b""
    probe_key: bytes | None = None
    retained_revisions: int = 0

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ValueError("etcd needs at least one endpoint (host:port)")
        if (self.username is None) != (self.password is None):
            raise ValueError("etcd username and password go together")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.retained_revisions < 0:
            raise ValueError("retained_revisions must be >= 0")

    def __repr__(self) -> str:  # never print the password
        return (
            f"EtcdConfig(endpoints={list(self.endpoints)!r}, tls={self.tls is not None}, "
            f"username={self.username!r}, timeout={self.timeout}, namespace={self.namespace!r})"
        )


class Kind(enum.Enum):
    """What a failed call means for trying again."""

    NOT_SENT = "the request never reached etcd"  # any call may go to the next endpoint
    NOT_APPLIED = "etcd refused it before applying"  # the same
    UNKNOWN = "the connection broke mid-call"  # reads may be repeated, writes not
    AUTH = "the auth token expired"  # authenticate again, then repeat
    FINAL = "etcd answered for good"  # translate and raise


def classify(exc: grpc.aio.AioRpcError) -> Kind:
    code, details = exc.code(), (exc.details() or "")
    lowered = details.lower()
    if code is grpc.StatusCode.UNAUTHENTICATED and "invalid auth token" in lowered:
        return Kind.AUTH
    if details.startswith(_NOT_APPLIED):
        return Kind.NOT_APPLIED
    if code is grpc.StatusCode.UNAVAILABLE:
        return Kind.NOT_SENT if any(m in lowered for m in _NOT_SENT) else Kind.UNKNOWN
    if code is grpc.StatusCode.CANCELLED:
        return Kind.UNKNOWN  # the channel went away under the call
    return Kind.FINAL


def past_deadline(exc: grpc.aio.AioRpcError) -> bool:
    """The call's deadline passed: on our side (DEADLINE_EXCEEDED) or at the etcd member, which
    answers UNKNOWN "context deadline exceeded" (e.g. a read waiting for a leader it lost)."""
    code = exc.code()
    return code is grpc.StatusCode.DEADLINE_EXCEEDED or (
        code is grpc.StatusCode.UNKNOWN and "context deadline exceeded" in (exc.details() or "")
    )


def translate(
    exc: grpc.aio.AioRpcError, request_bytes: int = 0, *, idempotent: bool = True
) -> MetadataError:
    """The metadata error for a gRPC error of etcd (``idempotent``: False for writes)."""
    code, details = exc.code(), exc.details() or ""
    if "request is too large" in details or "larger than max" in details:
        return MetadataError(
            f"etcd refused a request of {request_bytes} bytes as too large ({details}); "
            "etcd accepts 1.5 MiB per request unless started with a larger --max-request-bytes"
        )
    if "too many operations in txn" in details:
        return MetadataError(f"etcd: {details} (at most 128 unless --max-txn-ops says more)")
    if "database space exceeded" in details:
        return MetadataUnavailable(
            f"etcd: {details}; compact and defragment it, then disarm the NOSPACE alarm"
        )
    if past_deadline(exc):
        unknown = "" if idempotent else "; the write may or may not have been applied"
        return MetadataUnavailable(f"etcd did not answer in time{unknown}")
    if code is grpc.StatusCode.UNAVAILABLE:
        return MetadataUnavailable(f"etcd unavailable: {details or code.name}")
    return MetadataError(f"etcd: {details or code.name} ({code.name})")


class Endpoint:
    """One member: its channel and stubs."""

    def __init__(self, address: str, tls: EtcdTls | None) -> None:
        self.address = address
        if tls is None:
            self.channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
        else:
            self.channel = grpc.aio.secure_channel(address, tls.credentials(), CHANNEL_OPTIONS)
        self.kv: Any = rpc.KVStub(self.channel)
        self.watch: Any = rpc.WatchStub(self.channel)
        self.auth: Any = rpc.AuthStub(self.channel)

    async def connected(self, budget: float) -> bool:
        """Wait up to ``budget`` for the channel to be READY; False at once after a failure."""
        ready, failed = grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE
        state = self.channel.get_state(try_to_connect=True)
        try:
            async with asyncio.timeout(budget):
                while state is not ready:
                    if state is failed:
                        return False  # gRPC reconnects in the background, with back-off
                    await self.channel.wait_for_state_change(state)
                    state = self.channel.get_state(try_to_connect=True)
        except TimeoutError:
            return False
        return True


Method = Callable[[Endpoint], Any]


class Connection:
    """The endpoints of one store, the one in use, the auth token and the retry rules."""

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self.endpoints = [Endpoint(address, config.tls) for address in config.endpoints]
        self.current = 0
        self.closed = False
        self.known_revision = 0  # the newest store revision any answer carried
        self._token: str | None = None
        self._token_generation = 0
        self._auth_lock = asyncio.Lock()
        self._last_error = "no attempt yet"

    @property
    def address(self) -> str:
        """The endpoint in use."""
        return self.endpoints[self.current].address

    def metadata(self, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
        token = (("token", self._token),) if self._token is not None else ()
        return token + extra

    def observe(self, header: Any) -> None:
        self.known_revision = max(self.known_revision, int(header.revision))

    def failed(self, endpoint: Endpoint, reason: str) -> None:
        """Move on from ``endpoint`` (unless another call already did)."""
        self._last_error = f"{endpoint.address}: {reason}"
        index = self.endpoints.index(endpoint)
        if index == self.current:
            self.current = (index + 1) % len(self.endpoints)

    def check_open(self) -> None:
        if self.closed:
            raise MetadataUnavailable("the etcd metadata store is closed")

    async def endpoint(self, deadline: float) -> Endpoint:
        """A connected endpoint, trying them in turn until ``deadline``."""
        loop = asyncio.get_running_loop()
        pause = RETRY_PAUSE_S[0]
        while True:
            for _ in self.endpoints:
                self.check_open()
                endpoint = self.endpoints[self.current]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise self.unavailable()
                if await endpoint.connected(min(remaining, CONNECT_TIMEOUT_S)):
                    return endpoint
                self.failed(endpoint, "cannot connect (refused, unreachable or TLS handshake)")
            await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
            pause = min(pause * 2, RETRY_PAUSE_S[1])

    def unavailable(self) -> MetadataUnavailable:
        addresses = ", ".join(e.address for e in self.endpoints)
        return MetadataUnavailable(
            f"no etcd endpoint answered within {self.config.timeout:g} s ({addresses}); "
            f"last error: {self._last_error}"
        )

    async def unary(
        self, method: Method, request: Any, *, idempotent: bool, token: bool = True
    ) -> Any:
        """Call ``method`` (e.g. ``lambda e: e.kv.Range``) with failover; see the module doc."""
        try:
            return await self._unary(method, request, idempotent, token)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self.closed and task is not None and not task.cancelling():
                # close() cancelled the gRPC call, not our caller
                raise MetadataUnavailable(
                    "the etcd metadata store closed during the call"
                ) from None
            raise

    async def _unary(self, method: Method, request: Any, idempotent: bool, token: bool) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeout
        while True:
            endpoint = await self.endpoint(deadline)
            generation = self._token_generation
            try:
                response = await method(endpoint)(
                    request,
                    timeout=max(0.001, deadline - loop.time()),
                    metadata=self.metadata() if token else (),
                    wait_for_ready=False,
                )
            except grpc.aio.AioRpcError as exc:
                self.check_open()
                kind = classify(exc)
                if kind is Kind.AUTH:
                    await self.authenticate(generation)
                    continue
                if kind is Kind.FINAL:
                    if past_deadline(exc):
                        self.failed(endpoint, "no answer before the deadline")  # hung member?
                    raise translate(exc, request.ByteSize(), idempotent=idempotent) from exc
                if kind is Kind.UNKNOWN and not idempotent:
                    raise MetadataUnavailable(
                        f"etcd {endpoint.address}: {exc.details() or exc.code().name}; "
                        "the write may or may not have been applied"
                    ) from exc
                self.failed(endpoint, exc.details() or exc.code().name)
                if loop.time() >= deadline:
                    raise self.unavailable() from exc
                continue
            self.observe(response.header)
            return response

    async def authenticate(self, stale_generation: int | None = None) -> None:
        """Fetch a token (once for all the calls that found ``stale_generation`` invalid)."""
        if self.config.username is None:
            return
        async with self._auth_lock:
            if stale_generation is not None and stale_generation != self._token_generation:
                return  # another call already fetched a new one
            request = rpc.AuthenticateRequest(
                name=self.config.username, password=self.config.password
            )
            # The old token goes on being sent by other calls meanwhile: at worst they come back.
            try:
                response = await self.unary(
                    lambda e: e.auth.Authenticate, request, idempotent=True, token=False
                )
            except MetadataUnavailable as exc:
                raise MetadataUnavailable(
                    f"etcd authentication as {self.config.username!r}: {exc.detail}"
                ) from exc
            except MetadataError as exc:
                raise MetadataError(
                    f"etcd authentication as {self.config.username!r}: {exc}"
                ) from exc
            self._token = str(response.token)
            self._token_generation += 1

    async def close(self) -> None:
        self.closed = True
        await asyncio.gather(*(e.channel.close() for e in self.endpoints))
