"""The bucket-level decision as the core's choke point takes it: ask the IAM, combine with the
bucket's policy (:func:`~lightningstor_api.access.decision.decide`), write the audit line."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.access.acl.grants import OBJECT_PERMISSIONS
from lightningstor_api.access.decision import BucketAccess, Verdict, decide
from lightningstor_api.access.facts import request_facts
from lightningstor_api.authz import Authorizer, Decision
from lightningstor_api.iam.audit import DecidingAuthorizer, can_decide, record
from lightningstor_types import condition_keys as k
from lightningstor_types.actions import Action
from lightningstor_types.errors import AccessDenied, LightningStorError
from lightningstor_types.service import RequestContext


async def iam_decision(
    authorizer: Authorizer, ctx: RequestContext, action: Action, resource: str
) -> Decision:
    """What the IAM alone says (an AccessDenied of a plain authorizer is its "no")."""
    if can_decide(authorizer):
        return await cast(DecidingAuthorizer, authorizer).decide(ctx, action, resource)
    try:
        await authorizer.authorize(ctx, action, resource)
    except AccessDenied as exc:
        return Decision(False, exc.message)
    return Decision(True, type(authorizer).__name__)


ObjectReader = Callable[[], Awaitable[records_pb2.ObjectRecord | None]]
"""Reads the object version a request addresses (None: there is none)."""


def _existing_tags(rec: records_pb2.ObjectRecord | None) -> dict[str, tuple[str, ...]]:
    if rec is None:
        return {}
    return {k.EXISTING_OBJECT_TAG + t.key.lower(): (t.value,) for t in rec.tags}


def _once(read: ObjectReader) -> ObjectReader:
    """``read``, reading at most once (tags and ACL come from the same record)."""
    memo: list[records_pb2.ObjectRecord | None] = []

    async def once() -> records_pb2.ObjectRecord | None:
        if not memo:
            memo.append(await read())
        return memo[0]

    return once


async def verdict(
    authorizer: Authorizer,
    ctx: RequestContext,
    action: Action,
    resource: str,
    bucket: BucketAccess | None,
    key: str | None,
    object_reader: ObjectReader | None = None,
) -> Verdict:
    """The decision on ``resource`` (a bucket or an object ``key`` of it), not yet audited.

    The object is read only when the policy tests its tags (``s3:ExistingObjectTag/…``) or
    nothing else allowed an action an object grant can allow: the IAM's or a policy's allow
    costs no extra read."""
    if ctx.anonymous:
        iam = Decision(False, "anonymous caller: the IAM allows nothing")
        caller = None
    else:
        iam = await iam_decision(authorizer, ctx, action, resource)
        caller = ctx.principal
    # Only policy statements read the facts: a bucket with ACLs alone skips building them.
    needs_facts = bucket is not None and bucket.policy is not None
    facts = request_facts(ctx, anonymous=ctx.anonymous) if needs_facts else {}
    read = _once(object_reader) if object_reader is not None and key is not None else None
    policy = bucket.policy if bucket is not None else None
    if read is not None and policy is not None and policy.reads_existing_tags:
        facts = {**facts, **_existing_tags(await read())}
    answer = decide(iam, bucket, caller, action, key, facts)
    if (
        answer.allowed
        or read is None
        or bucket is None
        or not bucket.acls
        or action not in OBJECT_PERMISSIONS
    ):
        return answer
    rec = await read()
    if rec is None or not rec.HasField("acl"):
        return answer
    acl = rec.acl
    return decide(iam, bucket, caller, action, key, facts, acl)


async def authorize_bucket(
    authorizer: Authorizer,
    ctx: RequestContext,
    action: Action,
    resource: str,
    bucket: BucketAccess | None,
    key: str | None,
    object_reader: ObjectReader | None = None,
) -> None:
    """Raise AccessDenied unless :func:`verdict` allows; audited with its reason."""
    try:
        answer = await verdict(authorizer, ctx, action, resource, bucket, key, object_reader)
    except LightningStorError as exc:
        record(ctx, action, resource, False, f"{exc.code}: {exc.message}")
        raise
    record(ctx, action, resource, answer.allowed, answer.reason)
    if not answer.allowed:
        raise AccessDenied()
