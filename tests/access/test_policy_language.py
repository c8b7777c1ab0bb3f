"""The policy language as parsed and decided (no server): condition operators with absent
keys, IfExists, set qualifiers, Null, dates and numbers; NotAction/NotResource; the verdict's
reasons; the action table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lightningstor_api.access.condition import parse_condition
from lightningstor_api.access.decision import BucketAccess, decide
from lightningstor_api.access.policy import parse_policy, principal_arn
from lightningstor_api.authz import Decision
from lightningstor_types.actions import (
    BYPASS_GOVERNANCE_ACTION,
    OPERATION_ACTIONS,
    S3_ACTIONS,
    Action,
)
from lightningstor_types.errors import MalformedPolicy
from lightningstor_types.scope import Principal

BOB = Principal("bob", "orgb")
PAT = Principal("pat", "orga", "p")
NO = Decision(False, "no binding grants it")


def holds(block: dict[str, Any], **facts: str | tuple[str, ...]) -> bool:
    folded = {k.lower(): v if isinstance(v, tuple) else (v,) for k, v in facts.items()}
    return parse_condition(block).holds(folded)


@pytest.mark.parametrize(
    ("block", "facts", "expected"),
    [
        ({"StringEquals": {"aws:UserAgent": ["a", "b"]}}, {"aws:useragent": "b"}, True),
        ({"StringEquals": {"aws:UserAgent": "a"}}, {}, False),
        ({"StringNotEquals": {"aws:UserAgent": "a"}}, {}, True),  # AWS: absent key matches
        ({"StringNotEquals": {"aws:UserAgent": "a"}}, {"aws:useragent": "a"}, False),
        ({"StringEqualsIfExists": {"aws:UserAgent": "a"}}, {}, True),
        ({"StringLike": {"s3:prefix": "home/*/a?"}}, {"s3:prefix": "home/x/ab"}, True),
        ({"StringLike": {"s3:prefix": "home/*/a?"}}, {"s3:prefix": "home/x/abc"}, False),
        ({"StringEqualsIgnoreCase": {"aws:Referer": "HTTP://X"}},
         {"aws:referer": "http://x"}, True),
        ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, True),
        ({"NumericLessThan": {"s3:max-keys": 10}}, {"s3:max-keys": "11"}, False),
        ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
         {"aws:currenttime": "2026-12-07T00:00:00Z"}, True),
        ({"DateGreaterThan": {"aws:EpochTime": "1900000000"}},
         {"aws:epochtime": "1800000000"}, False),
        ({"Bool": {"aws:SecureTransport": False}}, {"aws:securetransport": "false"}, True),
        ({"Null": {"s3:x-amz-server-side-encryption": "true"}}, {}, True),
        ({"Null": {"s3:x-amz-server-side-encryption": "true"}},
         {"s3:x-amz-server-side-encryption": "AES256"}, False),
        ({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1"]}}, {"aws:sourceip": "::1"}, True),
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:sourceip": "10.1.2.3"}, False),
        ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::orgb:user/*"}},
         {"aws:principalarn": "arn:aws:iam::orgb:user/bob"}, True),
        ({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["a", "b"]}},
         {"s3:requestobjecttagkeys": ("a", "c")}, False),
        ({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["a", "b"]}}, {}, True),
        ({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["a", "b"]}},
         {"s3:requestobjecttagkeys": ("x", "b")}, True),
        ({"StringEquals": {"s3:ExistingObjectTag/team": "red"}},
         {"s3:existingobjecttag/team": "red"}, True),
        ({"StringEquals": {"ec2:Region": "x"}}, {}, False),  # another service's key: absent
    ],
)  # fmt: skip
def test_condition_operators(block: dict[str, Any], facts: dict[str, Any], expected: bool) -> None:
    assert holds(block, **facts) is expected


@pytest.mark.parametrize(
    "block",
    [
        {"StringEquals": {"s3:NoSuchKey": "x"}},
        {"StringEquals": {"aws:NoSuchKey": "x"}},
        {"NumericEquals": {"s3:max-keys": "ten"}},
        {"IpAddress": {"aws:SourceIp": "not-an-ip"}},
        {"DateEquals": {"aws:CurrentTime": "yesterday"}},
        {"Bool": {"aws:SecureTransport": "maybe"}},
        {"ForSomeValues:StringEquals": {"aws:UserAgent": "x"}},
        {"NullIfExists": {"aws:UserAgent": "true"}},
        {"StringEquals": {"aws:UserAgent": []}},
    ],
)
def test_bad_conditions_are_malformed(block: dict[str, Any]) -> None:
    text = json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::b/*", "Condition": block}]
    })  # fmt: skip
    with pytest.raises(MalformedPolicy):
        parse_policy(text, "b")


def _policy(*statements: dict[str, Any], restrict: bool = False) -> BucketAccess:
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return BucketAccess("orga", parse_policy(text, "b"), restrict)


def test_not_action_and_not_resource() -> None:
    policy = _policy({
        "Sid": "AllButDelete", "Effect": "Allow", "Principal": {"AWS": principal_arn(BOB)},
        "NotAction": "s3:DeleteObject", "NotResource": "arn:aws:s3:::b/private/*",
    })  # fmt: skip
    assert decide(NO, policy, BOB, Action.OBJECTS_GET, "pub/x", {}).allowed
    assert not decide(NO, policy, BOB, Action.OBJECTS_DELETE, "pub/x", {}).allowed
    assert not decide(NO, policy, BOB, Action.OBJECTS_GET, "private/x", {}).allowed
    assert not decide(NO, policy, PAT, Action.OBJECTS_GET, "pub/x", {}).allowed


def test_verdict_names_the_statement_and_what_was_considered() -> None:
    policy = _policy(
        {"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::orgb:root"},
         "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
        {"Sid": "NoSecrets", "Effect": "Deny", "NotPrincipal": {"AWS": principal_arn(PAT)},
         "Action": "s3:*", "Resource": "arn:aws:s3:::b/secret/*"},
    )  # fmt: skip
    v = decide(NO, policy, BOB, Action.OBJECTS_GET, "a", {})
    assert (v.allowed, v.reason) == (True, 'bucket policy statement "Read" allows')
    assert [(c.source, c.applied) for c in v.considered] == [
        ("iam", False),
        ("policy", True),
        ("policy", False),
        ("acl", False),
    ]
    v = decide(Decision(True, "role admin"), policy, BOB, Action.OBJECTS_GET, "secret/a", {})
    assert (v.allowed, v.reason) == (False, 'explicit deny by bucket policy statement "NoSecrets"')
    assert decide(NO, policy, PAT, Action.OBJECTS_GET, "secret/a", {}).allowed is False
    assert decide(NO, policy, None, Action.OBJECTS_GET, "a", {}).allowed is False


def test_every_s3_action_maps_to_served_actions() -> None:
    # the bypass is asked on top of a delete or retention change, not as an operation's own
    served = set(OPERATION_ACTIONS.values()) | {BYPASS_GOVERNANCE_ACTION}
    for s3, actions in S3_ACTIONS.items():
        assert s3.startswith("s3:") and actions and set(actions) <= served, s3
    assert Action.OBJECTS_GET in S3_ACTIONS["s3:GetObject"]


def test_restrict_public_buckets_keeps_a_public_policy_to_the_owner_org() -> None:
    public = {"Sid": "Pub", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::b/*"}  # fmt: skip
    assert decide(NO, _policy(public), None, Action.OBJECTS_GET, "k", {}).allowed
    restricted = _policy(public, restrict=True)
    assert not decide(NO, restricted, None, Action.OBJECTS_GET, "k", {}).allowed
    assert not decide(NO, restricted, BOB, Action.OBJECTS_GET, "k", {}).allowed
    assert decide(NO, restricted, PAT, Action.OBJECTS_GET, "k", {}).allowed  # orga's own


def test_every_bucket_and_object_action_has_an_s3_name() -> None:
    """An explicit Deny of ``s3:*`` in a bucket policy denies every action on the bucket and its
    objects: each of ours that a bucket-bound call is authorized with is named in S3_ACTIONS."""
    covered = {a for actions in S3_ACTIONS.values() for a in actions}
    bucket_bound = ("buckets:", "objects:", "uploads:", "retention:")
    missing = [
        a.value for a in Action
        if a.value.removeprefix("lightningstor:").startswith(bucket_bound) and a not in covered
    ]  # fmt: skip
    assert missing == []
