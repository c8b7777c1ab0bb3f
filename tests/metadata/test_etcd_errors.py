"""What etcd's gRPC answers become: an answer meaning "unavailable" is MetadataUnavailable (the
catalog's ServiceUnavailable, HTTP 503), never a bare MetadataError (HTTP 500)."""

from __future__ import annotations

import grpc
import grpc.aio
import pytest

from lightningstor_api.metadata import MetadataError, MetadataUnavailable
from lightningstor_api.metadata.etcd_conn import translate
from lightningstor_types.errors import ServiceUnavailable


def _answer(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("code", "details"),
    [
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded"),
        # a member that lost its leader lets the read wait until the call's own deadline
        (grpc.StatusCode.UNKNOWN, "context deadline exceeded"),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out"),
    ],
)
def test_etcd_out_of_time_or_quorum_is_unavailable(code: grpc.StatusCode, details: str) -> None:
    for idempotent in (True, False):
        err = translate(_answer(code, details), idempotent=idempotent)
        assert isinstance(err, MetadataUnavailable) and isinstance(err, ServiceUnavailable)
        assert err.code == "ServiceUnavailable" and err.http_status == 503


def test_other_answers_stay_metadata_errors() -> None:
    err = translate(_answer(grpc.StatusCode.UNKNOWN, "etcdserver: something else"))
    assert type(err) is MetadataError
