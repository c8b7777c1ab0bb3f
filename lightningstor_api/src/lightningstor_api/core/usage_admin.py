"""UsageService operations: read usage, and read, set or delete quotas (authorized first)."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import usage_pb2
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.usage import Counters, read_usage
from lightningstor_types.actions import Action
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.naming import validate_bucket_name
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext

_RATE_FIELDS = ("requests_per_second", "bytes_in_per_second", "bytes_out_per_second")
_QUOTA_FIELDS = ("max_buckets", "max_bytes", "max_objects", "max_object_size", *_RATE_FIELDS)


def _usage(c: Counters) -> usage_pb2.Usage:
    return usage_pb2.Usage(
        bytes_stored=c.bytes_stored,
        object_count=c.object_count,
        requests=c.requests,
        bytes_in=c.bytes_in,
        bytes_out=c.bytes_out,
        throttled=c.throttled,
    )


_Targeted = (
    usage_pb2.GetUsageRequest
    | usage_pb2.GetQuotaRequest
    | usage_pb2.SetQuotaRequest
    | usage_pb2.DeleteQuotaRequest
)


def _target(cc: CoreContext, ctx: RequestContext, req: _Targeted) -> tuple[Scope, str | None]:
    """The scope (the request's, else the caller's own) and bucket a request names."""
    scope = cc.scope_of(ctx, req.scope if req.HasField("scope") else None)
    if req.bucket:
        validate_bucket_name(req.bucket)
    return scope, req.bucket or None


async def get_usage(
    cc: CoreContext, ctx: RequestContext, req: usage_pb2.GetUsageRequest
) -> usage_pb2.GetUsageResponse:
    scope, bucket = _target(cc, ctx, req)
    await cc.authorize(ctx, Action.USAGE_READ, scope, bucket)
    whole_org = scope.project_id is None and bucket is None
    report = await read_usage(
        cc.store,
        cc.keys,
        scope.org_id,
        project=scope.project_id,
        org_level=not whole_org and scope.project_id is None,
        bucket=bucket,
    )
    resp = usage_pb2.GetUsageResponse(total=_usage(report.total))
    for project, c in sorted(report.projects.items(), key=lambda i: i[0] or ""):
        if not c.is_zero():
            resp.projects.append(usage_pb2.UsageEntry(project_id=project or "", usage=_usage(c)))
    for (project, name), c in sorted(
        report.buckets.items(), key=lambda i: (i[0][0] or "", i[0][1])
    ):
        if not c.is_zero():  # a deleted bucket's record sums to nothing
            resp.buckets.append(
                usage_pb2.UsageEntry(project_id=project or "", bucket=name, usage=_usage(c))
            )
    return resp


def _quota(rec: records_pb2.QuotaRecord) -> usage_pb2.Quota:
    return usage_pb2.Quota(**{f: getattr(rec, f) for f in _QUOTA_FIELDS})


async def get_quota(
    cc: CoreContext, ctx: RequestContext, req: usage_pb2.GetQuotaRequest
) -> usage_pb2.GetQuotaResponse:
    scope, bucket = _target(cc, ctx, req)
    await cc.authorize(ctx, Action.QUOTAS_READ, scope, bucket)
    kv = await cc.store.get(cc.keys.quota(scope, bucket))
    resp = usage_pb2.GetQuotaResponse(is_set=kv is not None)
    if kv is not None:
        stored = records_pb2.QuotaRecord.FromString(kv.value)
        resp.quota.CopyFrom(_quota(stored))
        resp.effective.CopyFrom(_quota(stored))
    elif cc.quotas is not None:
        resp.effective.CopyFrom(_quota(cc.quotas.default(scope, bucket)))
    return resp


async def set_quota(
    cc: CoreContext, ctx: RequestContext, req: usage_pb2.SetQuotaRequest
) -> usage_pb2.SetQuotaResponse:
    scope, bucket = _target(cc, ctx, req)
    # A platform grant, never a tenant's: an org's own admin must not raise its own limits.
    await cc.authorize_platform(ctx, Action.QUOTAS_WRITE)
    for name in _QUOTA_FIELDS:
        if getattr(req.quota, name) < 0:
            raise InvalidArgument(f"{name} must not be negative (0 = unlimited)", ArgumentName=name)
    if bucket and req.quota.max_buckets:
        raise InvalidArgument("max_buckets applies to an org or a project", ArgumentName="bucket")
    for name in _RATE_FIELDS:  # rates limit the callers of a scope, not the users of a bucket
        if bucket and getattr(req.quota, name):
            raise InvalidArgument(f"{name} applies to an org or a project", ArgumentName="bucket")
    rec = records_pb2.QuotaRecord(**{f: getattr(req.quota, f) for f in _QUOTA_FIELDS})
    key = cc.keys.quota(scope, bucket)
    await cc.store.put(key, rec.SerializeToString())
    if cc.quotas is not None:
        cc.quotas.forget(key)
    return usage_pb2.SetQuotaResponse(quota=_quota(rec))


async def delete_quota(
    cc: CoreContext, ctx: RequestContext, req: usage_pb2.DeleteQuotaRequest
) -> usage_pb2.DeleteQuotaResponse:
    scope, bucket = _target(cc, ctx, req)
    await cc.authorize_platform(ctx, Action.QUOTAS_WRITE)
    key = cc.keys.quota(scope, bucket)
    await cc.store.delete(key)
    if cc.quotas is not None:
        cc.quotas.forget(key)
    return usage_pb2.DeleteQuotaResponse()
