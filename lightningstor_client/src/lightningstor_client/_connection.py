"""The channel, the stubs and the two ways of calling them (unary, client-streaming upload)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar, cast

import grpc.aio

from lightningstor.v1 import (
    admin_pb2_grpc,
    bucket_pb2_grpc,
    common_pb2,
    credential_pb2_grpc,
    iam_admin_pb2_grpc,
    object_pb2_grpc,
    objectlock_pb2_grpc,
    usage_pb2_grpc,
)
from lightningstor_client._auth import credential_signer
from lightningstor_client._errors import from_rpc_error, translated
from lightningstor_client._transfer import Body, iter_pieces
from lightningstor_types.errors import LightningStorError, error_from_grpc
from lightningstor_types.grpc_client import ClientTls, open_channel, signing_interceptors
from lightningstor_types.scope import Scope

DEFAULT_ENDPOINT = "127.0.0.1:9001"
MAX_MESSAGE_BYTES = 32 * 1024 * 1024

_R = TypeVar("_R")
_Req = TypeVar("_Req")


def _path(value: str | os.PathLike[str] | None) -> Path | None:
    return None if value is None else Path(value)


def scope_pb(scope: Scope | None) -> common_pb2.Scope | None:
    """A scope as the API names it (None: the caller's own)."""
    if scope is None:
        return None
    return common_pb2.Scope(org_id=scope.org_id, project_id=scope.project_id or "")


_CORE_WRITE_FAILURE = "Internal error from Core"


def _settled(coro: Coroutine[Any, Any, _R]) -> _R:
    """The value of a coroutine that finishes without suspending (a finished call's status)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(_R, done.value)
    coro.close()
    raise RuntimeError("the call has no status yet")


class _FirstStatus:
    """The status a call ended with first, kept against grpc-python overwriting it.

    When the server ends an upload before reading all of it (an authorization failure, a
    missing bucket), a write that was in flight fails in grpc-core and grpc-python's aio layer
    replaces the server's status with INTERNAL "Internal error from Core" (grpc/grpc#36066).
    A done-callback sees the status that arrived first: the server's.
    """

    def __init__(self) -> None:
        self._status: tuple[grpc.StatusCode, str, grpc.aio.Metadata | None] | None = None

    def __call__(self, call: grpc.aio.Call) -> None:
        if self._status is None:
            self._status = (
                _settled(call.code()),
                _settled(call.details()),
                _settled(call.trailing_metadata()),
            )

    def error_for(self, err: grpc.aio.AioRpcError) -> LightningStorError:
        """The catalog error for ``err``, or for the server's status that ``err`` replaced."""
        if (
            self._status is not None
            and err.code() == grpc.StatusCode.INTERNAL
            and err.details() == _CORE_WRITE_FAILURE
            and self._status[0] != grpc.StatusCode.OK
        ):
            return error_from_grpc(*self._status)
        return from_rpc_error(err)


class Connection:
    """A channel to one LightningStor endpoint, shared by all of a client's calls.

    ``endpoint``: ``HOST:PORT``, or ``https://``/``grpcs://HOST:PORT`` for TLS (``http://``,
    ``grpc://``: plaintext). ``ca_file`` (default: the system trust store) verifies the server;
    ``cert_file`` and ``key_file`` are a client certificate (mutual TLS). A TLS file turns TLS
    on for a bare ``HOST:PORT``.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        scope: Scope | None = None,
        timeout: float | None = 60.0,
        token: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._channel = open_channel(
            endpoint,
            ClientTls(_path(ca_file), _path(cert_file), _path(key_file)),
            interceptors=signing_interceptors(credential_signer(token, access_key, secret_key)),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                # A client's own connection: gRPC otherwise shares one per target and options
                # process-wide, so that two clients could never reach two server processes.
                ("grpc.use_local_subchannel_pool", 1),
            ],
        )
        self._buckets = bucket_pb2_grpc.BucketServiceStub(self._channel)
        self._objects = object_pb2_grpc.ObjectServiceStub(self._channel)
        self._locks = objectlock_pb2_grpc.ObjectLockServiceStub(self._channel)
        self._credentials = credential_pb2_grpc.CredentialServiceStub(self._channel)
        self._usage = usage_pb2_grpc.UsageServiceStub(self._channel)
        self._admin = admin_pb2_grpc.AdminServiceStub(self._channel)
        self._iam = iam_admin_pb2_grpc.IamAdminServiceStub(self._channel)
        self._scope = scope_pb(scope)
        self._timeout = timeout

    async def close(self) -> None:
        """Close the channel; calls in flight are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        await self.close()

    async def _unary(self, call: Awaitable[_R]) -> _R:
        with translated():
            return await call

    async def _upload(
        self,
        method: Callable[[AsyncIterator[_Req]], Awaitable[_R]],
        request: Callable[..., _Req],
        header: object,
        data: Body,
    ) -> _R:
        """A client-streaming upload: ``header``, then ``data`` in pieces.

        A failure of ``data`` itself (a file read, a progress callback) is raised as it was,
        not as the cancelled call it causes.
        """
        failure: list[BaseException] = []

        async def requests() -> AsyncIterator[_Req]:
            yield request(header=header)
            try:
                async for piece in iter_pieces(data):
                    yield request(content=piece)
            except Exception as exc:
                failure.append(exc)
                raise

        call = method(requests())
        first = _FirstStatus()
        call.add_done_callback(first)  # type: ignore[attr-defined]
        try:
            return await call
        except grpc.aio.AioRpcError as err:
            if failure:
                raise failure[0] from None
            raise first.error_for(err) from err
        except asyncio.CancelledError:
            # gRPC cancels the call when the request stream fails; our own cancellation stays.
            task = asyncio.current_task()
            if failure and (task is None or not task.cancelling()):
                raise failure[0] from None
            raise
