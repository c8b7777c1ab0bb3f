"""The embedded policy engine: a table of (principal, action, resource) → allowed."""

from __future__ import annotations

import pytest

from lightningstor_api.iam.policy import ADMIN_BINDING, Binding, PolicyEngine, action_matches
from lightningstor_types.config import BUILTIN_ROLES, IamSettings
from lightningstor_types.scope import Principal, Scope, parse_identity

ALICE = Principal("alice", "acme")  # editor of org acme
BOB = Principal("bob", "acme", "web")  # editor of project web only
CAROL = Principal("carol", "acme")  # viewer of one bucket
MALLORY = Principal("mallory", "evil")  # admin of org evil
FAKE_ADMIN = Principal("admin", "evil")  # an id minted in org evil that looks like the admin
ADMIN = Principal("admin", "default")
DAVE = Principal("dave", "acme", "web")  # holds an org-level binding, but lives in a project
ERIN = Principal("erin", "acme", "web")  # a project principal granted viewer on the whole org

ENGINE = PolicyEngine(
    BUILTIN_ROLES,
    [
        ADMIN_BINDING,
        Binding("alice", "editor", "acme"),
        Binding("bob", "editor", "acme", "web"),
        Binding("carol", "viewer", "acme", None, "photos"),
        Binding("mallory", "admin", "evil"),
        Binding("dave", "admin", "acme"),
        Binding("acme/web/erin", "viewer", "acme"),
        Binding("platform", "admin", "*"),  # bare id at org "*": names nobody
    ],
)

ORG = "org/acme"
PHOTOS = "org/acme/bucket/photos"
WEB_BUCKET = "org/acme/project/web/bucket/site"
OPS_BUCKET = "org/acme/project/ops/bucket/logs"
EVIL_BUCKET = "org/evil/bucket/loot"

CASES = [
    (ALICE, "lightningstor:objects:get", PHOTOS + "/object/a.jpg", True),
    (ALICE, "lightningstor:buckets:create", WEB_BUCKET, True),  # org covers its projects
    (ALICE, "lightningstor:credentials:create", ORG, False),  # editor has no credentials
    (ALICE, "lightningstor:objects:get", EVIL_BUCKET + "/object/x", False),
    (BOB, "lightningstor:objects:put", WEB_BUCKET + "/object/k", True),
    (BOB, "lightningstor:objects:get", OPS_BUCKET + "/object/k", False),
    (BOB, "lightningstor:objects:get", PHOTOS + "/object/k", False),
    (BOB, "lightningstor:buckets:list", ORG, False),
    (CAROL, "lightningstor:objects:get", PHOTOS + "/object/k", True),
    (CAROL, "lightningstor:objects:put", PHOTOS + "/object/k", False),
    (CAROL, "lightningstor:objects:get", "org/acme/bucket/other/object/k", False),
    (CAROL, "lightningstor:buckets:list", ORG, False),
    (MALLORY, "lightningstor:buckets:delete", EVIL_BUCKET, True),
    (MALLORY, "lightningstor:buckets:get", PHOTOS, False),
    (FAKE_ADMIN, "lightningstor:buckets:get", PHOTOS, False),
    (ADMIN, "lightningstor:credentials:delete", "org/anything", True),
    (ADMIN, "lightningstor:objects:get", EVIL_BUCKET + "/object/x", True),
    (DAVE, "lightningstor:objects:get", PHOTOS + "/object/x", False),  # project principal
    (ERIN, "lightningstor:objects:get", PHOTOS + "/object/x", True),
    (ERIN, "lightningstor:objects:put", PHOTOS + "/object/x", False),
    (Principal("erin", "acme"), "lightningstor:objects:get", PHOTOS + "/object/x", False),
    (Principal("erin", "acme", "ops"), "lightningstor:objects:get", PHOTOS + "/object/x", False),
    (Principal("platform", "acme"), "lightningstor:objects:get", PHOTOS, False),
    (Principal("nobody", "acme"), "lightningstor:buckets:list", ORG, False),
    (ALICE, "lightningstor:objects:get", "org/acme/bucket/../x", False),  # not canonical
    (ALICE, "lightningstor:objects:get", "bucket/photos", False),  # malformed
    # platform-wide operator calls: only a binding at org "*" covers org/*
    (ADMIN, "lightningstor:admin:gc", "org/*", True),
    (ADMIN, "lightningstor:admin:repair", "org/*", True),
    (MALLORY, "lightningstor:admin:read", "org/*", False),  # admin of an org, not the platform
    (MALLORY, "lightningstor:admin:read", "org/evil", True),  # …though its own org is its own
    (ALICE, "lightningstor:admin:read", "org/*", False),
    (Principal("admin", "default", "p"), "lightningstor:admin:read", "org/*", False),
]


