"""The everyday commands on one bucket or object: mb, rb, ls, put, get, rm, head, stat,
versions, uploads, presign, explain."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightningstor_client.cli.paths import (
    file_for_download,
    key_for_upload,
    object_path,
)
from lightningstor_client.cli.progress import Tally

if TYPE_CHECKING:
    from lightningstor_client._models import ObjectInfo
    from lightningstor_client._sync import LightningStorClient
    from lightningstor_types.scope import Scope

PRESIGN_ENDPOINT_ENV = "LIGHTNINGSTOR_S3_ENDPOINT"
DEFAULT_S3_ENDPOINT = "http://127.0.0.1:9000"
DEFAULT_PRESIGN_EXPIRES = 3600


def when(value: datetime) -> str:
    """A listing's time: local, to the second (as ``aws s3 ls`` prints it)."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime | None) -> str:
    """A time for a machine or a record: ISO 8601 with its offset."""
    return value.isoformat() if value is not None else "-"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def cmd_mb(client: LightningStorClient, args: argparse.Namespace) -> None:
    bucket = object_path(args.bucket).bucket
    client.create_bucket(bucket)
    print(f"make_bucket: {bucket}")


def cmd_rb(client: LightningStorClient, args: argparse.Namespace) -> None:
    bucket = object_path(args.bucket).bucket
    client.delete_bucket(bucket)
    print(f"remove_bucket: {bucket}")


def cmd_ls(client: LightningStorClient, args: argparse.Namespace) -> None:
    if not args.path:
        for b in client.list_buckets():
            print(f"{when(b.created_at)} {b.name}")
        return
    where = object_path(args.path)
    token: str | None = None
    while True:
        page = client.list_objects(
            where.bucket,
            prefix=where.key,
            delimiter="" if args.recursive else "/",
            continuation_token=token,
        )
        for common in page.common_prefixes:
            print(f"{'PRE':>30} {common}")
        for info in page.objects:
            print(f"{when(info.last_modified)} {info.size:>10} {info.key}")
        if page.next_token is None:
            return
        token = page.next_token


def cmd_put(client: LightningStorClient, args: argparse.Namespace) -> None:
    if args.file == "-":
        target = object_path(args.target, need_key=True)
        result = client.put_object(target.bucket, target.key, sys.stdin.buffer)
    else:
        source = Path(args.file)
        if source.is_dir():
            raise IsADirectoryError(f"{args.file} is a directory (use cp -r or sync)")
        target = key_for_upload(object_path(args.target), source)
        args.resume_hint = RESUME_UPLOAD
        size = source.stat().st_size
        tally = Tally(f"put {target.key}", size)
        result = client.upload_file(source, target.bucket, target.key, progress=tally.for_file())
        tally.file_done(size)
    print(f"upload: {args.file} to {target} etag {result.etag}")


def cmd_get(client: LightningStorClient, args: argparse.Namespace) -> None:
    source = object_path(args.source, need_key=True)
    if args.file == "-":
        with client.get_object(source.bucket, source.key, version_id=args.version_id) as stream:
            for piece in stream:
                sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return
    # Where the bytes go is decided before any arrive: a directory means the key's own name.
    path = file_for_download(source.key, args.file)
    args.resume_hint = RESUME_DOWNLOAD
    path.parent.mkdir(parents=True, exist_ok=True)
    size = client.head_object(source.bucket, source.key, version_id=args.version_id).size
    tally = Tally(f"get {source.key}", size)
    client.download_file(
        source.bucket, source.key, path, version_id=args.version_id, progress=tally.for_file()
    )
    tally.file_done(size)
    print(f"download: {source} to {path}")


def cmd_rm(client: LightningStorClient, args: argparse.Namespace) -> None:
    target = object_path(args.target, need_key=not args.recursive)
    if args.recursive:
        from lightningstor_client.cli.transfer import remove_prefix  # kept off the start

        remove_prefix(client, target)
        return
    client.delete_object(target.bucket, target.key, version_id=args.version_id)
    print(f"delete: {target}")


def _info(client: LightningStorClient, args: argparse.Namespace) -> ObjectInfo:
    target = object_path(args.target, need_key=True)
    return client.head_object(target.bucket, target.key, version_id=args.version_id)


def cmd_head(client: LightningStorClient, args: argparse.Namespace) -> None:
    info = _info(client, args)
    print(json.dumps(dataclasses.asdict(info), default=_json_default, indent=2))


def scope_arg(spelled: str | None) -> Scope | None:
    """``ORG[/PROJECT]`` as a scope (None: the credential's own)."""
    if not spelled:
        return None
    from lightningstor_types.scope import Scope  # loaded only to run a command

    org, _, project = spelled.partition("/")
    return Scope(org, project or None)


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
        scope=scope_arg(args.explain_scope),
    )  # fmt: skip
    if args.json:
        print(json.dumps(dataclasses.asdict(answer), indent=2))
    else:
        print(f"{'ALLOWED' if answer.allowed else 'DENIED'}: {answer.reason}")
        for rule in answer.considered:
            mark = "applies" if rule.applied else "does not apply"
            print(f"  {rule.source:6} {rule.effect:5} {mark:14} {rule.rule}")
    return 0 if answer.allowed else 3


