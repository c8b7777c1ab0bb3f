"""Whether a caller may learn that a key is absent: S3 answers a GET or HEAD of a missing key
``404 NoSuchKey`` only to a caller that may also list the bucket (``s3:ListBucket``), and
``403 AccessDenied`` to any other, so that a caller allowed to read by name (an anonymous
reader of a public bucket, another org's principal named by a policy, a role with
``objects:get`` alone) cannot probe which keys exist or existed.

Decided by the same :func:`~lightningstor_api.access.authorize.verdict` as every request
(IAM, bucket policy, public access block), without its own audit line: the request's line is
the read's, denied, with this reason.
"""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.access.authorize import verdict
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.versions import resolve_read
from lightningstor_api.iam.audit import record
from lightningstor_types.actions import Action
from lightningstor_types.errors import AccessDenied, NoSuchKey
from lightningstor_types.resources import bucket_resource, object_resource
from lightningstor_types.service import RequestContext


async def resolve_visible(
    cc: CoreContext, ctx: RequestContext, ref: BucketRef, key: str, version_id: str
) -> records_pb2.ObjectRecord:
    """:func:`resolve_read`, with NoSuchKey only for a caller who may list the bucket."""
    try:
        return await resolve_read(cc, ref.scope, ref.name, key, version_id)
    except NoSuchKey:
        listing = bucket_resource(ref.scope, ref.name)
        access = await cc.bucket_access(ref.scope, ref.name)
        may_list = await verdict(cc.authorizer, ctx, Action.OBJECTS_LIST, listing, access, None)
        if may_list.allowed:
            raise
    reason = "key absent, and the caller may not list the bucket: AccessDenied, as S3"
    record(ctx, Action.OBJECTS_GET, object_resource(ref.scope, ref.name, key), False, reason)
    raise AccessDenied()
