"""``lightningstor``: buckets and objects from the shell.

    lightningstor [--endpoint [grpc[s]://|http[s]://]HOST:PORT] [--ca-file F]
                  [--cert-file F --key-file F] COMMAND ...

    mb BUCKET | rb BUCKET | ls [BUCKET[/PREFIX]] [-r]
    put FILE BUCKET/[KEY] | get BUCKET/KEY FILE|DIR/ | rm BUCKET/KEY [-r] | head | stat
    cp [-r] SRC DST | mv [-r] SRC DST | sync SRC DST    (object paths written s3://BUCKET/KEY)
    presign BUCKET/KEY | versions BUCKET[/PREFIX] | uploads ls|abort
    admin GROUP ...   (operator commands: see admin_cli)

An object path may be written ``BUCKET/KEY`` or ``s3://BUCKET/KEY`` everywhere; in cp, mv and
sync the ``s3://`` form is what tells an object from a local file. ``-`` as FILE is standard
input or output. Failures print ``error: <Code>: <message>`` on stderr and exit 1 (2 for a
command line that names nothing sensible, 130 after Ctrl-C, which says how to resume); a
command may also choose its exit code (``admin check``: 1 when inconsistent).

Nothing heavy is imported before the arguments are parsed: ``--help`` and a mistyped command
answer at once, and a command loads the gRPC client only when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lightningstor_client.admin_cli import add_admin_parser
from lightningstor_client.cli import objects, transfer
from lightningstor_client.cli.paths import UsageError
from lightningstor_client.cli.progress import PROGRESS_MIN_BYTES, ProgressBar

if TYPE_CHECKING:
    from lightningstor_client._sync import LightningStorClient

__all__ = ["PROGRESS_MIN_BYTES", "ProgressBar", "add_tls_arguments", "build_parser", "main"]

DEFAULT_ENDPOINT = "127.0.0.1:9001"  # the same as lightningstor_client._connection's
ENDPOINT_ENV = "LIGHTNINGSTOR_ENDPOINT"
TOKEN_ENV = "LIGHTNINGSTOR_TOKEN"  # noqa: S105 - a variable's name
ACCESS_KEY_ENV = "LIGHTNINGSTOR_ACCESS_KEY_ID"
SECRET_KEY_ENV = "LIGHTNINGSTOR_SECRET_ACCESS_KEY"  # noqa: S105 - a variable's name
CA_FILE_ENV = "LIGHTNINGSTOR_CA_FILE"
CERT_FILE_ENV = "LIGHTNINGSTOR_CERT_FILE"
KEY_FILE_ENV = "LIGHTNINGSTOR_KEY_FILE"


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """--ca-file, --cert-file, --key-file (defaults from the environment)."""
    for flag, env, what in (
        ("--ca-file", CA_FILE_ENV, "CA bundle (PEM) that signed the server's certificate "
         "(default: the system trust store); turns TLS on"),
        ("--cert-file", CERT_FILE_ENV, "client certificate (PEM) for mutual TLS"),
        ("--key-file", KEY_FILE_ENV, "private key (PEM) of --cert-file"),
    ):  # fmt: skip
        parser.add_argument(flag, default=os.environ.get(env) or None, help=f"{what} (${env})")


def _add_object_commands(sub: Any) -> None:
    def add(name: str, func: Callable[..., object], help_text: str) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(func=func)
        return cmd

    def version(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--version-id", help="a version other than the current one")

    add("mb", objects.cmd_mb, "make a bucket").add_argument("bucket", metavar="BUCKET")
    add("rb", objects.cmd_rb, "remove an empty bucket").add_argument("bucket", metavar="BUCKET")
    ls = add("ls", objects.cmd_ls, "list buckets, or the objects of BUCKET[/PREFIX]")
    ls.add_argument("path", nargs="?", metavar="BUCKET[/PREFIX]")
    ls.add_argument("-r", "--recursive", action="store_true", help="no grouping by '/'")
    put = add("put", objects.cmd_put, "upload a file ('-': standard input); resumable")
    put.add_argument("file", metavar="FILE")
    put.add_argument(
        "target", metavar="BUCKET/[KEY]", help="a KEY ending in '/' (or none): the file's name"
    )
    get = add("get", objects.cmd_get, "download an object ('-': standard output)")
    get.add_argument("source", metavar="BUCKET/KEY")
    get.add_argument("file", metavar="FILE|DIR/", help="a directory: the key's name inside it")
    version(get)
    rm = add("rm", objects.cmd_rm, "delete an object, or (-r) every object under a prefix")
    rm.add_argument("target", metavar="BUCKET/KEY")
    rm.add_argument("-r", "--recursive", action="store_true", help="everything under the prefix")
    version(rm)
    head = add("head", objects.cmd_head, "describe an object (JSON, ISO 8601 times)")
    head.add_argument("target", metavar="BUCKET/KEY")
    version(head)
    stat = add("stat", objects.cmd_stat, "describe an object (one field a line)")
    stat.add_argument("target", metavar="BUCKET/KEY")
    version(stat)
    for name, func, text in (
        ("cp", transfer.cmd_cp, "copy files to objects, objects to files, or objects"),
        ("mv", transfer.cmd_mv, "like cp, then delete each source once it arrived"),
    ):
        cmd = add(name, func, text)
        cmd.add_argument("source", metavar="SRC", help="a local path or s3://BUCKET/KEY")
        cmd.add_argument("target", metavar="DST", help="a local path or s3://BUCKET/KEY")
        cmd.add_argument("-r", "--recursive", action="store_true", help="a directory or prefix")
    sync = add(
        "sync",
        transfer.cmd_sync,
        "copy what is missing or changed (size, or an older copy) from SRC to DST",
    )
    sync.add_argument("source", metavar="SRC", help="a local directory or s3://BUCKET/PREFIX")
    sync.add_argument("target", metavar="DST", help="a local directory or s3://BUCKET/PREFIX")
    presign = add("presign", objects.cmd_presign, "print a presigned S3 URL (SigV4)")
    presign.add_argument("target", metavar="BUCKET/KEY")
    presign.add_argument(
        "--expires",
        type=int,
        help=(
            "validity in seconds, at most 604800 (default: s3.presign_default_expiry_seconds "
            f"of $LIGHTNINGSTOR_CONFIG's file, else {objects.DEFAULT_PRESIGN_EXPIRES})"
        ),
    )
    presign.add_argument("--method", default="GET", choices=("GET", "PUT", "HEAD", "DELETE"))
    presign.add_argument(
        "--s3-endpoint",
        default=os.environ.get(objects.PRESIGN_ENDPOINT_ENV, objects.DEFAULT_S3_ENDPOINT),
        help=f"the S3 facade's URL (${objects.PRESIGN_ENDPOINT_ENV}; "
        f"default {objects.DEFAULT_S3_ENDPOINT})",
    )
    presign.add_argument("--region", default="us-east-1")
    presign.set_defaults(offline=True)
    explain = add(
        "explain",
        objects.cmd_explain,
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
    explain.add_argument(
        "--scope", dest="explain_scope", help="ORG[/PROJECT] of the bucket (default: your own)"
    )
    explain.add_argument("--json", action="store_true", help="the answer as JSON")
    versions = add("versions", objects.cmd_versions, "list every version of BUCKET[/PREFIX]")
    versions.add_argument("path", metavar="BUCKET[/PREFIX]")
    uploads = sub.add_parser("uploads", help="unfinished multipart uploads")
    group = uploads.add_subparsers(dest="uploads_command", required=True, metavar="COMMAND")
    uploads_ls = group.add_parser("ls", help="list the unfinished uploads of BUCKET[/PREFIX]")
    uploads_ls.add_argument("path", metavar="BUCKET[/PREFIX]")
    uploads_ls.set_defaults(func=objects.cmd_uploads_ls)
    abort = group.add_parser("abort", help="abort an upload (its parts are deleted)")
    abort.add_argument("target", metavar="BUCKET/KEY")
    abort.add_argument("upload_id", metavar="UPLOAD_ID")
    abort.set_defaults(func=objects.cmd_uploads_abort)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lightningstor",
        description=(
            "LightningStor client. Credentials: $LIGHTNINGSTOR_TOKEN (a bearer token), or "
            "$LIGHTNINGSTOR_ACCESS_KEY_ID and $LIGHTNINGSTOR_SECRET_ACCESS_KEY. Object paths: "
            "BUCKET/KEY or s3://BUCKET/KEY (cp, mv and sync need the s3:// form)."
        ),
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get(ENDPOINT_ENV, DEFAULT_ENDPOINT),
        help=(
            "server gRPC address: HOST:PORT, grpc:// or http://HOST:PORT (plaintext), "
            f"grpcs:// or https://HOST:PORT (TLS) (default: ${ENDPOINT_ENV} or "
            f"{DEFAULT_ENDPOINT})"
        ),
    )
    parser.add_argument(
        "--scope",
        metavar="ORG[/PROJECT]",
        help="the org or project bucket commands act in (default: the credential's own)",
    )
    add_tls_arguments(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_object_commands(sub)
    add_admin_parser(sub)
    return parser


def _quiet_exit(code: int) -> None:
    """Exit without Python's own noise at shutdown: a closed pipe, the client's threads."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


