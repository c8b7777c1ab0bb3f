"""``LightningStorClient``: the blocking client, a thin layer over the async one.

Each client runs a private event loop in a daemon thread; every method submits the async
client's coroutine to it and waits. There is no second implementation of any call.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from lightningstor_client._aio import AsyncLightningStorClient
from lightningstor_client._connection import DEFAULT_ENDPOINT
from lightningstor_client._models import ObjectInfo
from lightningstor_client._stream import AsyncObjectStream
from lightningstor_types.scope import Scope

CANCEL_CLEANUP_SECONDS = 10.0
"""How long an interrupted call may take to clean up before the interrupt goes on."""

_P = ParamSpec("_P")
_R = TypeVar("_R")
_T = TypeVar("_T")


class _LoopThread:
    """An event loop running in a daemon thread of its own."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="lightningstor-client", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, _R]) -> _R:
        finished = threading.Event()

        async def call() -> _R:
            try:
                return await coro
            finally:
                finished.set()

        future: Future[_R] = asyncio.run_coroutine_threadsafe(call(), self.loop)
        try:
            return future.result()
        except BaseException:  # e.g. KeyboardInterrupt while waiting: stop the call too
            future.cancel()
            # Give the call its own cleanup (a partial download's temporary file, an upload's
            # stream) before the caller goes on, perhaps to close the client and exit.
            finished.wait(CANCEL_CLEANUP_SECONDS)
            raise

    def iterate(self, source: AsyncIterator[_T]) -> Iterator[_T]:
        async def step() -> _T:
            return await anext(source)

        while True:
            try:
                yield self.run(step())
            except StopAsyncIteration:
                return

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def _as_blocking(call: Callable[..., Any], method: Callable[..., Any], returns: str | None) -> None:
    """Make ``help()`` and ``inspect.signature`` describe the blocking method as it is: this
    module's, its own name, and (``returns``) what it gives instead of an async iterator or
    stream. ``functools.wraps`` alone would point them at the async method."""
    signature = inspect.signature(method)
    if returns is not None:
        signature = signature.replace(return_annotation=returns)
    del call.__wrapped__  # type: ignore[attr-defined]
    call.__signature__ = signature  # type: ignore[attr-defined]
    call.__module__ = __name__
    call.__qualname__ = f"LightningStorClient.{method.__name__}"


