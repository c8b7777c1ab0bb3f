"""Scopes in the core with the embedded engine: shadowing, foreign buckets, the audit log."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lightningstor.v1 import bucket_pb2, common_pb2, credential_pb2, object_pb2, usage_pb2
from lightningstor_api.core import Core, usage_admin
from lightningstor_api.iam import build_authorizer
from lightningstor_api.iam.audit import AUDIT_LOGGER, record
from lightningstor_api.identity import CredentialManager, load_secret_box
from lightningstor_types.errors import AccessDenied, NoSuchBucket, QuotaExceeded
from lightningstor_types.logs import JsonFormatter
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext
from tests.core.conftest import make_settings
from tests.core.helpers import get, put

BINDINGS = [
    {"principal": "alice", "role": "editor", "org": "acme"},
    {"principal": "bob", "role": "editor", "org": "acme", "project": "web"},
    {"principal": "erin", "role": "editor", "org": "acme", "project": "web"},
    {"principal": "acme/web/erin", "role": "viewer", "org": "acme"},
    {"principal": "mallory", "role": "editor", "org": "evil"},
]


def as_(principal_id: str, org: str, project: str | None = None) -> RequestContext:
    return RequestContext(Principal(principal_id, org, project), request_id=f"r-{principal_id}")


ALICE = as_("alice", "acme")
BOB = as_("bob", "acme", "web")
ERIN = as_("erin", "acme", "web")
MALLORY = as_("mallory", "evil")
ACME = common_pb2.Scope(org_id="acme")


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    settings = make_settings(tmp_path, iam={"bindings": BINDINGS})
    c = await Core.open(settings, authorizer=build_authorizer(settings))
    try:
        yield c
    finally:
        await c.close()


async def create(
    core: Core, ctx: RequestContext, name: str, scope: common_pb2.Scope | None = None
) -> None:
    await core.create_bucket(ctx, bucket_pb2.CreateBucketRequest(name=name, scope=scope))


async def test_a_project_bucket_shadows_the_org_bucket_of_its_name(core: Core) -> None:
    await create(core, ALICE, "shared")
    await put(core, ALICE, "shared", "k", b"org")
    # erin (project web, viewer of the org): no project bucket "shared" yet -> the org's.
    assert (await get(core, ERIN, "shared", "k"))[1] == b"org"
    # bob (project web, nothing at the org): the org bucket is not his to see.
    with pytest.raises(NoSuchBucket):
        await get(core, BOB, "shared", "k")
    await create(core, BOB, "shared")
    await put(core, BOB, "shared", "k", b"project")
    assert (await get(core, ERIN, "shared", "k"))[1] == b"project"  # shadowed
    assert (await get(core, BOB, "shared", "k"))[1] == b"project"
    # Naming the org explicitly reaches the org's bucket (erin may read there).
    stream = await core.get_object(
        ERIN, object_pb2.GetObjectRequest(scope=ACME, bucket="shared", key="k")
    )
    assert b"".join([p async for p in stream.body]) == b"org"
    listed = await core.list_buckets(ERIN, bucket_pb2.ListBucketsRequest())
    assert [b.name for b in listed.buckets] == ["shared"]
    # Writes through the shadowing name land in the project bucket; the org's is untouched.
    assert (await get(core, ALICE, "shared", "k"))[1] == b"org"


async def test_another_tenants_bucket_is_denied_whether_or_not_it_exists(core: Core) -> None:
    await create(core, ALICE, "photos")
    await put(core, ALICE, "photos", "a.jpg", b"secret")
    for name in ("photos", "no-such-bucket"):
        with pytest.raises(AccessDenied) as exc:
            await get(core, MALLORY, name, "a.jpg", scope=ACME)
        assert type(exc.value) is AccessDenied and exc.value.message == "Access Denied"
        with pytest.raises(AccessDenied):
            await core.head_bucket(MALLORY, bucket_pb2.HeadBucketRequest(scope=ACME, name=name))
    with pytest.raises(AccessDenied):
        await core.list_buckets(MALLORY, bucket_pb2.ListBucketsRequest(scope=ACME))
    # In its own org, the same name is its own (absent) bucket, then its own bucket.
    with pytest.raises(NoSuchBucket):
        await get(core, MALLORY, "photos", "a.jpg")
    await create(core, MALLORY, "photos")
    with pytest.raises(Exception, match="does not exist"):
        await get(core, MALLORY, "photos", "a.jpg")
    assert (await get(core, ALICE, "photos", "a.jpg"))[1] == b"secret"


async def test_a_project_key_cannot_reach_another_project(core: Core) -> None:
    await create(core, ALICE, "ops-logs", common_pb2.Scope(org_id="acme", project_id="ops"))
    with pytest.raises(AccessDenied):
        await get(
            core, BOB, "ops-logs", "k", scope=common_pb2.Scope(org_id="acme", project_id="ops")
        )
    with pytest.raises(AccessDenied):
        await create(core, BOB, "x", common_pb2.Scope(org_id="acme", project_id="ops"))


def test_an_audit_line_is_one_json_document_in_both_log_formats() -> None:
    """Text handlers write the decision's JSON; the JSON log carries it as an object under msg."""
    ctx = RequestContext(principal=Principal("alice", "acme", None), request_id="r-1")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    audit_log = logging.getLogger(AUDIT_LOGGER)
    audit_log.addHandler(handler)
    old_level = audit_log.level
    audit_log.setLevel(logging.INFO)
    try:
        record(ctx, "lightningstor:objects:read", "org/acme/bucket/b", True, "role reader")
    finally:
        audit_log.removeHandler(handler)
        audit_log.setLevel(old_level)
    (rec,) = records
    as_text = json.loads(rec.getMessage())
    as_json = json.loads(JsonFormatter().format(rec))
    assert as_json["msg"] == as_text
    assert as_text["principal"] == "acme/alice" and as_text["decision"] == "allow"
    assert "audit" not in as_json  # the fields once, not twice


