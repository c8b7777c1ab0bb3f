"""Where a command's arguments point: an object path (``BUCKET/KEY``, ``s3://BUCKET/KEY``)
or a local file, and the names a transfer gives what it writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

S3_SCHEME = "s3://"


class UsageError(Exception):
    """A command line that names nothing sensible; printed as ``lightningstor: …``, exit 2."""


@dataclass(frozen=True, slots=True)
class ObjectPath:
    """``bucket`` and ``key`` (``key`` may be empty or a prefix)."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"

    def child(self, name: str) -> ObjectPath:
        """The key ``name`` under this path as a prefix (``a/`` + ``b`` = ``a/b``)."""
        base = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return ObjectPath(self.bucket, base + name)


def is_remote(text: str) -> bool:
    """``s3://…``: an object path; anything else names a local file in ``cp``/``mv``/``sync``."""
    return text[: len(S3_SCHEME)].lower() == S3_SCHEME


def object_path(text: str, *, need_key: bool = False) -> ObjectPath:
    """``BUCKET[/KEY]`` or ``s3://BUCKET[/KEY]``."""
    rest = text[len(S3_SCHEME) :] if is_remote(text) else text
    bucket, _, key = rest.partition("/")
    if not bucket or (need_key and not key):
        raise UsageError(
            f"expected {'BUCKET/KEY' if need_key else 'BUCKET[/PREFIX]'}, got {text!r}"
        )
    return ObjectPath(bucket, key)


def key_for_upload(target: ObjectPath, source: Path) -> ObjectPath:
    """``put FILE bucket/`` or ``bucket/dir/``: the key is the prefix plus the file's name."""
    if target.key and not target.key.endswith("/"):
        return target
    return ObjectPath(target.bucket, target.key + source.name)


def file_for_download(key: str, target: str) -> Path:
    """``get KEY DIR/`` or an existing directory: the file is the key's last name inside it."""
    path = Path(target)
    if target.endswith(("/", os.sep)) or path.is_dir():
        name = PurePosixPath(key).name
        if not name:
            raise UsageError(f"key {key!r} has no file name to save as in {target!r}")
        return path / name
    return path


def relative_key(key: str, prefix: str) -> PurePosixPath | None:
    """The part of ``key`` below ``prefix``, if it is a plain relative file name (no ``..``,
    not absolute, not a "directory" key): a key cannot write outside the target directory."""
    rel = PurePosixPath(key[len(prefix) :].lstrip("/"))
    if key.endswith("/") or not rel.parts or any(p in ("..", ".") for p in rel.parts):
        return None
    return rel


def directory_prefix(path: ObjectPath) -> str:
    """The prefix a recursive transfer reads: ``photos`` means ``photos/`` (not ``photos2/``)."""
    return path.key if not path.key or path.key.endswith("/") else path.key + "/"