def _blocking(
    method: Callable[Concatenate[AsyncLightningStorClient, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[LightningStorClient, _P], _R]:
    """The blocking form of an async client method, with its signature and documentation."""

    @functools.wraps(method)
    def call(self: LightningStorClient, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return self._loop.run(method(self._aio, *args, **kwargs))

    _as_blocking(call, method, None)
    return call


def _blocking_iter(
    method: Callable[Concatenate[AsyncLightningStorClient, _P], AsyncIterator[_T]],
) -> Callable[Concatenate[LightningStorClient, _P], Iterator[_T]]:
    """The blocking form of an async-generator method."""

    @functools.wraps(method)
    def call(self: LightningStorClient, /, *args: _P.args, **kwargs: _P.kwargs) -> Iterator[_T]:
        return self._loop.iterate(method(self._aio, *args, **kwargs))

    returned = str(inspect.signature(method).return_annotation)
    _as_blocking(call, method, returned.replace("AsyncIterator[", "Iterator[", 1))
    return call


def _blocking_stream(
    method: Callable[
        Concatenate[AsyncLightningStorClient, _P], Coroutine[Any, Any, AsyncObjectStream]
    ],
) -> Callable[Concatenate[LightningStorClient, _P], ObjectStream]:
    """The blocking form of ``get_object``: a blocking stream."""

    @functools.wraps(method)
    def call(self: LightningStorClient, /, *args: _P.args, **kwargs: _P.kwargs) -> ObjectStream:
        return ObjectStream(self._loop.run(method(self._aio, *args, **kwargs)), self._loop)

    _as_blocking(call, method, "ObjectStream")
    return call


class ObjectStream:
    """A blocking :class:`AsyncObjectStream`: ``info``, then the content by ``for``."""

    def __init__(self, stream: AsyncObjectStream, loop: _LoopThread) -> None:
        self._stream = stream
        self._loop = loop
        self.info: ObjectInfo = stream.info
        self.content_length = stream.content_length
        self.content_range = stream.content_range

    def __iter__(self) -> Iterator[bytes]:
        return self._loop.iterate(self._stream)

    def read(self) -> bytes:
        """All the remaining content at once (for small objects)."""
        return self._loop.run(self._stream.read())

    def close(self) -> None:
        self._loop.run(self._stream.aclose())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.close()


class LightningStorClient:
    """The blocking client: the same methods as :class:`AsyncLightningStorClient`.

    ``LightningStorClient(endpoint="127.0.0.1:9001", *, scope=None, timeout=60.0, token=None,
    access_key=None, secret_key=None, ca_file=None, cert_file=None, key_file=None)``
    (credentials: a bearer token or an access key; TLS: an ``https://`` or ``grpcs://``
    endpoint, see :class:`~lightningstor_client._connection.Connection`); use it as
    ``with`` or call :meth:`close`. Callbacks (``progress``) run on the client's own thread.
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
        self._loop = _LoopThread()

        async def connect() -> AsyncLightningStorClient:
            return AsyncLightningStorClient(
                endpoint,
                scope=scope,
                timeout=timeout,
                token=token,
                access_key=access_key,
                secret_key=secret_key,
                ca_file=ca_file,
                cert_file=cert_file,
                key_file=key_file,
            )

        try:
            self._aio = self._loop.run(connect())
        except BaseException:
            self._loop.stop()
            raise
        self.endpoint = endpoint

    def close(self) -> None:
        """Close the channel and stop the client's thread."""
        if self._loop.loop.is_closed():
            return
        self._loop.run(self._aio.close())
        self._loop.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.close()

    get_object = _blocking_stream(AsyncLightningStorClient.get_object)
    iter_objects = _blocking_iter(AsyncLightningStorClient.iter_objects)

    create_bucket = _blocking(AsyncLightningStorClient.create_bucket)
    head_bucket = _blocking(AsyncLightningStorClient.head_bucket)
    delete_bucket = _blocking(AsyncLightningStorClient.delete_bucket)
    list_buckets = _blocking(AsyncLightningStorClient.list_buckets)
    get_bucket_versioning = _blocking(AsyncLightningStorClient.get_bucket_versioning)
    put_bucket_versioning = _blocking(AsyncLightningStorClient.put_bucket_versioning)
    get_bucket_tagging = _blocking(AsyncLightningStorClient.get_bucket_tagging)
    put_bucket_tagging = _blocking(AsyncLightningStorClient.put_bucket_tagging)
    delete_bucket_tagging = _blocking(AsyncLightningStorClient.delete_bucket_tagging)
    get_bucket_cors = _blocking(AsyncLightningStorClient.get_bucket_cors)
    put_bucket_cors = _blocking(AsyncLightningStorClient.put_bucket_cors)
    delete_bucket_cors = _blocking(AsyncLightningStorClient.delete_bucket_cors)
    get_bucket_lifecycle = _blocking(AsyncLightningStorClient.get_bucket_lifecycle)
    put_bucket_lifecycle = _blocking(AsyncLightningStorClient.put_bucket_lifecycle)
    delete_bucket_lifecycle = _blocking(AsyncLightningStorClient.delete_bucket_lifecycle)
    get_object_lock_configuration = _blocking(
        AsyncLightningStorClient.get_object_lock_configuration
    )
    put_object_lock_configuration = _blocking(
        AsyncLightningStorClient.put_object_lock_configuration
    )
    get_object_retention = _blocking(AsyncLightningStorClient.get_object_retention)
    put_object_retention = _blocking(AsyncLightningStorClient.put_object_retention)
    get_object_legal_hold = _blocking(AsyncLightningStorClient.get_object_legal_hold)
    put_object_legal_hold = _blocking(AsyncLightningStorClient.put_object_legal_hold)
    get_bucket_policy = _blocking(AsyncLightningStorClient.get_bucket_policy)
    put_bucket_policy = _blocking(AsyncLightningStorClient.put_bucket_policy)
    delete_bucket_policy = _blocking(AsyncLightningStorClient.delete_bucket_policy)
    get_bucket_policy_status = _blocking(AsyncLightningStorClient.get_bucket_policy_status)
    get_public_access_block = _blocking(AsyncLightningStorClient.get_public_access_block)
    put_public_access_block = _blocking(AsyncLightningStorClient.put_public_access_block)
    delete_public_access_block = _blocking(AsyncLightningStorClient.delete_public_access_block)
    explain_access = _blocking(AsyncLightningStorClient.explain_access)
    get_bucket_acl = _blocking(AsyncLightningStorClient.get_bucket_acl)
    put_bucket_acl = _blocking(AsyncLightningStorClient.put_bucket_acl)
    get_bucket_ownership_controls = _blocking(
        AsyncLightningStorClient.get_bucket_ownership_controls
    )
    put_bucket_ownership_controls = _blocking(
        AsyncLightningStorClient.put_bucket_ownership_controls
    )
    delete_bucket_ownership_controls = _blocking(
        AsyncLightningStorClient.delete_bucket_ownership_controls
    )

    put_object = _blocking(AsyncLightningStorClient.put_object)
    head_object = _blocking(AsyncLightningStorClient.head_object)
    get_object_attributes = _blocking(AsyncLightningStorClient.get_object_attributes)
    delete_object = _blocking(AsyncLightningStorClient.delete_object)
    delete_objects = _blocking(AsyncLightningStorClient.delete_objects)
    copy_object = _blocking(AsyncLightningStorClient.copy_object)
    list_objects = _blocking(AsyncLightningStorClient.list_objects)
    list_object_versions = _blocking(AsyncLightningStorClient.list_object_versions)
    get_object_tagging = _blocking(AsyncLightningStorClient.get_object_tagging)
    put_object_tagging = _blocking(AsyncLightningStorClient.put_object_tagging)
    delete_object_tagging = _blocking(AsyncLightningStorClient.delete_object_tagging)
    get_object_acl = _blocking(AsyncLightningStorClient.get_object_acl)
    put_object_acl = _blocking(AsyncLightningStorClient.put_object_acl)

    get_usage = _blocking(AsyncLightningStorClient.get_usage)
    get_quota = _blocking(AsyncLightningStorClient.get_quota)
    set_quota = _blocking(AsyncLightningStorClient.set_quota)
    delete_quota = _blocking(AsyncLightningStorClient.delete_quota)

    create_multipart_upload = _blocking(AsyncLightningStorClient.create_multipart_upload)
    upload_part = _blocking(AsyncLightningStorClient.upload_part)
    upload_part_copy = _blocking(AsyncLightningStorClient.upload_part_copy)
    complete_multipart_upload = _blocking(AsyncLightningStorClient.complete_multipart_upload)
    abort_multipart_upload = _blocking(AsyncLightningStorClient.abort_multipart_upload)
    list_multipart_uploads = _blocking(AsyncLightningStorClient.list_multipart_uploads)
    list_parts = _blocking(AsyncLightningStorClient.list_parts)

    create_access_key = _blocking(AsyncLightningStorClient.create_access_key)
    list_access_keys = _blocking(AsyncLightningStorClient.list_access_keys)
    delete_access_key = _blocking(AsyncLightningStorClient.delete_access_key)

    list_all_buckets = _blocking_iter(AsyncLightningStorClient.list_all_buckets)
    gc_status = _blocking(AsyncLightningStorClient.gc_status)
    get_org_public_access_block = _blocking(AsyncLightningStorClient.get_org_public_access_block)
    put_org_public_access_block = _blocking(AsyncLightningStorClient.put_org_public_access_block)
    delete_org_public_access_block = _blocking(
        AsyncLightningStorClient.delete_org_public_access_block
    )
    run_gc = _blocking(AsyncLightningStorClient.run_gc)
    storage_status = _blocking(AsyncLightningStorClient.storage_status)
    check_consistency = _blocking_iter(AsyncLightningStorClient.check_consistency)
    rewrap_keys = _blocking_iter(AsyncLightningStorClient.rewrap_keys)

    put_role = _blocking(AsyncLightningStorClient.put_role)
    delete_role = _blocking(AsyncLightningStorClient.delete_role)
    list_roles = _blocking(AsyncLightningStorClient.list_roles)
    put_group = _blocking(AsyncLightningStorClient.put_group)
    delete_group = _blocking(AsyncLightningStorClient.delete_group)
    list_groups = _blocking(AsyncLightningStorClient.list_groups)
    create_binding = _blocking(AsyncLightningStorClient.create_binding)
    delete_binding = _blocking(AsyncLightningStorClient.delete_binding)
    list_bindings = _blocking(AsyncLightningStorClient.list_bindings)
    list_principals = _blocking(AsyncLightningStorClient.list_principals)

    upload_file = _blocking(AsyncLightningStorClient.upload_file)
    download_file = _blocking(AsyncLightningStorClient.download_file)
