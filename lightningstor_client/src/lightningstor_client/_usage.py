"""Usage and quota calls of the async client (UsageService), and their result types."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lightningstor.v1 import common_pb2, usage_pb2
from lightningstor_client._connection import Connection


@dataclass(frozen=True, slots=True)
class Usage:
    """Stored bytes (every version, plus parts of uploads in progress), objects (versions with
    data), and requests with their bytes in and out."""

    bytes_stored: int = 0
    object_count: int = 0
    requests: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    throttled: int = 0
    """Requests refused by a rate limit (also counted in ``requests``)."""

    @classmethod
    def from_pb(cls, msg: usage_pb2.Usage) -> Usage:
        return cls(
            msg.bytes_stored,
            msg.object_count,
            msg.requests,
            msg.bytes_in,
            msg.bytes_out,
            msg.throttled,
        )


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Usage of an org, project or bucket, with the breakdown per project and per bucket
    (project ``""``: the org's own)."""

    total: Usage
    projects: dict[str, Usage] = field(default_factory=dict)
    buckets: dict[tuple[str, str], Usage] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "total": asdict(self.total),
            "projects": {p: asdict(u) for p, u in self.projects.items()},
            "buckets": [
                {"project": p, "bucket": b, **asdict(u)} for (p, b), u in self.buckets.items()
            ],
        }


@dataclass(frozen=True, slots=True)
class Quota:
    """Limits; 0 = unlimited. The rates (per server process) apply to an org or a project."""

    max_buckets: int = 0
    max_bytes: int = 0
    max_objects: int = 0
    max_object_size: int = 0
    requests_per_second: int = 0
    bytes_in_per_second: int = 0
    bytes_out_per_second: int = 0

    @classmethod
    def from_pb(cls, msg: usage_pb2.Quota) -> Quota:
        return cls(
            msg.max_buckets,
            msg.max_bytes,
            msg.max_objects,
            msg.max_object_size,
            msg.requests_per_second,
            msg.bytes_in_per_second,
            msg.bytes_out_per_second,
        )

    def to_pb(self) -> usage_pb2.Quota:
        return usage_pb2.Quota(**asdict(self))


@dataclass(frozen=True, slots=True)
class QuotaInfo:
    """The stored quota (None: none stored) and the one enforced (else the default)."""

    quota: Quota | None
    effective: Quota


def _scope(org: str | None, project: str | None) -> common_pb2.Scope | None:
    if org is None:
        return None
    return common_pb2.Scope(org_id=org, project_id=project or "")


class UsageMethods(Connection):
    """``org=None``: the caller's own scope. ``org`` without ``project``: the org as a whole
    (for usage and quotas), or with ``bucket`` an org-level bucket."""

    async def get_usage(
        self, *, org: str | None = None, project: str | None = None, bucket: str | None = None
    ) -> UsageReport:
        """Bytes and objects stored by an org, a project or a bucket (default: the caller's
        scope)."""
        req = usage_pb2.GetUsageRequest(scope=_scope(org, project), bucket=bucket or "")
        resp = await self._unary(self._usage.GetUsage(req, timeout=self._timeout))
        return UsageReport(
            total=Usage.from_pb(resp.total),
            projects={e.project_id: Usage.from_pb(e.usage) for e in resp.projects},
            buckets={(e.project_id, e.bucket): Usage.from_pb(e.usage) for e in resp.buckets},
        )

    async def get_quota(
        self, *, org: str | None = None, project: str | None = None, bucket: str | None = None
    ) -> QuotaInfo:
        """The quota set on an org, project or bucket, and the limits in effect there."""
        req = usage_pb2.GetQuotaRequest(scope=_scope(org, project), bucket=bucket or "")
        resp = await self._unary(self._usage.GetQuota(req, timeout=self._timeout))
        return QuotaInfo(
            Quota.from_pb(resp.quota) if resp.is_set else None, Quota.from_pb(resp.effective)
        )

    async def set_quota(
        self,
        quota: Quota,
        *,
        org: str | None = None,
        project: str | None = None,
        bucket: str | None = None,
    ) -> Quota:
        """Set the quota of an org, project or bucket (the platform admin role); returns it as
        stored."""
        req = usage_pb2.SetQuotaRequest(
            scope=_scope(org, project), bucket=bucket or "", quota=quota.to_pb()
        )
        resp = await self._unary(self._usage.SetQuota(req, timeout=self._timeout))
        return Quota.from_pb(resp.quota)

    async def delete_quota(
        self, *, org: str | None = None, project: str | None = None, bucket: str | None = None
    ) -> None:
        """Remove the quota set on an org, project or bucket (the defaults then apply)."""
        req = usage_pb2.DeleteQuotaRequest(scope=_scope(org, project), bucket=bucket or "")
        await self._unary(self._usage.DeleteQuota(req, timeout=self._timeout))
