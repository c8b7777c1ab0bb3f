"""Failed calls raise the error catalog's exceptions, named by S3 code.

The server sends the S3 code and the error's details in trailing metadata; a call that fails
before reaching the API (server down, deadline) raises an error chosen by gRPC status, e.g.
``ServiceUnavailable``. Every exception is a :class:`LightningStorError` from
:mod:`lightningstor_types.errors`, the same classes the server raises.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc.aio

from lightningstor_types.errors import LightningStorError, error_from_grpc


def from_rpc_error(err: grpc.aio.AioRpcError) -> LightningStorError:
    """The catalog exception that a failed call stands for."""
    return error_from_grpc(err.code(), err.details(), err.trailing_metadata())


@contextmanager
def translated() -> Iterator[None]:
    """Raise gRPC failures inside the block as catalog exceptions."""
    try:
        yield
    except grpc.aio.AioRpcError as err:
        raise from_rpc_error(err) from err
