"""ExplainAccess: would a principal be allowed an action on a bucket or object, and why.

The answer is the decision a real request would get (:func:`~lightningstor_api.access.authorize.
verdict`, the same function, reading the object's ACL as a request does), with every IAM answer,
policy statement and ACL grant considered.
Asking is authorized as reading the bucket's policy (``lightningstor:buckets:policy:read``), so
a tenant asks about its own buckets and an operator (a binding at every org) about any. An S3
action is decided as the first action of ours :data:`~lightningstor_types.actions.S3_ACTIONS`
maps it to (``s3:ListBucket``: listing the objects). Nothing is audited as a decision: only the
question itself is, as a policy read.
"""

from __future__ import annotations

from lightningstor.v1 import bucket_pb2
from lightningstor_api.access.authorize import verdict
from lightningstor_api.access.decision import BucketAccess
from lightningstor_api.access.facts import source_ip
from lightningstor_api.core.context import CoreContext
from lightningstor_types import condition_keys as k
from lightningstor_types.actions import LEGACY_ACTIONS, S3_ACTIONS, Action
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.resources import bucket_resource, object_resource
from lightningstor_types.scope import ANONYMOUS_ID, Principal
from lightningstor_types.service import RequestContext

_S3_FOLDED = {name.lower(): actions for name, actions in S3_ACTIONS.items()}


def action_named(spelled: str) -> Action:
    """Our action for ``spelled``: one of ours, an earlier name of ours or an S3 action (its
    first action of ours)."""
    try:
        return Action(spelled)
    except ValueError:
        pass
    actions = LEGACY_ACTIONS.get(spelled) or _S3_FOLDED.get(spelled.lower())
    if actions is None:
        raise InvalidArgument(
            f"Unknown action {spelled!r}: name an S3 action (s3:GetObject) or one of ours",
            ArgumentName="action",
            ArgumentValue=spelled,
        )
    return actions[0]


async def explain_access(
    cc: CoreContext, ctx: RequestContext, req: bucket_pb2.ExplainAccessRequest
) -> bucket_pb2.ExplainAccessResponse:
    ref = await cc.locate(ctx, req.scope, req.name, Action.BUCKETS_POLICY_READ)
    action = action_named(req.action)
    key = req.key if req.HasField("key") else None
    if req.anonymous:
        subject = Principal(ANONYMOUS_ID, ref.scope.org_id, ref.scope.project_id)
    else:
        subject = Principal(req.principal_id, req.principal_org, req.principal_project or None)
    context = dict(req.context)
    address = next((v for n, v in context.items() if n.lower() == k.SOURCE_IP), "")
    if address and source_ip(address) is None:
        raise InvalidArgument(f"{k.SOURCE_IP} must be an IP address", ArgumentValue=address)
    asking = RequestContext(
        principal=subject,
        request_id=ctx.request_id,
        api="explain",
        source_address=address,
        attributes=context,
        scope=ref.scope,
        anonymous=req.anonymous,
    )
    resource = (
        bucket_resource(ref.scope, ref.name)
        if key is None
        else object_resource(ref.scope, ref.name, key)
    )
    access = await cc.bucket_access(ref.scope, ref.name) or BucketAccess(ref.scope.org_id)
    reader = None if key is None else cc.object_reader(asking, ref.scope, ref.name, key)
    answer = await verdict(cc.authorizer, asking, action, resource, access, key, reader)
    return bucket_pb2.ExplainAccessResponse(
        allowed=answer.allowed,
        reason=answer.reason,
        actions=[str(action)],
        considered=[
            bucket_pb2.ExplainRule(source=c.source, rule=c.rule, effect=c.effect, applied=c.applied)
            for c in answer.considered
        ],
    )
