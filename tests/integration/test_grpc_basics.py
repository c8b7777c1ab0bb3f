"""The gRPC server process: health, reachability of every RPC, errors, request ids, shutdown,
configuration errors. Real server processes, raw gRPC calls."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc

from lightningstor.v1 import bucket_pb2, credential_pb2, object_pb2, objectlock_pb2
from lightningstor_client import AsyncLightningStorClient, LightningStorClient
from lightningstor_types.errors import GRPC_ERROR_CODE_KEY, NoSuchBucket, NoSuchKey
from tests.integration.server import (
    AdminSigner,
    ServerProcess,
    clean_env,
    server_command,
    start_server,
)

SERVICES = {
    "lightningstor.v1.BucketService": bucket_pb2,
    "lightningstor.v1.ObjectService": object_pb2,
    "lightningstor.v1.ObjectLockService": objectlock_pb2,
    "lightningstor.v1.CredentialService": credential_pb2,
}


@pytest.fixture(scope="module")
def channel(module_server: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(module_server.grpc_addr) as ch:
        yield grpc.intercept_channel(ch, AdminSigner(**module_server.admin_keys()))


def _code(err: grpc.RpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get(GRPC_ERROR_CODE_KEY)  # type: ignore[attr-defined]


def test_health_is_serving_for_the_server_and_each_service(channel: grpc.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", *SERVICES):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


def test_health_turns_not_serving_on_shutdown(server: ServerProcess) -> None:
    with grpc.insecure_channel(server.grpc_addr) as ch:
        watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(service=""))
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        server.terminate()
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        watch.cancel()
    assert server.wait() == 0


def test_the_server_logs_where_it_listens(module_server: ServerProcess) -> None:
    records = module_server.log_records()
    listening = [r for r in records if r.get("msg") == "grpc listening"]
    assert listening == [listening[0]]
    assert listening[0]["addr"] == module_server.grpc_addr
    assert any(r.get("msg") == "data directory" for r in records)


SUCCEED_WITHOUT_A_BUCKET = {"ListBuckets", "CreateAccessKey", "ListAccessKeys"}
MISSING = {
    "bucket": "no-such-bucket",
    "name": "no-such-bucket",
    "key": "k",
    "upload_id": "u",
    "part_number": 1,
    "access_key_id": "AKNOSUCHKEY",
}


def _raw_call(channel: grpc.Channel, service: str, method: str) -> grpc.RpcError | None:
    """Call ``method`` with a request naming a bucket that does not exist (or is invalid)."""
    desc = SERVICES[service].DESCRIPTOR.services_by_name[service.rsplit(".", 1)[1]]
    m = desc.methods_by_name[method]
    # Messages may live in another module of the package (lifecycle_pb2): ask the descriptors.
    request_cls = GetMessageClass(m.input_type)
    response_cls = GetMessageClass(m.output_type)
    path = f"/{service}/{method}"
    fields = request_cls.DESCRIPTOR.fields_by_name
    values = {k: v for k, v in MISSING.items() if k in fields}
    if method == "CreateBucket":
        values["name"] = "Not_A_Valid_Bucket"
    try:
        if m.client_streaming:
            header_cls = GetMessageClass(
                request_cls.DESCRIPTOR.fields_by_name["header"].message_type
            )
            header = header_cls(
                **{k: v for k, v in values.items() if k in header_cls.DESCRIPTOR.fields_by_name}
            )
            call = channel.stream_unary(
                path, request_cls.SerializeToString, response_cls.FromString
            )
            call(iter([request_cls(header=header), request_cls(content=b"x")]), timeout=10)
        elif m.server_streaming:
            call = channel.unary_stream(
                path, request_cls.SerializeToString, response_cls.FromString
            )
            list(call(request_cls(**values), timeout=10))
        else:
            call = channel.unary_unary(path, request_cls.SerializeToString, response_cls.FromString)
            call(request_cls(**values), timeout=10)
    except grpc.RpcError as err:
        return err
    return None


@pytest.mark.parametrize(
    ("service", "method"),
    [
        (service, method.name)
        for service, module in SERVICES.items()
        for method in module.DESCRIPTOR.services_by_name[service.rsplit(".", 1)[1]].methods
    ],
)
def test_every_rpc_is_served_and_fails_with_an_s3_code(
    channel: grpc.Channel, service: str, method: str
) -> None:
    err = _raw_call(channel, service, method)
    if method in SUCCEED_WITHOUT_A_BUCKET:
        assert err is None, f"{method}: {err}"
        return
    assert err is not None, f"{method} on a missing bucket succeeded"
    # The S3 code proves the call went through our servicer (gRPC's own UNIMPLEMENTED has none).
    assert _code(err), f"{method}: {err.code()} {err.details()} without an S3 code"  # type: ignore[attr-defined]


def test_a_missing_bucket_is_not_found_with_its_code_and_details(channel: grpc.Channel) -> None:
    call = channel.unary_unary(
        "/lightningstor.v1.BucketService/HeadBucket",
        bucket_pb2.HeadBucketRequest.SerializeToString,
        bucket_pb2.HeadBucketResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        call(bucket_pb2.HeadBucketRequest(name="no-such-bucket"), timeout=5)
    err = info.value
    assert err.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    trailers = dict(err.trailing_metadata())  # type: ignore[attr-defined]
    assert trailers[GRPC_ERROR_CODE_KEY] == "NoSuchBucket"
    assert trailers["x-lightningstor-error-bucket-name"] == "no-such-bucket"


def test_the_client_raises_the_catalog_class(client: LightningStorClient) -> None:
    with pytest.raises(NoSuchBucket) as info:
        client.head_bucket("no-such-bucket")
    assert info.value.details == {"BucketName": "no-such-bucket"}


def test_request_id_is_echoed_or_made(channel: grpc.Channel) -> None:
    """Unary calls return it in the trailers (no separate header send: see grpc/calls.py)."""
    call = channel.unary_unary(
        "/lightningstor.v1.BucketService/ListBuckets",
        bucket_pb2.ListBucketsRequest.SerializeToString,
        bucket_pb2.ListBucketsResponse.FromString,
    )
    _, given = call.with_call(
        bucket_pb2.ListBucketsRequest(), metadata=[("x-request-id", "req-1234")], timeout=5
    )
    assert dict(given.trailing_metadata())["x-request-id"] == "req-1234"
    _, made = call.with_call(bucket_pb2.ListBucketsRequest(), timeout=5)
    assert re.fullmatch(r"[0-9a-f]{32}", dict(made.trailing_metadata())["x-request-id"])


def test_request_id_is_echoed_on_errors_too(channel: grpc.Channel) -> None:
    call = channel.unary_unary(
        "/lightningstor.v1.BucketService/HeadBucket",
        bucket_pb2.HeadBucketRequest.SerializeToString,
        bucket_pb2.HeadBucketResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        call(bucket_pb2.HeadBucketRequest(name="nope"), metadata=[("x-request-id", "r-9")])
    trailers = dict(info.value.trailing_metadata())  # type: ignore[attr-defined]
    assert trailers["x-request-id"] == "r-9"
    assert trailers[GRPC_ERROR_CODE_KEY] == "NoSuchBucket"  # with the error's own trailers


def test_a_streamed_response_sends_the_request_id_first(channel: grpc.Channel) -> None:
    """A streamed GET announces it in the initial metadata, before the content."""
    call = channel.unary_stream(
        "/lightningstor.v1.ObjectService/GetObject",
        object_pb2.GetObjectRequest.SerializeToString,
        object_pb2.GetObjectResponse.FromString,
    )
    stream = call(
        object_pb2.GetObjectRequest(bucket="no-such-bucket-here", key="k"),
        metadata=[("x-request-id", "s-7")],
        timeout=5,
    )
    with pytest.raises(grpc.RpcError):
        list(stream)
    assert dict(stream.initial_metadata())["x-request-id"] == "s-7"  # type: ignore[attr-defined]


@pytest.mark.parametrize("shape", ["no-message", "content-first", "two-headers"])
def test_an_upload_needs_exactly_one_header_first(
    channel: grpc.Channel, client: LightningStorClient, new_bucket: str, shape: str
) -> None:
    header = object_pb2.PutObjectRequest(
        header=object_pb2.PutObjectHeader(bucket=new_bucket, key="k")
    )
    content = object_pb2.PutObjectRequest(content=b"x")
    messages = {
        "no-message": [],
        "content-first": [content, header],
        "two-headers": [header, content, header],
    }[shape]
    call = channel.stream_unary(
        "/lightningstor.v1.ObjectService/PutObject",
        object_pb2.PutObjectRequest.SerializeToString,
        object_pb2.PutObjectResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        call(iter(messages), timeout=5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert _code(info.value) == "InvalidRequest"
    assert list(client.iter_objects(new_bucket)) == []  # and nothing was stored


async def test_a_reader_that_goes_away_mid_stream_leaves_the_server_well(
    aclient: AsyncLightningStorClient, new_bucket: str
) -> None:
    await aclient.put_object(new_bucket, "big", b"\x01" * (5 * 1024 * 1024))
    for _ in range(3):
        async with await aclient.get_object(new_bucket, "big") as stream:
            async for _piece in stream:
                break
    assert (await (await aclient.get_object(new_bucket, "big")).read()) == b"\x01" * (5 << 20)


async def test_graceful_shutdown_finishes_an_inflight_streaming_put(tmp_path: Path) -> None:
    server = start_server(tmp_path / "one")
    try:
        client = AsyncLightningStorClient(server.grpc_addr, **server.admin_keys())
        await client.create_bucket("drain")
        started = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"z" * 65536
                started.set()
                await asyncio.sleep(0.1)

        put = asyncio.create_task(client.put_object("drain", "slow", slow_body()))
        await started.wait()
        server.terminate()
        result = await put
        assert result.size == 10 * 65536
        await client.close()
        assert await asyncio.to_thread(server.wait) == 0
    finally:
        server.stop()
    # The object is durable: a new server over the same data serves it.
    again = start_server(tmp_path / "two", data_dir=server.data_dir)
    try:
        with LightningStorClient(again.grpc_addr, **again.admin_keys()) as client2:
            assert client2.get_object("drain", "slow").read() == b"z" * (10 * 65536)
            with pytest.raises(NoSuchKey):
                client2.head_object("drain", "missing")
    finally:
        assert again.stop() == 0


@pytest.mark.parametrize(
    ("args", "config", "field"),
    [
        pytest.param(["--grpc-addr", "not an address"], None, "grpc_addr", id="flag"),
        pytest.param([], "[storage]\nchunk_size = 12\n", "chunk_size", id="file"),
    ],
)
def test_invalid_configuration_exits_2_naming_the_field(
    tmp_path: Path, args: list[str], config: str | None, field: str
) -> None:
    if config is not None:
        (tmp_path / "bad.toml").write_text(config)
        args = [*args, "--config", str(tmp_path / "bad.toml")]
    done = subprocess.run(
        server_command("--data-dir", str(tmp_path / "data"), *args),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("lightningstor-server: configuration error:")
    assert field in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()


def test_ports_file_is_json_of_bound_addresses(module_server: ServerProcess) -> None:
    ports = json.loads((module_server.workdir / "ports.json").read_text())
    host, _, port = ports["grpc"].rpartition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0


def test_an_address_in_use_is_a_clean_error(module_server: ServerProcess, tmp_path: Path) -> None:
    done = subprocess.run(
        server_command("--grpc-addr", module_server.grpc_addr, "--data-dir", str(tmp_path)),
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "cannot run" in done.stderr
    assert module_server.grpc_addr in done.stderr
    assert "Traceback" not in done.stderr


def test_text_logs_on_request(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"LIGHTNINGSTOR_LOGGING__FORMAT": "text"})
    try:
        assert f"grpc listening addr={server.grpc_addr}" in server.logs()
        assert server.log_records() == []
    finally:
        assert server.stop() == 0
    assert "stopped" in server.logs()