@pytest.mark.parametrize(("principal", "action", "resource", "allowed"), CASES)
def test_decisions(principal: Principal, action: str, resource: str, allowed: bool) -> None:
    decision = ENGINE.decide(principal, action, resource)
    assert decision.allowed is allowed, decision.reason
    assert decision.reason


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("lightningstor:*", "lightningstor:buckets:tagging:write", True),
        ("lightningstor:objects:*", "lightningstor:objects:tagging:read", True),
        ("lightningstor:objects:*", "lightningstor:objectsx:read", False),
        ("lightningstor:objects:get", "lightningstor:objects:get", True),
        ("lightningstor:objects:get", "lightningstor:objects:getx", False),
        ("*", "anything", True),
        ("lightningstor:obj.cts:read", "lightningstor:objects:get", False),  # no regex
    ],
)
def test_action_patterns(pattern: str, action: str, matches: bool) -> None:
    assert action_matches(pattern, action) is matches


def test_from_settings_has_the_admin_binding_and_configured_roles() -> None:
    iam = IamSettings(
        roles={"uploader": ["lightningstor:objects:put", "lightningstor:uploads:*"]},
        bindings=[{"principal": "u", "role": "uploader", "org": "acme", "bucket": "in"}],
        decision_cache_ttl_seconds=7,
    )
    engine = PolicyEngine.from_settings(iam)
    d = engine.decide(Principal("u", "acme"), "lightningstor:uploads:write", "org/acme/bucket/in")
    assert d.allowed and d.ttl_seconds == 7
    assert not engine.decide(
        Principal("u", "acme"), "lightningstor:objects:get", "org/acme/bucket/in/object/k"
    ).allowed
    assert engine.decide(ADMIN, "lightningstor:buckets:create", "org/x/bucket/y").allowed


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        PolicyEngine(BUILTIN_ROLES, [Binding("a", "nope", "acme")])


def test_a_group_binding_holds_for_each_member_and_nobody_else() -> None:
    iam = IamSettings(
        groups={"ops": ["acme/alice", "acme/web/bob", "carol"]},
        bindings=[{"group": "ops", "role": "viewer", "org": "acme"}],
    )
    engine = PolicyEngine.from_settings(iam)
    read = "lightningstor:objects:get"
    for member in (ALICE, BOB, CAROL):  # carol: a bare id, home = the binding's org
        d = engine.decide(member, read, "org/acme/bucket/b/object/k")
        assert d.allowed, member
        assert "via group ops" in d.reason
    # Not a member; a member's id in another home scope is another identity; the role's
    # actions only; the binding's org only.
    assert not engine.decide(Principal("dave", "acme"), read, "org/acme/bucket/b/object/k").allowed
    assert not engine.decide(Principal("alice", "acme", "web"), read, "org/acme/bucket/b").allowed
    assert not engine.decide(ALICE, "lightningstor:objects:put", "org/acme/bucket/b").allowed
    assert not engine.decide(ALICE, read, "org/evil/bucket/b/object/k").allowed