async def test_every_decision_is_audited(core: Core, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lightningstor.audit")
    await create(core, ALICE, "audited")
    with pytest.raises(AccessDenied):
        await create(core, MALLORY, "audited", ACME)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "lightningstor.audit"]
    assert [(x["principal"], x["decision"]) for x in lines] == [
        ("acme/alice", "allow"),
        ("evil/mallory", "deny"),
    ]
    first = lines[0]
    assert first["action"] == "lightningstor:buckets:create"
    assert first["resource"] == "org/acme/bucket/audited"
    assert first["request_id"] == "r-alice"
    assert first["reason"] == "role editor at org/acme"
    assert set(first) >= {"time", "source", "api"}
    assert "no binding grants" in lines[1]["reason"]


async def test_a_key_for_another_identity_needs_create_others(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        iam={
            "roles": {
                "self-service": ["lightningstor:credentials:create"],
                "key-admin": ["lightningstor:credentials:*"],
            },
            "bindings": [
                {"principal": "kim", "role": "self-service", "org": "acme"},
                {"principal": "lee", "role": "key-admin", "org": "acme"},
            ],
        },
    )
    c = await Core.open(settings, authorizer=build_authorizer(settings))
    try:
        keys = CredentialManager(c.cc, load_secret_box(settings))
        kim, lee = as_("kim", "acme"), as_("lee", "acme")
        own = await keys.create_access_key(kim, credential_pb2.CreateAccessKeyRequest())
        assert own.access_key.principal_id == "kim"
        same = credential_pb2.CreateAccessKeyRequest(principal_id="kim")
        assert (await keys.create_access_key(kim, same)).access_key.principal_id == "kim"
        for req in (
            credential_pb2.CreateAccessKeyRequest(principal_id="lee"),  # someone else
            # kim's id in a project of acme is another identity (acme/web/kim)
            credential_pb2.CreateAccessKeyRequest(
                principal_id="kim", scope=common_pb2.Scope(org_id="acme", project_id="web")
            ),
        ):
            with pytest.raises(AccessDenied):
                await keys.create_access_key(kim, req)
        listed = await keys.list_access_keys(lee, credential_pb2.ListAccessKeysRequest())
        assert {k.principal_id for k in listed.access_keys} == {"kim"}  # nothing was minted
        made = await keys.create_access_key(
            lee, credential_pb2.CreateAccessKeyRequest(principal_id="kim")
        )
        assert made.access_key.principal_id == "kim"
    finally:
        await c.close()


async def test_tenants_read_their_own_usage_and_only_operators_set_quotas(
    tmp_path: Path,
) -> None:
    settings = make_settings(
        tmp_path,
        iam={
            "bindings": [
                {"principal": "alice", "role": "editor", "org": "acme"},
                {"principal": "mallory", "role": "admin", "org": "evil"},  # an org's own admin
            ]
        },
    )
    c = await Core.open(settings, authorizer=build_authorizer(settings))
    try:
        operator = as_("admin", "default")
        await create(c, ALICE, "mine")
        await put(c, ALICE, "mine", "k", b"12345")
        await create(c, MALLORY, "loot")
        await put(c, MALLORY, "loot", "k", b"1234567")

        mine = await usage_admin.get_usage(c.cc, ALICE, usage_pb2.GetUsageRequest(scope=ACME))
        assert (mine.total.bytes_stored, mine.total.object_count) == (5, 1)
        bucket = await usage_admin.get_usage(c.cc, ALICE, usage_pb2.GetUsageRequest(bucket="mine"))
        assert bucket.total.bytes_stored == 5
        evil = common_pb2.Scope(org_id="evil")
        for req in (
            usage_pb2.GetUsageRequest(scope=evil),
            usage_pb2.GetUsageRequest(scope=evil, bucket="loot"),
        ):
            with pytest.raises(AccessDenied):
                await usage_admin.get_usage(c.cc, ALICE, req)
        # the org's admin reads its own figures, but may not raise its own limits
        own = await usage_admin.get_usage(c.cc, MALLORY, usage_pb2.GetUsageRequest(scope=evil))
        assert own.total.bytes_stored == 7
        limit = usage_pb2.SetQuotaRequest(scope=evil, quota=usage_pb2.Quota(max_bytes=10))
        with pytest.raises(AccessDenied):
            await usage_admin.set_quota(c.cc, MALLORY, limit)
        await usage_admin.set_quota(c.cc, operator, limit)
        raise_it = usage_pb2.DeleteQuotaRequest(scope=evil)
        with pytest.raises(AccessDenied):
            await usage_admin.delete_quota(c.cc, MALLORY, raise_it)
        got = await usage_admin.get_quota(c.cc, MALLORY, usage_pb2.GetQuotaRequest(scope=evil))
        assert got.is_set and got.quota.max_bytes == 10
        with pytest.raises(QuotaExceeded):
            await put(c, MALLORY, "loot", "more", b"1234")
    finally:
        await c.close()
