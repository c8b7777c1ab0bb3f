"""The metadata key schema (docs/architecture.md §5), in one place.

Every key starts with the configured root (``lightningstor/`` by default). Object keys are
separated from version ids and upload ids by a NUL byte, which object keys may not contain,
so ``a`` and ``a/v/x`` never collide and a key's versions are one contiguous range.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor_types.naming import NO_PROJECT
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

    def all_objects_prefix(self) -> bytes:
        return self.root + b"objects/"

    # ---- every version ----
    def versions_prefix(self, scope: Scope, bucket: str) -> bytes:
        return self.root + b"versions/" + _scope_segment(scope) + b"/" + bucket.encode() + b"/"

    def key_versions_prefix(self, scope: Scope, bucket: str, key: str) -> bytes:
        return self.versions_prefix(scope, bucket) + key.encode() + SEP

    def version(self, scope: Scope, bucket: str, key: str, sort_id: str) -> bytes:
        return self.key_versions_prefix(scope, bucket, key) + sort_id.encode()

    def all_versions_prefix(self) -> bytes:
        return self.root + b"versions/"

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
        """A base usage record: a bucket's stored bytes/objects, or (no bucket) the scope's
        request counters."""
        tail = b"/" + bucket.encode() if bucket else b""
        return self.root + b"usage/" + _scope_segment(scope) + tail

    def usage_prefix(self) -> bytes:
        return self.root + b"usage/"

    def org_usage_prefix(self, org_id: str) -> bytes:
        """Every usage record and delta of an org (all its projects and buckets)."""
        return self.usage_prefix() + org_id.encode() + b"/"

    def usage_delta(self, base: bytes, delta_id: str) -> bytes:
        """A pending change of ``base``: ``{base}/+{id}`` (bucket names never start with
        ``+``, so a project's deltas and its buckets' records never collide)."""
        return base + USAGE_DELTA + delta_id.encode()

    def parse_usage(self, key: bytes) -> UsageKey | None:
        """What a key under ``usage/`` is (None for a key of no known shape)."""
        parts = key[len(self.usage_prefix()) :].decode().split("/")
        delta = parts[-1].startswith("+")
        if delta:
            parts.pop()
        if len(parts) not in (2, 3):
            return None
        project = None if parts[1] == NO_PROJECT else parts[1]
        bucket = parts[2] if len(parts) == 3 else None
        base = key.rpartition(USAGE_DELTA)[0] if delta else key
        return UsageKey(parts[0], project, bucket, base, delta)

    # ---- background work shared by a cluster ----
    def lease(self, name: str) -> bytes:
        """Who holds the lease ``name`` (one server of a cluster does that work)."""
        return self.root + b"leases/" + name.encode()

    def lifecycle_progress(self) -> bytes:
        """Where the lifecycle worker is in its pass over the buckets."""
        return self.root + b"lifecycle/progress"

    # ---- tenants at runtime (the embedded IAM's records) ----
    def iam_prefix(self) -> bytes:
        """Every runtime role, group and binding: one watched range."""
        return self.root + b"iam/"

    def iam_roles_prefix(self) -> bytes:
        return self.iam_prefix() + b"roles/"

    def iam_role(self, name: str) -> bytes:
        return self.iam_roles_prefix() + name.encode()

    def iam_groups_prefix(self) -> bytes:
        return self.iam_prefix() + b"groups/"

    def iam_group(self, org: str, name: str) -> bytes:
        return self.iam_groups_prefix() + org.encode() + b"/" + name.encode()

    def iam_bindings_prefix(self) -> bytes:
        return self.iam_prefix() + b"bindings/"

    def iam_binding(self, org: str, binding_id: str) -> bytes:
        return self.iam_bindings_prefix() + org.encode() + b"/" + binding_id.encode()

    # ---- org-wide settings ----
    def orgs_prefix(self) -> bytes:
        """Every org-wide record: one watched range."""
        return self.root + b"orgs/"

    def org_public_access_block(self, org: str) -> bytes:
        return self.orgs_prefix() + org.encode() + b"/public-access-block"

    # ---- quotas ----
    def quota(self, scope: Scope, bucket: str | None = None) -> bytes:
        """A quota: ``{org}/_`` is the org as a whole, ``{org}/{project}`` a project, and with
        a bucket that bucket of the scope."""
        tail = b"/" + bucket.encode() if bucket else b""
        return self.root + b"quotas/" + _scope_segment(scope) + tail

    def bucket_of_upload(self, upload_key: bytes) -> tuple[Scope, str]:
        """The scope and bucket an upload key lives in."""
        rest = upload_key[len(self.all_uploads_prefix()) :]
        org, project, bucket = rest.split(b"/", 3)[:3]
        proj = project.decode()
        return Scope(org.decode(), None if proj == NO_PROJECT else proj), bucket.decode()


USAGE_DELTA = b"/+"


@dataclass(frozen=True, slots=True)
class UsageKey:
    """A parsed key under ``usage/``."""

    org_id: str
    project_id: str | None
    bucket: str | None
    base: bytes
    """The base record this key is (or, for a delta, folds into)."""
    is_delta: bool


def split_versioned(key: bytes, prefix: bytes) -> tuple[str, str]:
    """Split ``prefix + key + NUL + id`` into (key, id)."""
    name, _, ident = key[len(prefix) :].rpartition(SEP)
    return name.decode(), ident.decode()
