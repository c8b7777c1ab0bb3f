"""The one decision: IAM, then the bucket policy (and, later, the ACL), with the reason.

1. An explicit Deny of the bucket policy that applies to the request wins over everything,
   except that a caller whose IAM roles allow a policy action (``lightningstor:buckets:policy:*``)
   on the bucket may always read, replace or delete the policy: a policy that locks everyone
   out can be undone by the org's admin, as AWS lets the account root do.
2. Otherwise the request is allowed if the IAM allows it (which only ever covers the caller's
   own org and project), or
3. if an Allow statement of the bucket policy applies (any caller: another org's principal,
   or anyone when it names ``*``), or
4. if an ACL grant allows it: the bucket's for the bucket's permissions (READ lists, WRITE
   puts and deletes objects, READ_ACP / WRITE_ACP read and replace the ACL), the object's for
   the object's (READ gets, READ_ACP / WRITE_ACP), FULL_CONTROL all of them; none while the
   bucket's Object Ownership is BucketOwnerEnforced; public grants none while the public
   access block's IgnorePublicAcls is on (``acl/``).
5. Otherwise denied.

:class:`Verdict` carries the reason (what the audit line writes) and every rule considered
(what explain answers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lightningstor.v1 import common_pb2
from lightningstor_api.access.acl.grants import (
    BUCKET_PERMISSIONS,
    OBJECT_PERMISSIONS,
    grant_allowing,
)
from lightningstor_api.access.condition import Facts
from lightningstor_api.access.policy import Policy
from lightningstor_api.authz import Decision
from lightningstor_types.actions import Action
from lightningstor_types.scope import Principal

POLICY_ACTIONS = frozenset({Action.BUCKETS_POLICY_READ, Action.BUCKETS_POLICY_WRITE})


@dataclass(frozen=True, slots=True)
class Considered:
    """One rule looked at: where it comes from, what it says, whether it applied."""

    source: str  # "iam" | "policy" | "acl"
    rule: str
    effect: str  # "allow" | "deny" | "none"
    applied: bool


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str
    considered: tuple[Considered, ...]
    ttl_seconds: float = 0.0

    def as_decision(self) -> Decision:
        return Decision(self.allowed, self.reason, self.ttl_seconds)


@dataclass(frozen=True, slots=True)
class BucketAccess:
    """What a bucket says about access beyond the IAM: its policy, its ACL and its public
    access block."""

    owner_org: str
    policy: Policy | None = None
    restrict_public: bool = False
    """``restrict_public_buckets``: while the policy is public, it allows only the owner's org."""
    acls: bool = False
    """Whether ACLs are in effect (Object Ownership is not BucketOwnerEnforced)."""
    acl: common_pb2.AccessControlList | None = None
    """The bucket's own ACL (None: its owner's FULL_CONTROL alone)."""
    ignore_public_acls: bool = False


def acl_opinion(
    bucket: BucketAccess | None,
    object_acl: common_pb2.AccessControlList | None,
    caller: Principal | None,
    action: Action,
    key: str | None,
) -> str | None:
    """The ACL grant that allows the request, if any: the bucket's ACL for the bucket's
    permissions, the object's (``object_acl``) for the object's."""
    if bucket is None or not bucket.acls:
        return None
    ignore = bucket.ignore_public_acls
    permission = BUCKET_PERMISSIONS.get(action)
    if permission is not None and bucket.acl is not None:
        grant = grant_allowing(bucket.acl, caller, permission, ignore_public=ignore)
        if grant is not None:
            return f"bucket ACL grant {grant}"
    permission = OBJECT_PERMISSIONS.get(action)
    if permission is not None and key is not None and object_acl is not None:
        grant = grant_allowing(object_acl, caller, permission, ignore_public=ignore)
        if grant is not None:
            return f"object ACL grant {grant}"
    return None


def decide(
    iam: Decision,
    bucket: BucketAccess | None,
    caller: Principal | None,
    action: Action,
    key: str | None,
    facts: Facts,
    object_acl: common_pb2.AccessControlList | None = None,
) -> Verdict:
    """The decision on ``action`` on the bucket (``key`` None) or its object ``key``, for
    ``caller`` (None: anonymous), given the IAM's own decision and what the bucket says."""
    considered: list[Considered] = [
        Considered("iam", iam.reason, "allow" if iam.allowed else "none", iam.allowed)
    ]
    policy = bucket.policy if bucket is not None else None
    restricted = (
        bucket is not None
        and policy is not None
        and bucket.restrict_public
        and policy.public
        and (caller is None or caller.org_id != bucket.owner_org)
    )
    denies: list[str] = []
    allows: list[str] = []
    for st in policy.statements if policy is not None else ():
        applies = st.applies(caller, action, key, facts)
        if st.allow and restricted:
            considered.append(
                Considered("policy", f"{st.label} (public access restricted)", "allow", False)
            )
            continue
        considered.append(Considered("policy", st.label, "allow" if st.allow else "deny", applies))
        if applies:
            (allows if st.allow else denies).append(st.label)
    grant = acl_opinion(bucket, object_acl, caller, action, key)
    no_grant = "no ACL grant"
    if grant is None and bucket is not None and bucket.ignore_public_acls:
        # Say so when a public grant would have allowed: "no ACL grant" hides why.
        ignored = acl_opinion(
            replace(bucket, ignore_public_acls=False), object_acl, caller, action, key
        )
        if ignored is not None:
            no_grant = f"{ignored} ignored by the public access block (IgnorePublicAcls)"
    considered.append(
        Considered("acl", grant or no_grant, "allow" if grant else "none", bool(grant))
    )
    done = tuple(considered)
    ttl = iam.ttl_seconds
    if denies and not (iam.allowed and action in POLICY_ACTIONS):
        return Verdict(False, f"explicit deny by bucket policy {denies[0]}", done, ttl)
    if iam.allowed:
        return Verdict(True, iam.reason, done, ttl)
    if allows:
        return Verdict(True, f"bucket policy {allows[0]} allows", done, ttl)
    if grant:
        return Verdict(True, f"{grant} allows", done, ttl)
    if restricted:
        return Verdict(
            False, f"{iam.reason}; public access restricted to the bucket's org", done, ttl
        )
    acls = bucket is not None and bucket.acls
    return Verdict(False, _nothing(iam, policy, no_grant if acls else None), done, ttl)


def _nothing(iam: Decision, policy: Policy | None, acl: str | None) -> str:
    tail = "no bucket policy statement allows" if policy is not None else "no bucket policy"
    return f"{iam.reason}; {tail}" + (f"; {acl}" if acl else "")
