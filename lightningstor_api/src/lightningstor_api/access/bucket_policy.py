"""A bucket's policy: Get/Put/Delete/GetBucketPolicyStatus, and the parsed policy decisions use.

The document lives in the bucket record (``BucketRecord.policy``), checked with
:func:`parse_policy` when put and kept as put (GetBucketPolicy answers it verbatim). Decisions
read it through the bucket cache and parse each distinct document once (:func:`cached_policy`).
The public access block in force (the bucket's ORed with its org's,
``CoreContext.public_access_block``) refuses putting a public policy, and a restricted public
policy is not public in the status (it lets no one outside the org in).
"""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2
from lightningstor_api.access.policy import cached_policy
from lightningstor_api.core.buckets import update_bucket
from lightningstor_api.core.context import CoreContext
from lightningstor_types.actions import Action
from lightningstor_types.errors import AccessDenied, MalformedPolicy, NoSuchBucketPolicy
from lightningstor_types.service import RequestContext


async def get_bucket_policy(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyRequest
) -> bucket_pb2.GetBucketPolicyResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_POLICY_READ)
    if not ref.record.policy:
        raise NoSuchBucketPolicy(BucketName=req.name)
    return bucket_pb2.GetBucketPolicyResponse(policy=ref.record.policy)


async def put_bucket_policy(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.PutBucketPolicyRequest
) -> bucket_pb2.PutBucketPolicyResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_POLICY_WRITE)
    if not req.policy.strip():
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    policy = cached_policy(req.policy, ref.name)  # MalformedPolicy before anything changes
    if policy.public and (await cc.public_access_block(ref)).block_public_policy:
        raise AccessDenied("The public access block (bucket or org) refuses a public policy")

    def change(rec: records_pb2.BucketRecord) -> None:
        rec.policy = req.policy

    await update_bucket(cc, ref, change)
    return bucket_pb2.PutBucketPolicyResponse()


async def delete_bucket_policy(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.DeleteBucketPolicyRequest
) -> bucket_pb2.DeleteBucketPolicyResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_POLICY_WRITE)
    if ref.record.policy:  # S3 answers 204 either way
        await update_bucket(cc, ref, lambda rec: rec.ClearField("policy"))
    return bucket_pb2.DeleteBucketPolicyResponse()


async def get_bucket_policy_status(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyStatusRequest
) -> bucket_pb2.GetBucketPolicyStatusResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_POLICY_READ)
    if not ref.record.policy:
        raise NoSuchBucketPolicy(BucketName=req.name)
    public = cached_policy(ref.record.policy, ref.name).public
    # A restricted public policy lets no one outside the bucket's org in: not public (AWS).
    restricted = (await cc.public_access_block(ref)).restrict_public_buckets
    return bucket_pb2.GetBucketPolicyStatusResponse(is_public=public and not restricted)
