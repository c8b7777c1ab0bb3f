"""``lightningstor-bench``: run one workload against an S3 or gRPC endpoint and report it.

    lightningstor-bench --api s3 --endpoint 127.0.0.1:9000 \\
        --credentials-file data/admin-credentials.json --op get --size 4096 --concurrency 32

prints a human summary and one ``RESULT key=value ...`` line (see :meth:`RunResult.fields`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from lightningstor_client.bench.s3 import S3Client, S3Driver
from lightningstor_client.bench.workloads import OPS, Driver, RunConfig, RunResult, run
from lightningstor_client.sigv4 import Signer

__all__ = ["main", "parse_size"]

_UNITS = {"": 1, "k": 1024, "kib": 1024, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30}


def parse_size(text: str) -> int:
    """``4096``, ``4KiB``, ``64MiB``, ``1g`` → bytes (binary units)."""
    t = text.strip().lower()
    digits = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(digits) :]
    if unit not in _UNITS or not digits:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    return int(digits) * _UNITS[unit]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lightningstor-bench", description=__doc__.split("\n")[0])
    p.add_argument("--api", choices=("s3", "grpc"), default="s3")
    p.add_argument("--endpoint", default=None, help="host:port (default 127.0.0.1:9000 / :9001)")
    p.add_argument("--access-key", default=os.environ.get("AWS_ACCESS_KEY_ID", ""))
    p.add_argument("--secret-key", default=os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    p.add_argument("--credentials-file", type=Path, help="admin-credentials.json of a server")
    p.add_argument("--token", default=None, help="gRPC: a bearer token instead of an access key")
    p.add_argument("--ca-file", default=None, help="gRPC: CA of the server's certificate (TLS)")
    p.add_argument("--cert-file", default=None, help="gRPC: client certificate (mutual TLS)")
    p.add_argument("--key-file", default=None, help="gRPC: private key of --cert-file")
    p.add_argument("--region", default="us-east-1")
    p.add_argument(
        "--unsigned-payload",
        action="store_true",
        help="send x-amz-content-sha256: UNSIGNED-PAYLOAD instead of the body's SHA-256",
    )
    p.add_argument("--bucket", default="bench")
    p.add_argument("--op", choices=OPS, default="get")
    p.add_argument("--size", type=parse_size, default=4096)
    p.add_argument("--objects", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--page-size", type=int, default=1000)
    p.add_argument("--channels", type=int, default=4,
                   help="gRPC: connections the sessions take turns on (a server with several "
                        "processes hands each connection to one of them)")  # fmt: skip
    p.add_argument("--server-pid", type=int, action="append", default=[],
                   help="a server process (its descendants count too); repeatable")  # fmt: skip
    p.add_argument("--label", default="", help="added to the RESULT line as label=")
    p.add_argument(
        "--honor-retry-after",
        action="store_true",
        help="S3: a worker refused with Retry-After (a rate limit) waits that long",
    )
    p.add_argument("--no-prepare", action="store_true", help="skip bucket creation and population")
    p.add_argument("--sse", choices=("AES256",), default=None,
                   help="S3: PUTs ask for x-amz-server-side-encryption")  # fmt: skip
    return p


def _driver(args: argparse.Namespace) -> Driver:
    body = os.urandom(args.size)
    access, secret = args.access_key, args.secret_key
    if args.credentials_file is not None:
        creds = json.loads(args.credentials_file.read_text())
        access, secret = creds["access_key_id"], creds["secret_access_key"]
    if args.api == "grpc":
        from lightningstor_client.bench.grpc import GrpcDriver

        return GrpcDriver(
            args.endpoint or "127.0.0.1:9001",
            args.bucket,
            body,
            access_key=access or None,
            secret_key=secret or None,
            token=args.token,
            channels=args.channels,
            ca_file=args.ca_file,
            cert_file=args.cert_file,
            key_file=args.key_file,
        )
    if args.ca_file or args.cert_file or args.key_file:
        raise SystemExit("lightningstor-bench: TLS options are for --api grpc only")
    if not access or not secret:
        raise SystemExit(
            "lightningstor-bench: S3 needs --access-key/--secret-key or --credentials-file"
        )
    host, _, port = (args.endpoint or "127.0.0.1:9000").rpartition(":")
    sse = [("x-amz-server-side-encryption", args.sse)] if args.sse else []
    client = S3Client(host, int(port), Signer(access, secret, region=args.region), sse)
    return S3Driver(client, args.bucket, body, unsigned_payload=args.unsigned_payload)


def report(result: RunResult, label: str = "") -> str:
    f = result.fields()
    if label:
        f = {"label": label, **f}
    human = (
        f"{f['api']} {f['op']} size={f['size']} concurrency={f['concurrency']}: "
        f"{f['ops_s']} ops/s, {f['mb_s']} MB/s, p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, "
        f"errors {f['errors']}, server CPU {f['server_cpu_ms_op']} ms/op, "
        f"client CPU {f['client_cpu_ms_op']} ms/op"
    )
    if result.config.op == "list":
        human += f", {f['keys_s']} keys/s"
    return human + "\nRESULT " + " ".join(f"{k}={v}" for k, v in f.items())


async def _main(args: argparse.Namespace) -> RunResult:
    driver = _driver(args)
    cfg = RunConfig(
        op=args.op,
        size=args.size,
        objects=args.objects,
        concurrency=args.concurrency,
        duration=args.duration,
        warmup=args.warmup,
        page_size=args.page_size,
        server_pids=args.server_pid,
        honor_retry_after=args.honor_retry_after,
    )
    try:
        return await run(driver, cfg, prepare=not args.no_prepare)
    finally:
        await driver.close()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional
        result = asyncio.run(_main(args))
    else:
        result = uvloop.run(_main(args))
    print(report(result, args.label), flush=True)
    if result.first_error:
        print(f"first error: {result.first_error}", file=sys.stderr)
