"""The Object Lock API operations: a bucket's lock configuration, a version's retention and
legal hold; and :func:`bypass_allowed`, which the delete paths ask."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, objectlock_pb2
from lightningstor_api.core.buckets import update_bucket
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import version_id
from lightningstor_api.core.versions import resolve_read, rewrite_version
from lightningstor_api.objectlock.rules import (
    check_retention_change,
    validate_configuration,
    validate_retention,
)
from lightningstor_types.actions import BYPASS_GOVERNANCE_ACTION, Action
from lightningstor_types.errors import (
    InvalidBucketState,
    InvalidRequest,
    MethodNotAllowed,
    NoSuchObjectLockConfiguration,
    ObjectLockConfigurationNotFoundError,
)
from lightningstor_types.naming import validate_object_key
from lightningstor_types.service import RequestContext

_MISSING = "Bucket is missing Object Lock Configuration"


async def bypass_allowed(
    cc: CoreContext, ctx: RequestContext, ref: BucketRef, key: str, asked: bool
) -> bool:
    """Whether a request that ``asked`` to bypass GOVERNANCE retention may: AccessDenied when
    it asked without the permission (never silently ignored)."""
    if not asked:
        return False
    await cc.authorize(ctx, BYPASS_GOVERNANCE_ACTION, ref.scope, ref.name, key)
    return True


async def get_object_lock_configuration(
    cc: CoreContext, ctx: RequestContext, req: objectlock_pb2.GetObjectLockConfigurationRequest
) -> objectlock_pb2.GetObjectLockConfigurationResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_OBJECT_LOCK_READ)
    if not ref.record.object_lock.enabled:
        raise ObjectLockConfigurationNotFoundError(BucketName=req.name)
    return objectlock_pb2.GetObjectLockConfigurationResponse(configuration=ref.record.object_lock)


async def put_object_lock_configuration(
    cc: CoreContext, ctx: RequestContext, req: objectlock_pb2.PutObjectLockConfigurationRequest
) -> objectlock_pb2.PutObjectLockConfigurationResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_OBJECT_LOCK_WRITE)
    validate_configuration(req.configuration)

    def change(rec: records_pb2.BucketRecord) -> None:
        # Enabling on an existing bucket is not offered: only CreateBucket turns it on.
        if not rec.object_lock.enabled:
            raise InvalidBucketState(
                "Object Lock configuration cannot be enabled on existing buckets",
                BucketName=req.name,
            )
        rec.object_lock.CopyFrom(req.configuration)

    await update_bucket(cc, ref, change)
    return objectlock_pb2.PutObjectLockConfigurationResponse()


async def get_object_retention(
    cc: CoreContext, ctx: RequestContext, req: objectlock_pb2.GetObjectRetentionRequest
) -> objectlock_pb2.GetObjectRetentionResponse:
    ref = await _locked_bucket(cc, ctx, req, Action.OBJECTS_RETENTION_READ)
    rec = await _read(cc, ref, req.key, req.version_id)
    if rec.retention.mode == common_pb2.OBJECT_LOCK_MODE_UNSPECIFIED:
        raise NoSuchObjectLockConfiguration(Key=req.key)
    return objectlock_pb2.GetObjectRetentionResponse(retention=rec.retention)


async def put_object_retention(
    cc: CoreContext, ctx: RequestContext, req: objectlock_pb2.PutObjectRetentionRequest
) -> objectlock_pb2.PutObjectRetentionResponse:
    ref = await _locked_bucket(cc, ctx, req, Action.OBJECTS_RETENTION_WRITE)
    validate_retention(req.retention)
    bypass = await bypass_allowed(cc, ctx, ref, req.key, req.bypass_governance_retention)

    def change(rec: records_pb2.ObjectRecord) -> None:
        check_retention_change(rec, req.retention, bypass=bypass)
        rec.retention.CopyFrom(req.retention)

    rec = await rewrite_version(cc, ref, req.key, req.version_id, change)
    return objectlock_pb2.PutObjectRetentionResponse(
        version_id=version_id(rec, ref.record.versioning)
    )


async def get_object_legal_hold(
    cc: CoreContext, ctx: RequestContext, req: objectlock_pb2.GetObjectLegalHoldRequest
) -> objectlock_pb2.GetObjectLegalHoldResponse:
    ref = await _locked_bucket(cc, ctx, req, Action.OBJECTS_LEGAL_HOLD_READ)
    rec = await _read(cc, ref, req.key, req.version_id)
    return objectlock_pb2.GetObjectLegalHoldResponse(on=rec.legal_hold)


async def put_object_legal_hold(
    cc: CoreContext, ctx: RequestContext, req: objectlock_pb2.PutObjectLegalHoldRequest
) -> objectlock_pb2.PutObjectLegalHoldResponse:
    ref = await _locked_bucket(cc, ctx, req, Action.OBJECTS_LEGAL_HOLD_WRITE)

    def change(rec: records_pb2.ObjectRecord) -> None:
        rec.legal_hold = req.on

    rec = await rewrite_version(cc, ref, req.key, req.version_id, change)
    return objectlock_pb2.PutObjectLegalHoldResponse(
        version_id=version_id(rec, ref.record.versioning)
    )


async def _locked_bucket(
    cc: CoreContext,
    ctx: RequestContext,
    req: objectlock_pb2.GetObjectRetentionRequest
    | objectlock_pb2.PutObjectRetentionRequest
    | objectlock_pb2.GetObjectLegalHoldRequest
    | objectlock_pb2.PutObjectLegalHoldRequest,
    action: Action,
) -> BucketRef:
    ref = await cc.locate(ctx, req.scope, req.bucket, action, req.key)
    validate_object_key(req.key)
    if not ref.record.object_lock.enabled:
        raise InvalidRequest(_MISSING)
    return ref


async def _read(
    cc: CoreContext, ref: BucketRef, key: str, version: str
) -> records_pb2.ObjectRecord:
    rec = await resolve_read(cc, ref.scope, ref.name, key, version)
    if rec.is_delete_marker:
        raise MethodNotAllowed(Method="GET", ResourceType="DeleteMarker")
    return rec
