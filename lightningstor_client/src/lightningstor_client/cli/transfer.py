"""cp, mv and sync: between local files and object paths, one file or a whole tree.

A transfer is planned first (every source and where it goes), then run file after file with
one progress bar for the whole. Uploads are resumable (``upload_file`` records each multipart
upload beside its file); ``sync`` skips what already arrived, so re-running it after an
interruption continues where it stopped.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lightningstor_client.cli.paths import (
    ObjectPath,
    UsageError,
    directory_prefix,
    file_for_download,
    is_remote,
    key_for_upload,
    object_path,
    relative_key,
)
from lightningstor_client.cli.progress import Tally

if TYPE_CHECKING:
    from lightningstor_client._sync import LightningStorClient

# Files the client itself leaves beside the files it moves: never transferred.
_OWN_SUFFIXES = (".lsupload", ".lsdownload")
_DELETE_BATCH = 1000

RESUME_TREE = (
    "interrupted: run the same command again to resume (large uploads continue from the parts "
    "already sent); `lightningstor sync` with the same arguments skips the files already done"
)


@dataclass(frozen=True, slots=True)
class Job:
    """One file's transfer: ``up`` (local to object), ``down`` or ``copy`` (object to object)."""

    kind: Literal["up", "down", "copy"]
    size: int
    local: Path | None = None
    source: ObjectPath | None = None
    target: ObjectPath | None = None


def _local_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Every regular file under ``root`` with its ``/``-separated relative name, sorted."""
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory, name)
            if name.endswith(_OWN_SUFFIXES) or not path.is_file():
                continue
            yield path, path.relative_to(root).as_posix()


def _plan(client: LightningStorClient, src: str, dst: str, recursive: bool) -> list[Job]:
    up, down = not is_remote(src), not is_remote(dst)
    if up and down:
        raise UsageError("cp/mv/sync need an s3://BUCKET/KEY on at least one side")
    if up:
        local, target = Path(src), object_path(dst)
        if not recursive:
            if local.is_dir():
                raise UsageError(f"{src} is a directory (add -r, or use sync)")
            return [
                Job("up", local.stat().st_size, local=local, target=key_for_upload(target, local))
            ]
        if not local.is_dir():
            raise UsageError(f"{src} is not a directory")
        prefix = directory_prefix(target)
        return [
            Job(
                "up",
                path.stat().st_size,
                local=path,
                target=ObjectPath(target.bucket, prefix + rel),
            )
            for path, rel in _local_files(local)
        ]
    source = object_path(src)
    if not recursive:
        if not source.key:
            raise UsageError(f"{src} names a bucket (add -r to copy what it holds)")
        size = client.head_object(source.bucket, source.key).size
        if down:
            return [Job("down", size, local=file_for_download(source.key, dst), source=source)]
        target = object_path(dst)
        if not target.key or target.key.endswith("/"):
            target = target.child(source.key.rsplit("/", 1)[-1])
        return [Job("copy", size, source=source, target=target)]
    prefix = directory_prefix(source)
    jobs: list[Job] = []
    for info in client.iter_objects(source.bucket, prefix=prefix):
        rel = relative_key(info.key, prefix)
        if rel is None:  # "dir/" markers, "..": nothing a file tree can hold
            continue
        here = ObjectPath(source.bucket, info.key)
        if down:
            jobs.append(Job("down", info.size, local=Path(dst, *rel.parts), source=here))
        else:
            there = ObjectPath(object_path(dst).bucket, directory_prefix(object_path(dst)))
            jobs.append(Job("copy", info.size, source=here, target=there.child(rel.as_posix())))
    return jobs


def _remote_index(
    client: LightningStorClient, where: ObjectPath
) -> dict[str, tuple[int, datetime, str]]:
    return {
        info.key: (info.size, info.last_modified, info.etag)
        for info in client.iter_objects(where.bucket, prefix=directory_prefix(where))
    }


def _is_current(
    job: Job, client: LightningStorClient, index: dict[str, tuple[int, datetime, str]]
) -> bool:
    """``sync``: the target already holds this file (same size, and not older than it)."""
    if job.kind == "up":
        assert job.local is not None and job.target is not None
        have = index.get(job.target.key)
        mtime = datetime.fromtimestamp(job.local.stat().st_mtime, UTC)
        return have is not None and have[0] == job.size and have[1] >= mtime
    if job.kind == "down":
        assert job.local is not None and job.source is not None
        try:
            st = job.local.stat()
        except OSError:
            return False
        last = index[job.source.key][1]
        return st.st_size == job.size and datetime.fromtimestamp(st.st_mtime, UTC) >= last
    assert job.source is not None and job.target is not None
    have = index.get(job.target.key)
    return have is not None and have[0] == job.size and have[2] == _source_etag(client, job)


def _source_etag(client: LightningStorClient, job: Job) -> str:
    assert job.source is not None
    return client.head_object(job.source.bucket, job.source.key).etag


def _run(client: LightningStorClient, jobs: list[Job], label: str, move: bool) -> None:
    tally = Tally(label, sum(j.size for j in jobs))
    for job in jobs:
        if job.kind == "up":
            assert job.local is not None and job.target is not None
            client.upload_file(
                job.local, job.target.bucket, job.target.key, progress=tally.for_file()
            )
            print(f"upload: {job.local} to {job.target}")
            if move:
                job.local.unlink()
        elif job.kind == "down":
            assert job.local is not None and job.source is not None
            job.local.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(
                job.source.bucket, job.source.key, job.local, progress=tally.for_file()
            )
            print(f"download: {job.source} to {job.local}")
        else:
            assert job.source is not None and job.target is not None
            client.copy_object(
                job.target.bucket,
                job.target.key,
                source_bucket=job.source.bucket,
                source_key=job.source.key,
            )
            print(f"copy: {job.source} to {job.target}")
        if move and job.source is not None:
            client.delete_object(job.source.bucket, job.source.key)
        tally.file_done(job.size)


def cmd_cp(client: LightningStorClient, args: argparse.Namespace) -> None:
    args.resume_hint = RESUME_TREE
    jobs = _plan(client, args.source, args.target, args.recursive)
    _run(client, jobs, "cp", move=False)


def cmd_mv(client: LightningStorClient, args: argparse.Namespace) -> None:
    args.resume_hint = RESUME_TREE
    jobs = _plan(client, args.source, args.target, args.recursive)
    _run(client, jobs, "mv", move=True)


def cmd_sync(client: LightningStorClient, args: argparse.Namespace) -> None:
    args.resume_hint = RESUME_TREE
    jobs = _plan(client, args.source, args.target, recursive=True)
    if is_remote(args.target):
        index = _remote_index(client, object_path(args.target))
    else:
        index = _remote_index(client, object_path(args.source))
    todo = [job for job in jobs if not _is_current(job, client, index)]
    _run(client, todo, "sync", move=False)
    if not todo:
        print("sync: nothing to do")


def remove_prefix(client: LightningStorClient, where: ObjectPath) -> None:
    """``rm -r``: every object under the prefix, in batches."""
    keys = [info.key for info in client.iter_objects(where.bucket, prefix=directory_prefix(where))]
    for start in range(0, len(keys), _DELETE_BATCH):
        batch = keys[start : start + _DELETE_BATCH]
        result = client.delete_objects(where.bucket, batch)
        for gone in result.deleted:
            print(f"delete: s3://{where.bucket}/{gone.key}")
        for failed in result.errors:
            print(f"error: {failed.code}: s3://{where.bucket}/{failed.key}: {failed.message}")
