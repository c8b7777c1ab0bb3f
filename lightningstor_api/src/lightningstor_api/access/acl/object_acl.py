"""GetObjectAcl and PutObjectAcl (``ObjectRecord.acl`` of one version), and the object ACL the
decision reads when nothing else allowed."""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.access.acl import grants
from lightningstor_api.access.acl.apply import asks, checked
from lightningstor_api.access.acl.ownership import (
    acls_enabled,
    only_owner,
    ownership_of,
    refuse_if_enforced,
)
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.convert import version_id
from lightningstor_api.core.versions import (
    load_current,
    load_version,
    resolve_read,
    rewrite_version,
)
from lightningstor_types.actions import Action
from lightningstor_types.errors import MalformedACLError, MethodNotAllowed, OperationAborted
from lightningstor_types.naming import validate_object_key
from lightningstor_types.scope import Scope
from lightningstor_types.service import RequestContext


def object_acl(
    rec: records_pb2.ObjectRecord, bucket: records_pb2.BucketRecord
) -> common_pb2.AccessControlList:
    """A version's ACL as answered: with ACLs off, the bucket owner's FULL_CONTROL; without
    one, its owner's."""
    if not acls_enabled(bucket):
        return grants.private(bucket.owner_id)
    if rec.HasField("acl"):
        return rec.acl
    return grants.private(rec.owner_id)


async def stored_object(
    cc: CoreContext, scope: Scope, bucket: str, key: str, version: str
) -> records_pb2.ObjectRecord | None:
    """The version a request addresses (the current one without ``version``), for the
    decision (its ACL, its tags); None when there is no such version or it is a delete
    marker."""
    found = (
        await load_version(cc, scope, bucket, key, version)
        if version
        else await load_current(cc, scope, bucket, key)
    )
    if found is None or found.record.is_delete_marker:
        return None
    return found.record


async def get_object_acl(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.GetObjectAclRequest
) -> object_pb2.GetObjectAclResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_ACL_READ, req.key)
    validate_object_key(req.key)
    rec = await resolve_read(cc, ref.scope, ref.name, req.key, req.version_id)
    if rec.is_delete_marker:
        raise MethodNotAllowed(Method="GET", ResourceType="DeleteMarker")
    return object_pb2.GetObjectAclResponse(
        acl=object_acl(rec, ref.record), version_id=version_id(rec, ref.record.versioning)
    )


async def put_object_acl(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.PutObjectAclRequest
) -> object_pb2.PutObjectAclResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_ACL_WRITE, req.key)
    validate_object_key(req.key)
    if not asks(req.acl):
        raise MalformedACLError()
    refuse_if_enforced(ownership_of(ref.record), req.acl)
    current = await resolve_read(cc, ref.scope, ref.name, req.key, req.version_id)
    if current.is_delete_marker:
        raise MethodNotAllowed(Method="PUT", ResourceType="DeleteMarker")
    acl = await checked(cc, ref, req.acl, current.owner_id)

    def change(rec: records_pb2.ObjectRecord) -> None:
        if rec.owner_id != current.owner_id:  # replaced meanwhile: check against its owner
            raise OperationAborted("The object changed during the request; retry")
        if only_owner(acl):
            rec.ClearField("acl")
        else:
            rec.acl.CopyFrom(acl)

    rec = await rewrite_version(cc, ref, req.key, req.version_id, change)
    return object_pb2.PutObjectAclResponse(version_id=version_id(rec, ref.record.versioning))