def _open_client(args: argparse.Namespace) -> LightningStorClient:
    from lightningstor_client._sync import LightningStorClient  # loaded only to run a command

    return LightningStorClient(
        args.endpoint,
        token=os.environ.get(TOKEN_ENV) or None,
        access_key=os.environ.get(ACCESS_KEY_ENV) or None,
        secret_key=os.environ.get(SECRET_KEY_ENV) or None,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        scope=objects.scope_arg(args.scope),
    )


def _run(args: argparse.Namespace) -> object:
    func: Callable[[Any, argparse.Namespace], object] = args.func
    if getattr(args, "offline", False):
        return func(None, args)
    client = _open_client(args)
    try:
        return func(client, args)
    except BrokenPipeError:
        # The reader has gone and main() ends the process quietly; closing a stream cut
        # mid-call only makes asyncio report the call's pending tasks on stderr.
        logging.disable(logging.CRITICAL)
        raise
    finally:
        client.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    code: object = None
    try:
        code = _run(args)
    except KeyboardInterrupt:
        # The transfer's cleanup runs on the client's thread; what it logs while being torn
        # down is no news to someone who pressed Ctrl-C.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        logging.disable(logging.CRITICAL)
        hint = getattr(args, "resume_hint", None) or "interrupted"
        print(f"\n{hint}", file=sys.stderr)
        _quiet_exit(130)
    except BrokenPipeError:
        # `lightningstor ls bucket | head`: the reader has gone, which is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        _quiet_exit(141)
    except UsageError as err:
        print(f"lightningstor: {err}", file=sys.stderr)
        sys.exit(2)
    except Exception as err:
        _fail(err)
    if isinstance(code, int) and code:
        sys.exit(code)


def _fail(err: Exception) -> None:
    from lightningstor_types.errors import LightningStorError  # loaded with the client anyway

    if isinstance(err, LightningStorError):
        print(f"error: {err.code}: {err.message}", file=sys.stderr)
        sys.exit(1)
    if isinstance(err, OSError):
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    if isinstance(err, ValueError):  # an endpoint, TLS option or argument that cannot work
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    raise err


if __name__ == "__main__":
    main()
