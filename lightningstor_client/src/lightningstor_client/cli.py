"""``lightningstor``: buckets and objects from the shell.

    lightningstor [--endpoint [https://]HOST:PORT] [--ca-file F] [--cert-file F --key-file F]
                  mb BUCKET | rb BUCKET | ls [BUCKET[/PREFIX]] [-r]
                  put FILE BUCKET/KEY | get BUCKET/KEY FILE | rm BUCKET/KEY | head BUCKET/KEY
                  admin GROUP ...   (operator commands: see admin_cli)

``-`` as FILE is standard input or output. Failures print ``error: <Code>: <message>`` on stderr
and exit 1; a command may also choose its exit code (``admin check``: 1 when inconsistent).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from lightningstor_client._connection import DEFAULT_ENDPOINT
from lightningstor_client._sync import LightningStorClient
from lightningstor_client.admin_cli import add_admin_parser
from lightningstor_types.errors import LightningStorError
from lightningstor_types.scope import Scope

ENDPOINT_ENV = "LIGHTNINGSTOR_ENDPOINT"
TOKEN_ENV = "LIGHTNINGSTOR_TOKEN"  # noqa: S105 - a variable's name
ACCESS_KEY_ENV = "LIGHTNINGSTOR_ACCESS_KEY_ID"
SECRET_KEY_ENV = "LIGHTNINGSTOR_SECRET_ACCESS_KEY"  # noqa: S105 - a variable's name
CA_FILE_ENV = "LIGHTNINGSTOR_CA_FILE"
CERT_FILE_ENV = "LIGHTNINGSTOR_CERT_FILE"
KEY_FILE_ENV = "LIGHTNINGSTOR_KEY_FILE"
PROGRESS_MIN_BYTES = 4 * 1024 * 1024


class ProgressBar:
    """A one-line progress bar, redrawn at most ten times a second."""

    def __init__(self, label: str, out: TextIO, width: int = 30) -> None:
        self._label, self._out, self._width = label, out, width
        self._start = self._drawn = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._drawn < 0.1 and done < total:
            return
        self._drawn = now
        filled = self._width * done // total if total else self._width
        rate = done / max(now - self._start, 1e-6) / 2**20
        bar = "#" * filled + "." * (self._width - filled)
        self._out.write(
            f"\r{self._label} [{bar}] {done / 2**20:8.1f}/{total / 2**20:.1f} MiB {rate:7.1f} MiB/s"
        )
        if done >= total:
            self._out.write("\n")
        self._out.flush()


def _progress(label: str, size: int) -> Callable[[int, int], None] | None:
    if size < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        return None
    return ProgressBar(label, sys.stderr)


def _split(path: str) -> tuple[str, str]:
    bucket, _, key = path.partition("/")
    if not bucket:
        raise SystemExit(f"lightningstor: expected BUCKET/KEY, got {path!r}")
    return bucket, key


def _need_key(path: str) -> tuple[str, str]:
    bucket, key = _split(path)
    if not key:
        raise SystemExit(f"lightningstor: expected BUCKET/KEY, got {path!r}")
    return bucket, key


def _when(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def cmd_mb(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.create_bucket(args.bucket)
    print(f"make_bucket: {args.bucket}")


def cmd_rb(client: LightningStorClient, args: argparse.Namespace) -> None:
    client.delete_bucket(args.bucket)
    print(f"remove_bucket: {args.bucket}")


def cmd_ls(client: LightningStorClient, args: argparse.Namespace) -> None:
    if not args.path:
        for b in client.list_buckets():
            print(f"{_when(b.created_at)} {b.name}")
        return
    bucket, prefix = _split(args.path)
    token: str | None = None
    while True:
        page = client.list_objects(
            bucket,
            prefix=prefix,
            delimiter="" if args.recursive else "/",
            continuation_token=token,
        )
        for common in page.common_prefixes:
            print(f"{'PRE':>30} {common}")
        for info in page.objects:
            print(f"{_when(info.last_modified)} {info.size:>10} {info.key}")
        if page.next_token is None:
            return
        token = page.next_token


def cmd_put(client: LightningStorClient, args: argparse.Namespace) -> None:
    bucket, key = _need_key(args.target)
    if args.file == "-":
        result = client.put_object(bucket, key, sys.stdin.buffer)
    else:
        size = Path(args.file).stat().st_size
        result = client.upload_file(args.file, bucket, key, progress=_progress(f"put {key}", size))
    print(f"upload: {args.file} to {bucket}/{key} etag {result.etag}")


def cmd_get(client: LightningStorClient, args: argparse.Namespace) -> None:
    bucket, key = _need_key(args.source)
    if args.file == "-":
        with client.get_object(bucket, key) as stream:
            for piece in stream:
                sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return
    size = client.head_object(bucket, key).size
    client.download_file(bucket, key, args.file, progress=_progress(f"get {key}", size))
    print(f"download: {bucket}/{key} to {args.file}")


def cmd_rm(client: LightningStorClient, args: argparse.Namespace) -> None:
    bucket, key = _need_key(args.target)
    client.delete_object(bucket, key)
    print(f"delete: {bucket}/{key}")


def cmd_head(client: LightningStorClient, args: argparse.Namespace) -> None:
    bucket, key = _need_key(args.target)
    info = client.head_object(bucket, key)
    print(json.dumps(dataclasses.asdict(info), default=str, indent=2))


def cmd_explain(client: LightningStorClient, args: argparse.Namespace) -> int:
    """Print the decision and every rule considered; exit 0 when allowed, 3 when denied."""
    bucket, _, key = args.target.partition("/")
    context = {}
    for pair in args.context:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--context {pair!r}: write KEY=VALUE")
        context[name] = value
    principal = None if args.principal == "*" else args.principal
    answer = client.explain_access(
        bucket, args.action, principal=principal, key=key or None, context=context,
        scope=_scope_arg(args.scope),
    )  # fmt: skip
    if args.json:
        print(json.dumps(dataclasses.asdict(answer), indent=2))
    else:
        print(f"{'ALLOWED' if answer.allowed else 'DENIED'}: {answer.reason}")
        for rule in answer.considered:
            mark = "applies" if rule.applied else "does not apply"
            print(f"  {rule.source:6} {rule.effect:5} {mark:14} {rule.rule}")
    return 0 if answer.allowed else 3


def _scope_arg(spelled: str | None) -> Scope | None:
    if not spelled:
        return None
    org, _, project = spelled.partition("/")
    return Scope(org, project or None)


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """--ca-file, --cert-file, --key-file (defaults from the environment)."""
    for flag, env, what in (
        ("--ca-file", CA_FILE_ENV, "CA bundle (PEM) that signed the server's certificate "
         "(default: the system trust store); turns TLS on"),
        ("--cert-file", CERT_FILE_ENV, "client certificate (PEM) for mutual TLS"),
        ("--key-file", KEY_FILE_ENV, "private key (PEM) of --cert-file"),
    ):  # fmt: skip
        parser.add_argument(flag, default=os.environ.get(env) or None, help=f"{what} (${env})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightningstor",
        description=(
            "LightningStor client. Credentials: $LIGHTNINGSTOR_TOKEN (a bearer token), or "
            "$LIGHTNINGSTOR_ACCESS_KEY_ID and $LIGHTNINGSTOR_SECRET_ACCESS_KEY."
        ),
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get(ENDPOINT_ENV, DEFAULT_ENDPOINT),
        help=(
            f"server gRPC address, HOST:PORT or https://HOST:PORT for TLS "
            f"(default: ${ENDPOINT_ENV} or {DEFAULT_ENDPOINT})"
        ),
    )
    parser.add_argument(
        "--scope",
        metavar="ORG[/PROJECT]",
        help="the org or project bucket commands act in (default: the credential's own)",
    )
    add_tls_arguments(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[..., object], help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.set_defaults(func=func)
        return cmd

    add("mb", cmd_mb, "make a bucket").add_argument("bucket")
    add("rb", cmd_rb, "remove an empty bucket").add_argument("bucket")
    ls = add("ls", cmd_ls, "list buckets, or the objects of BUCKET[/PREFIX]")
    ls.add_argument("path", nargs="?", metavar="BUCKET[/PREFIX]")
    ls.add_argument("-r", "--recursive", action="store_true", help="no grouping by '/'")
    put = add("put", cmd_put, "upload a file ('-': standard input)")
    put.add_argument("file", metavar="FILE")
    put.add_argument("target", metavar="BUCKET/KEY")
    get = add("get", cmd_get, "download an object ('-': standard output)")
    get.add_argument("source", metavar="BUCKET/KEY")
    get.add_argument("file", metavar="FILE")
    add("rm", cmd_rm, "delete an object").add_argument("target", metavar="BUCKET/KEY")
    add("head", cmd_head, "describe an object (JSON)").add_argument("target", metavar="BUCKET/KEY")
    explain = add(
        "explain",
        cmd_explain,
        "would PRINCIPAL be allowed ACTION on BUCKET[/KEY], and why (exit 3 when denied)",
    )
    explain.add_argument("target", metavar="BUCKET[/KEY]")
    explain.add_argument(
        "--principal", required=True, help="org/id, org/project/id, or '*' for anonymous"
    )
    explain.add_argument("--action", required=True, help="s3:GetObject, lightningstor:…")
    explain.add_argument(
        "--context", action="append", default=[], metavar="KEY=VALUE",
        help="a condition key of the imagined request (aws:SourceIp=10.0.0.1); repeatable",
    )  # fmt: skip
    explain.add_argument("--scope", help="ORG[/PROJECT] of the bucket (default: your own)")
    explain.add_argument("--json", action="store_true", help="the answer as JSON")
    add_admin_parser(sub)
    return parser


def _scope(spelled: str | None) -> Scope | None:
    if not spelled:
        return None
    org, _, project = spelled.partition("/")
    return Scope(org, project or None)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    func: Callable[[LightningStorClient, argparse.Namespace], Any] = args.func
    code: object = None
    try:
        with LightningStorClient(
            args.endpoint,
            token=os.environ.get(TOKEN_ENV) or None,
            access_key=os.environ.get(ACCESS_KEY_ENV) or None,
            secret_key=os.environ.get(SECRET_KEY_ENV) or None,
            ca_file=args.ca_file,
            cert_file=args.cert_file,
            key_file=args.key_file,
            scope=_scope(args.scope),
        ) as client:
            code = func(client, args)
    except LightningStorError as err:
        print(f"error: {err.code}: {err.message}", file=sys.stderr)
        sys.exit(1)
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    except ValueError as err:  # an endpoint or TLS option that cannot work
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
