"""Bucket operations: create, head, delete, list; versioning and tagging (BucketService)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, common_pb2
from lightningstor_api.access.acl.apply import new_bucket
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import bucket_info, decode_token, encode_token, sorted_tags
from lightningstor_api.core.ids import new_bucket_id
from lightningstor_api.core.versions import MAX_ATTEMPTS, backoff, now_timestamp
from lightningstor_api.metadata import Compare, Put
from lightningstor_types.actions import Action
from lightningstor_types.errors import (
    AccessDenied,
    BucketAlreadyOwnedByYou,
    IllegalLocationConstraintException,
    InvalidArgument,
    InvalidBucketState,
    InvalidLocationConstraint,
    NoSuchBucket,
    NoSuchTagSet,
    SlowDown,
    TooManyBuckets,
)
from lightningstor_types.naming import validate_bucket_name, validate_tags
from lightningstor_types.scope import Scope, principal_arn
from lightningstor_types.service import RequestContext

DEFAULT_MAX_BUCKETS = 1000
_REGION = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")  # as config.S3Settings.region


async def locate(
    cc: CoreContext,
    ctx: RequestContext,
    scope: common_pb2.Scope,
    name: str,
    action: Action,
    key: str | None = None,
    *,
    version: str | None = None,
) -> BucketRef:
    """Authorize ``action`` and look the bucket up: the first step of every bucket-bound call
    (see :meth:`CoreContext.locate` for the shadowing rule and ``version``)."""
    return await cc.locate(ctx, scope, name, action, key, version=version)


# ---- create, head, delete, list ----


async def create_bucket(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.CreateBucketRequest
) -> bucket_pb2.CreateBucketResponse:
    scope = cc.scope_of(ctx, req.scope)
    await cc.authorize(ctx, Action.BUCKETS_CREATE, scope, req.name)
    validate_bucket_name(req.name)
    region = cc.settings.s3.region
    if req.region and req.region != region:
        # S3: a malformed constraint is invalid; a well-formed one for elsewhere is illegal here.
        error = (
            IllegalLocationConstraintException
            if _REGION.fullmatch(req.region)
            else InvalidLocationConstraint
        )
        raise error(
            f"The {req.region!r} location constraint is incompatible with this server's region "
            f"{region!r}",
            LocationConstraint=req.region,
        )
    tags = [(t.key, t.value) for t in req.tags]
    validate_tags(tags, object_tags=False)
    owner = principal_arn(ctx.principal)
    ownership, acl = new_bucket(req, owner, cc.authorizer)
    rec = records_pb2.BucketRecord(
        name=req.name,
        org_id=scope.org_id,
        project_id=scope.project_id or "",
        bucket_id=new_bucket_id(),
        region=region,
        versioning=bucket_pb2.VERSIONING_STATUS_UNVERSIONED,
        tags=req.tags,
        owner_id=owner,
        acl=acl,
        object_ownership=ownership,
    )
    if req.object_lock_enabled:  # Object Lock needs versioning, and keeps it on for ever
        rec.versioning = bucket_pb2.VERSIONING_STATUS_ENABLED
        rec.object_lock.enabled = True
    rec.created_at.CopyFrom(now_timestamp())
    limit = cc.settings.limits.max_buckets_per_scope
    if len((await cc.store.range(cc.keys.buckets_prefix(scope), limit=limit)).kvs) >= limit:
        raise TooManyBuckets(f"A scope may hold at most {limit} buckets")
    if cc.quotas is not None:
        await cc.quotas.check_new_bucket(scope)
    key = cc.keys.bucket(scope, req.name)
    result = await cc.write_bucket(key, [Compare.absent(key)], [Put(key, rec.SerializeToString())])
    if not result.succeeded:
        # Names are unique per scope (docs/architecture.md §3): whoever holds it, this scope
        # owns it.
        raise BucketAlreadyOwnedByYou(BucketName=req.name)
    return bucket_pb2.CreateBucketResponse(bucket=bucket_info(rec))


async def head_bucket(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.HeadBucketRequest
) -> bucket_pb2.HeadBucketResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_GET)
    return bucket_pb2.HeadBucketResponse(bucket=bucket_info(ref.record))


async def list_buckets(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.ListBucketsRequest
) -> bucket_pb2.ListBucketsResponse:
    """Buckets of one scope by name. With no scope given, a caller in a project sees its
    project's buckets and its org's, a project bucket shadowing an org bucket of its name."""
    scope = cc.scope_of(ctx, req.scope)
    await cc.authorize(ctx, Action.BUCKETS_LIST, scope)
    scopes = [scope]
    if not req.scope.org_id and scope.project_id:
        org = Scope(scope.org_id, None)
        try:
            await cc.authorize(ctx, Action.BUCKETS_LIST, org)
            scopes.append(org)
        except AccessDenied:
            pass  # the org's own buckets are not this caller's to see
    if req.max_buckets < 0:
        raise InvalidArgument("max-buckets must be positive", ArgumentName="max-buckets")
    limit = min(req.max_buckets or DEFAULT_MAX_BUCKETS, DEFAULT_MAX_BUCKETS)
    after = decode_token(req.continuation_token)
    found: dict[str, records_pb2.BucketRecord] = {}
    for s in scopes:  # project first, so that its names win
        prefix = cc.keys.buckets_prefix(s)
        start = prefix + (after or req.prefix).encode() + (b"\x00" if after else b"")
        page = await cc.store.range(prefix + req.prefix.encode(), start=start, limit=limit + 1)
        for kv in page.kvs:
            rec = records_pb2.BucketRecord.FromString(kv.value)
            found.setdefault(rec.name, rec)
    names = sorted(found, key=str.encode)
    resp = bucket_pb2.ListBucketsResponse(
        buckets=[bucket_info(found[n]) for n in names[:limit]],
        owner=common_pb2.Owner(
            id=principal_arn(ctx.principal), display_name=ctx.principal.principal_id
        ),
    )
    if len(names) > limit:
        resp.next_continuation_token = encode_token(names[limit - 1])
    return resp


# ---- versioning and tagging: read-modify-write of the bucket record ----


async def get_bucket_versioning(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketVersioningRequest
) -> bucket_pb2.GetBucketVersioningResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_VERSIONING_READ)
    return bucket_pb2.GetBucketVersioningResponse(status=ref.record.versioning)


async def put_bucket_versioning(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutBucketVersioningRequest
) -> bucket_pb2.PutBucketVersioningResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_VERSIONING_WRITE)
    if req.status not in (
        bucket_pb2.VERSIONING_STATUS_ENABLED,
        bucket_pb2.VERSIONING_STATUS_SUSPENDED,
    ):
        raise InvalidArgument(
            "Versioning can only be Enabled or Suspended", ArgumentName="VersioningConfiguration"
        )

    def change(rec: records_pb2.BucketRecord) -> None:
        if rec.object_lock.enabled and req.status != bucket_pb2.VERSIONING_STATUS_ENABLED:
            raise InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning "
                "state cannot be changed.",
                BucketName=req.name,
            )
        rec.versioning = req.status

    await update_bucket(cc, ref, change)
    return bucket_pb2.PutBucketVersioningResponse()


async def get_bucket_tagging(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketTaggingRequest
) -> bucket_pb2.GetBucketTaggingResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_TAGGING_READ)
    if not ref.record.tags:
        raise NoSuchTagSet(BucketName=req.name)
    return bucket_pb2.GetBucketTaggingResponse(tags=sorted_tags(ref.record.tags))


async def put_bucket_tagging(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutBucketTaggingRequest
) -> bucket_pb2.PutBucketTaggingResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_TAGGING_WRITE)
    validate_tags([(t.key, t.value) for t in req.tags], object_tags=False)
    await update_bucket(cc, ref, lambda rec: _set_tags(rec, req.tags))
    return bucket_pb2.PutBucketTaggingResponse()


async def delete_bucket_tagging(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.DeleteBucketTaggingRequest
) -> bucket_pb2.DeleteBucketTaggingResponse:
    ref = await locate(cc, ctx, req.scope, req.name, Action.BUCKETS_TAGGING_WRITE)
    await update_bucket(cc, ref, lambda rec: _set_tags(rec, []))
    return bucket_pb2.DeleteBucketTaggingResponse()


def _set_tags(rec: records_pb2.BucketRecord, tags: Iterable[common_pb2.Tag]) -> None:
    del rec.tags[:]
    rec.tags.extend(tags)


async def update_bucket(
    cc: CoreContext, ref: BucketRef, change: Callable[[records_pb2.BucketRecord], None]
) -> None:
    """Rewrite the bucket record, retrying when it changed under us."""
    for attempt in range(MAX_ATTEMPTS):
        rec = records_pb2.BucketRecord()
        rec.CopyFrom(ref.record)
        change(rec)
        key = cc.keys.bucket(ref.scope, ref.name)
        compares = [Compare.mod_revision(key, ref.kv.mod_revision)]
        if (await cc.write_bucket(key, compares, [Put(key, rec.SerializeToString())])).succeeded:
            return
        await backoff(attempt)
        ref = await reload_bucket(cc, ref)
    raise SlowDown("too much contention on this bucket; retry")


async def reload_bucket(cc: CoreContext, ref: BucketRef) -> BucketRef:
    """The bucket as it is now; NoSuchBucket if it was deleted (or re-created) meanwhile."""
    fresh = await cc.bucket(ref.scope, ref.name, fresh=True)
    if fresh.record.bucket_id != ref.record.bucket_id:
        raise NoSuchBucket(BucketName=ref.name)
    return fresh
