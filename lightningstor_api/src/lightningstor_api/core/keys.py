"""The metadata key schema (DESIGN.md §5), in one place.

Every key starts with the configured root (``lightningstor/`` by default). Object keys are
separated from version ids and upload ids by a NUL byte, which object keys may not contain,
so ``a`` and ``a/v/x`` never collide and a key's versions are one contiguous range.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor_types.scope import Scope

SEP = b"\x00"


def _scope_segment(scope: Scope) -> bytes:
    return f"{scope.org_id}/{scope.project_id or '_'}".encode()


@dataclass(frozen=True, slots=True)
class KeySchema:
    """Builds metadata keys under a root prefix."""

    root: bytes = b"lightningstor/"

    # ---- buckets ----
    def buckets_prefix(self, scope: Scope) -> bytes:
        return self.root + b"buckets/" + _scope_segment(scope) + b"/"

    def bucket(self, scope: Scope, bucket: str) -> bytes:
        return self.buckets_prefix(scope) + bucket.encode()

    def all_buckets_prefix(self) -> bytes:
        return self.root + b"buckets/"

    # ---- current object versions ----
    def objects_prefix(self, scope: Scope, bucket: str) -> bytes:
        return self.root + b"objects/" + _scope_segment(scope) + b"/" + bucket.encode() + b"/"

    def object(self, scope: Scope, bucket: str, key: str) -> bytes:
        return self.objects_prefix(scope, bucket) + key.encode()

    # ---- every version ----
    def versions_prefix(self, scope: Scope, bucket: str) -> bytes:
        return self.root + b"versions/" + _scope_segment(scope) + b"/" + bucket.encode() + b"/"

    def key_versions_prefix(self, scope: Scope, bucket: str, key: str) -> bytes:
        return self.versions_prefix(scope, bucket) + key.encode() + SEP

    def version(self, scope: Scope, bucket: str, key: str, sort_id: str) -> bytes:
        return self.key_versions_prefix(scope, bucket, key) + sort_id.encode()

    # ---- multipart ----
    def uploads_prefix(self, scope: Scope, bucket: str) -> bytes:
        return self.root + b"uploads/" + _scope_segment(scope) + b"/" + bucket.encode() + b"/"

    def upload(self, scope: Scope, bucket: str, key: str, upload_id: str) -> bytes:
        return self.uploads_prefix(scope, bucket) + key.encode() + SEP + upload_id.encode()

    def all_uploads_prefix(self) -> bytes:
        return self.root + b"uploads/"

    def parts_prefix(self, upload_id: str) -> bytes:
        return self.root + b"parts/" + upload_id.encode() + b"/"

    def part(self, upload_id: str, part_number: int) -> bytes:
        return self.parts_prefix(upload_id) + f"{part_number:05d}".encode()

    # ---- content ----
    def data(self, data_id: str) -> bytes:
        return self.root + b"data/" + data_id.encode()

    def data_prefix(self) -> bytes:
        return self.root + b"data/"

    def gc_prefix(self) -> bytes:
        return self.root + b"gc/"

    def gc_entry(self, entry_id: str) -> bytes:
        return self.gc_prefix() + entry_id.encode()

    # ---- identity and accounting ----
    def credential(self, access_key_id: str) -> bytes:
        return self.root + b"credentials/" + access_key_id.encode()

    def credentials_prefix(self) -> bytes:
        return self.root + b"credentials/"

    def usage(self, scope: Scope, bucket: str | None = None) -> bytes:
        tail = b"/" + bucket.encode() if bucket else b""
        return self.root + b"usage/" + _scope_segment(scope) + tail


def split_versioned(key: bytes, prefix: bytes) -> tuple[str, str]:
    """Split ``prefix + key + NUL + id`` into (key, id)."""
    name, _, ident = key[len(prefix) :].rpartition(SEP)
    return name.decode(), ident.decode()
