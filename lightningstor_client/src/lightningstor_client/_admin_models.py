"""What the operator calls return: frozen dataclasses built from the ``AdminService`` messages.

Scalar fields carry the message's names; :func:`_scalars` copies them, so a field added to both
sides needs no code here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from google.protobuf.message import Message

from lightningstor.v1 import admin_pb2 as pb
from lightningstor_client._models import to_datetime

FindingKind = Literal["missing", "corrupt", "under_replicated", "unknown", "orphan", "current_copy"]

_KINDS: dict[int, FindingKind] = {
    pb.FINDING_KIND_MISSING: "missing",
    pb.FINDING_KIND_CORRUPT: "corrupt",
    pb.FINDING_KIND_UNDER_REPLICATED: "under_replicated",
    pb.FINDING_KIND_UNKNOWN: "unknown",
    pb.FINDING_KIND_ORPHAN: "orphan",
    pb.FINDING_KIND_CURRENT_COPY: "current_copy",
}


def _scalars(cls: type[Any], msg: Message, **given: Any) -> dict[str, Any]:
    """``given``, plus every other field of dataclass ``cls`` read from ``msg`` by name."""
    return given | {f.name: getattr(msg, f.name) for f in fields(cls) if f.name not in given}


def _time(msg: Message, name: str) -> datetime | None:
    return to_datetime(getattr(msg, name)) if msg.HasField(name) else None


@dataclass(frozen=True, slots=True)
class GcRunResult:
    """One collection: journal entries finished, what they freed, uploads aborted."""

    finished_at: datetime | None
    entries: int
    references_released: int
    chunks_deleted: int
    bytes_freed: int
    uploads_aborted: int
    error: str
    temp_files_removed: int

    @classmethod
    def from_pb(cls, msg: pb.GcRunResult) -> GcRunResult:
        return cls(**_scalars(cls, msg, finished_at=_time(msg, "finished_at")))


@dataclass(frozen=True, slots=True)
class GcStatus:
    """The GC journal's backlog and the last run of the server that answered."""

    journal_entries: int
    oldest_entry_age_seconds: float
    last_run: GcRunResult | None
    interval_seconds: float
    grace_seconds: float

    @classmethod
    def from_pb(cls, msg: pb.GetGcStatusResponse) -> GcStatus:
        last = GcRunResult.from_pb(msg.last_run) if msg.HasField("last_run") else None
        return cls(**_scalars(cls, msg, last_run=last))


@dataclass(frozen=True, slots=True)
class StorageNodeStatus:
    """One storage node as the answering server sees it (its info asked just now)."""

    address: str
    zone: str
    up: bool
    draining: bool
    last_error: str
    node_id: str
    capacity_bytes: int
    free_bytes: int
    chunk_count: int

    @classmethod
    def from_pb(cls, msg: pb.StorageNodeStatus) -> StorageNodeStatus:
        return cls(**_scalars(cls, msg))


@dataclass(frozen=True, slots=True)
class RepairStatus:
    """Scrub and re-replication progress of the answering server since it started."""

    passes: int
    running: bool
    pass_checked: int
    last_pass_chunks: int
    last_pass_seconds: float
    backlog: int
    chunks_checked: int
    bytes_verified: int
    replicas_missing: int
    replicas_corrupt: int
    replicas_restored: int
    replicas_trimmed: int
    chunks_lost: int
    heals: int
    errors: int
    scrub_rate_bytes_per_second: int

    @classmethod
    def from_pb(cls, msg: pb.RepairStatus) -> RepairStatus:
        return cls(**_scalars(cls, msg))


@dataclass(frozen=True, slots=True)
class StorageStatus:
    """The chunk backend: its kind and, when replicated, its nodes and repair."""

    backend: str
    durable: bool
    verifies_checksums: bool
    replication_factor: int
    write_quorum: int
    nodes: tuple[StorageNodeStatus, ...]
    repair: RepairStatus | None

    @classmethod
    def from_pb(cls, msg: pb.GetStorageStatusResponse) -> StorageStatus:
        return cls(
            **_scalars(
                cls,
                msg,
                nodes=tuple(StorageNodeStatus.from_pb(n) for n in msg.nodes),
                repair=RepairStatus.from_pb(msg.repair) if msg.HasField("repair") else None,
            )
        )


@dataclass(frozen=True, slots=True)
class ConsistencyFinding:
    """A chunk that is not as it should be, or an object's current copy that disagrees with
    its newest version (see ``FindingKind``), and what repair did to it."""

    kind: FindingKind
    chunk_id: str
    data_id: str
    size: int
    mtime: datetime | None
    action: str
    detail: str
    object_path: str

    @classmethod
    def from_pb(cls, msg: pb.ConsistencyFinding) -> ConsistencyFinding:
        kind = _KINDS.get(msg.kind, "unknown")
        return cls(**_scalars(cls, msg, kind=kind, mtime=_time(msg, "mtime")))


@dataclass(frozen=True, slots=True)
class ConsistencySummary:
    """Every count of a consistency check (the last item it yields)."""

    repair: bool
    grace_seconds: float
    started_at: datetime | None
    finished_at: datetime | None
    data_records: int
    referenced_chunks: int
    referenced_bytes: int
    journal_chunks: int
    missing: int
    corrupt: int
    under_replicated: int
    unknown: int
    stored_chunks: int
    orphans: int
    orphan_bytes: int
    unreferenced_in_grace: int
    orphans_deleted: int
    replicas_restored: int
    findings_omitted: int
    consistent: bool
    remaining: int
    object_keys: int
    current_copy_mismatches: int
    current_copies_repaired: int
    temp_files: int
    temp_bytes: int
    temp_files_deleted: int

    @classmethod
    def from_pb(cls, msg: pb.ConsistencySummary) -> ConsistencySummary:
        return cls(
            **_scalars(
                cls,
                msg,
                started_at=_time(msg, "started_at"),
                finished_at=_time(msg, "finished_at"),
            )
        )


@dataclass(frozen=True, slots=True)
class RewrapProgress:
    """Counts of a rewrap of data keys so far: after each bucket (``bucket`` names it), then
    the totals (``done``). Chunk counts are of references (a data record's and each
    manifest's)."""

    bucket: str
    done: bool
    to_key: str
    buckets: int
    records: int
    records_updated: int
    chunks_rewrapped: int
    chunks_unchanged: int
    chunks_customer: int
    chunks_failed: int

    @classmethod
    def from_pb(cls, msg: pb.RewrapKeysResponse) -> RewrapProgress:
        return cls(**_scalars(cls, msg))