def cmd_stat(client: LightningStorClient, args: argparse.Namespace) -> None:
    info = _info(client, args)
    rows: list[tuple[str, object]] = [
        ("Name", f"s3://{info.bucket}/{info.key}"),
        ("Size", info.size),
        ("ETag", info.etag),
        ("Last modified", iso(info.last_modified)),
        ("Version", info.version_id or "-"),
        ("Content type", info.content_type or "-"),
        ("Redirect", info.website_redirect_location or "-"),
        ("Storage class", info.storage_class or "STANDARD"),
        ("Parts", info.parts_count or "-"),
        ("Tags", info.tag_count),
    ]
    rows += [(f"Metadata {k}", v) for k, v in sorted(info.metadata.items())]
    for label, value in rows:
        print(f"{label + ':':<15} {value}")


def cmd_versions(client: LightningStorClient, args: argparse.Namespace) -> None:
    where = object_path(args.path)
    key_marker = version_marker = ""
    while True:
        page = client.list_object_versions(
            where.bucket,
            prefix=where.key,
            key_marker=key_marker,
            version_id_marker=version_marker,
        )
        for v in page.versions:
            kind = "DELETE" if v.is_delete_marker else f"{v.size:>10}"
            latest = "latest" if v.is_latest else "      "
            print(f"{when(v.last_modified)} {kind:>10} {latest} {v.version_id or 'null'} {v.key}")
        if page.next_key_marker is None:
            return
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker or ""


def cmd_uploads_ls(client: LightningStorClient, args: argparse.Namespace) -> None:
    where = object_path(args.path)
    key_marker: str | None = None
    id_marker: str | None = None
    while True:
        page = client.list_multipart_uploads(
            where.bucket, prefix=where.key, key_marker=key_marker, upload_id_marker=id_marker
        )
        for u in page.uploads:
            started = when(u.initiated) if u.initiated is not None else "-"
            print(f"{started} {u.upload_id} {u.key}")
        if page.next_key_marker is None:
            return
        key_marker, id_marker = page.next_key_marker, page.next_upload_id_marker


def cmd_uploads_abort(client: LightningStorClient, args: argparse.Namespace) -> None:
    target = object_path(args.target, need_key=True)
    client.abort_multipart_upload(target.bucket, target.key, args.upload_id)
    print(f"abort: {args.upload_id} of {target}")


def cmd_presign(_client: None, args: argparse.Namespace) -> None:
    from urllib.parse import urlsplit  # kept off the start

    from lightningstor_client.sigv4 import Signer, uri_path

    target = object_path(args.target, need_key=True)
    access_key = os.environ.get("LIGHTNINGSTOR_ACCESS_KEY_ID")
    secret_key = os.environ.get("LIGHTNINGSTOR_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        raise ValueError(
            "presign signs with an access key: set LIGHTNINGSTOR_ACCESS_KEY_ID and "
            "LIGHTNINGSTOR_SECRET_ACCESS_KEY"
        )
    if args.expires is None:
        args.expires = _configured_expiry()
    if not 1 <= args.expires <= 604800:
        raise ValueError("--expires must be between 1 and 604800 seconds (7 days)")
    endpoint = urlsplit(args.s3_endpoint)
    if endpoint.scheme not in ("http", "https") or not endpoint.netloc:
        raise ValueError(f"--s3-endpoint {args.s3_endpoint!r}: expected http(s)://HOST:PORT")
    signer = Signer(access_key, secret_key, region=args.region)
    path = uri_path(target.bucket, target.key)
    signed = signer.presign(args.method, path, endpoint.netloc, expires=args.expires)
    print(f"{endpoint.scheme}://{endpoint.netloc}{signed}")


def _configured_expiry() -> int:
    """``s3.presign_default_expiry_seconds`` (or the specification's presigned_url_ttl_seconds)
    of the file ``$LIGHTNINGSTOR_CONFIG`` names, else 3600; read without the configuration
    model, which the CLI never loads."""
    import tomllib  # kept off the start

    from lightningstor_types.config_spec import presign_default_expiry

    name = os.environ.get("LIGHTNINGSTOR_CONFIG")
    if not name:
        return DEFAULT_PRESIGN_EXPIRES
    with Path(name).expanduser().open("rb") as f:
        found = presign_default_expiry(tomllib.load(f))
    return DEFAULT_PRESIGN_EXPIRES if found is None else found


RESUME_DOWNLOAD = "interrupted: the partial download was removed; run the same command again"
RESUME_UPLOAD = (
    "interrupted: run the same command again to resume; the parts already sent are kept "
    "(the upload is recorded in FILE.lsupload beside each file)"
)