@pytest.mark.parametrize(
    ("groups", "binding", "message"),
    [
        ({}, {"group": "ops", "role": "viewer", "org": "acme"}, "unknown group"),
        ({"ops": ["a"]}, {"role": "viewer", "org": "acme"}, "exactly one"),
        (
            {"ops": ["a"]},
            {"principal": "a", "group": "ops", "role": "viewer", "org": "acme"},
            "exactly one",
        ),
        ({"ops": ["a//b"]}, {"group": "ops", "role": "viewer", "org": "acme"}, "invalid member"),
        ({"ops": ["a/b/c/d"]}, {"group": "ops", "role": "viewer", "org": "acme"}, "invalid member"),
    ],
)
def test_bad_groups_are_refused(
    groups: dict[str, list[str]], binding: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        IamSettings(groups=groups, bindings=[binding])


# -- acting as another identity (a key for it): only for one that holds nothing more ---------

CREATE_OTHERS = "lightningstor:credentials:create:others"
SUBJECTS = PolicyEngine(
    {
        **BUILTIN_ROLES,
        "keys": ["lightningstor:credentials:*", "lightningstor:objects:*"],
        "reader": ["lightningstor:objects:get"],
        "objects": ["lightningstor:objects:*"],
        "auditor": ["lightningstor:admin:read"],
    },
    [
        ADMIN_BINDING,
        Binding("root", "admin", "acme"),
        Binding("kim", "keys", "acme"),
        Binding("rita", "reader", "acme"),
        Binding("oscar", "objects", "acme"),
        Binding("vic", "reader", "acme", None, "photos"),
        Binding("acme/web/pia", "reader", "acme", "web"),
        Binding("acme/aud", "auditor", "*"),
        Binding("acme/partner", "reader", "evil"),
        Binding("acme/gus", "admin", "acme", group="ops"),
    ],
)


@pytest.mark.parametrize(
    ("minter", "subject", "allowed"),
    [
        ("root", "rita", True),  # admin of acme holds objects:read there
        ("root", "vic", True),  # a bucket of acme
        ("root", "acme/web/pia", True),  # a project of acme
        ("root", "acme/gus", True),  # the same role, through a group
        ("root", "nobody", True),  # holds nothing
        ("kim", "rita", True),  # objects:* covers objects:read
        ("kim", "oscar", True),  # objects:* covers objects:* (the same glob)
        ("kim", "root", False),  # lightningstor:* is more than kim's patterns
        ("kim", "acme/gus", False),  # admin through a group is still admin
        ("rita", "oscar", False),  # objects:read does not cover objects:*
        ("root", "acme/aud", False),  # bound at org "*"
        ("root", "acme/partner", False),  # granted in another org
        ("root", "default/admin", False),  # the platform admin
        ("default/admin", "acme/aud", True),  # the platform admin holds everything
        ("default/admin", "acme/partner", True),
    ],
)
def test_a_subject_is_allowed_only_if_it_holds_nothing_the_caller_lacks(
    minter: str, subject: str, allowed: bool
) -> None:
    def who(spelled: str) -> Principal:
        return parse_identity(spelled, Scope("acme"))

    decision = SUBJECTS.decide(who(minter), CREATE_OTHERS, "org/acme", who(subject))
    assert decision.allowed is allowed, decision.reason
    if not allowed and SUBJECTS.decide(who(minter), CREATE_OTHERS, "org/acme").allowed:
        assert "which the caller does not" in decision.reason


def test_without_a_subject_the_decision_is_the_plain_one() -> None:
    root = Principal("root", "acme")
    assert SUBJECTS.decide(root, CREATE_OTHERS, "org/acme").allowed
    assert SUBJECTS.decide(root, CREATE_OTHERS, "org/acme", root).allowed  # oneself
    # the plain rules come first: no create:others at all means no, whoever the subject is
    rita = Principal("rita", "acme")
    assert not SUBJECTS.decide(rita, CREATE_OTHERS, "org/acme", Principal("x", "acme")).allowed


def test_roles_written_with_the_earlier_action_names_keep_working() -> None:
    engine = PolicyEngine(
        {"old": ["lightningstor:objects:read", "lightningstor:objects:create"]},
        [Binding("u", "old", "acme")],
    )
    who = Principal("u", "acme")
    obj = "org/acme/bucket/b/object/k"
    for action in (
        "lightningstor:objects:get", "lightningstor:objects:put", "lightningstor:objects:copy",
        "lightningstor:uploads:complete",
    ):  # fmt: skip
        assert engine.decide(who, action, obj).allowed, action
    assert not engine.decide(who, "lightningstor:objects:delete", obj).allowed
