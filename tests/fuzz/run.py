"""One fuzz run over both APIs: in-process ASGI for most S3 inputs, a real server process for a
share of them over sockets and for the gRPC inputs.

``python -m tests.fuzz --inputs 1000000`` (``make fuzz``) is the long mode; the suite runs a
short one (``tests/fuzz/test_fuzz.py``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_api.core import Core
from lightningstor_client import LightningStorClient
from lightningstor_s3.app import create_app
from lightningstor_s3.gateway import StaticCredentials
from lightningstor_types.config import Settings
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext, ResolvedCredential
from tests.fuzz.drive import Tally, TracebackCounter, log_tracebacks, run_asgi, run_grpc, run_socket
from tests.fuzz.inputs import CONF_BUCKET, LOCK_BUCKET, LOCKED, S3Fuzzer
from tests.integration.server import running_server

BUCKET = "fuzz"
OBJECTS = {"empty": b"", "small": b"0123456789", "big": bytes(range(256)) * 400, "a/b/c": b"abc"}
UPLOAD_KEY = "upload"


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _in_process(
    workdir: Path, seed: int, count: int, tally: Tally, deadline: float = math.inf
) -> None:
    settings = Settings(server={"data_dir": workdir / "inproc"}, logging={"access_log": False})
    principal = Principal("fuzzer", "fuzz", None)
    key_id, secret = "LSFUZZ" + secrets.token_hex(7).upper(), secrets.token_urlsafe(30)
    credentials = StaticCredentials({key_id: ResolvedCredential(key_id, secret, principal)})
    core = await Core.open(settings)
    try:
        ctx = RequestContext(principal=principal, request_id="fuzz-setup")
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=BUCKET))
        for key, data in OBJECTS.items():
            header = object_pb2.PutObjectHeader(bucket=BUCKET, key=key, content_length=len(data))
            header.headers.CopyFrom(common_pb2.ContentHeaders(content_type="text/plain"))
            await core.put_object(ctx, header, _body(data))
        # the buckets whose configuration the fuzzer changes, one with Object Lock
        await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=CONF_BUCKET))
        await core.create_bucket(
            ctx, bucket_pb2.CreateBucketRequest(name=LOCK_BUCKET, object_lock_enabled=True)
        )
        for bucket, key in ((CONF_BUCKET, "obj"), (LOCK_BUCKET, LOCKED)):
            header = object_pb2.PutObjectHeader(bucket=bucket, key=key, content_length=1)
            await core.put_object(ctx, header, _body(b"x"))
        upload = await core.create_multipart_upload(
            ctx, object_pb2.CreateMultipartUploadRequest(bucket=BUCKET, key=UPLOAD_KEY)
        )
        app = create_app(core, credentials, settings)
        fuzzer = S3Fuzzer(
            seed, host="127.0.0.1:9000", key_id=key_id, secret=secret, bucket=BUCKET,
            objects=list(OBJECTS), upload=(UPLOAD_KEY, upload.upload_id),
            owner="arn:aws:iam::fuzz:user/fuzzer",
        )  # fmt: skip
        await run_asgi(app, fuzzer, count, tally, deadline)
    finally:
        await core.close()


ROUNDS = 4


def _share(count: int, turn: int) -> int:
    """The inputs of one of ROUNDS turns (the first takes the remainder)."""
    return count // ROUNDS + (count % ROUNDS if turn == 0 else 0)


def _over_the_wire(
    workdir: Path,
    seed: int,
    s3_count: int,
    grpc_count: int,
    tally: Tally,
    deadline: float = math.inf,
) -> None:
    # Every connection to the S3 listener starts with a PROXY header (fuzzed in run_socket), as
    # from a balancer on loopback.
    proxy = {
        "LIGHTNINGSTOR_SERVER__PROXY_PROTOCOL": "true",
        "LIGHTNINGSTOR_SERVER__TRUSTED_PROXIES": '["127.0.0.1/32"]',
    }
    with running_server(workdir / "server", args=["--log-level", "warning"], env=proxy) as server:
        keys = server.admin_keys()
        with LightningStorClient(server.grpc_addr, **keys) as client:
            client.create_bucket(BUCKET)
            for key, data in OBJECTS.items():
                client.put_object(BUCKET, key, data, content_type="text/plain")
            client.create_bucket(CONF_BUCKET)
            client.create_bucket(LOCK_BUCKET, object_lock_enabled=True)
            client.put_object(CONF_BUCKET, "obj", b"x")
            client.put_object(LOCK_BUCKET, LOCKED, b"x")
            upload = client.create_multipart_upload(BUCKET, UPLOAD_KEY)
            fuzzer = S3Fuzzer(
                seed + 1, host=server.ports["s3"], key_id=keys["access_key"],
                secret=keys["secret_key"], bucket=BUCKET, objects=list(OBJECTS),
                upload=(UPLOAD_KEY, upload.upload_id),
                owner=client.get_bucket_acl(CONF_BUCKET).owner_id,
            )  # fmt: skip
            # in turns, so that S3 reads what gRPC wrote (dates and rules only gRPC can carry)
            for turn in range(ROUNDS):
                run_socket(server.ports["s3"], fuzzer, _share(s3_count, turn), tally, deadline)
                run_grpc(client, BUCKET, list(OBJECTS), seed + 2 + 1000 * turn,
                         _share(grpc_count, turn), tally, deadline)  # fmt: skip
        lines = log_tracebacks(server.log_path)
        tally.tracebacks += len(lines)
        for line in lines[:5]:
            tally.fail(f"server log: {line}")


def fuzz(
    workdir: Path, *, seed: int, asgi: int, socket: int, grpc: int, seconds: float = math.inf
) -> tuple[Tally, Tally]:
    """Run the three shares; the in-process tally and the over-the-wire tally. With a time
    budget, the in-process share stops at 85% of it and the rest at its end."""
    start = time.monotonic()
    inproc, wire = Tally(), Tally()
    counter = TracebackCounter()
    root = logging.getLogger()
    root.addHandler(counter)
    try:
        asyncio.run(_in_process(workdir, seed, asgi, inproc, start + seconds * 0.85))
    finally:
        root.removeHandler(counter)
    inproc.tracebacks += counter.count
    for line in counter.first:
        inproc.fail(f"logged: {line}")
    _over_the_wire(workdir, seed, socket, grpc, wire, start + seconds)
    return inproc, wire
