"""Access keys: sealed at rest, listed without secrets, resolved for SigV4, bootstrapped once."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, credential_pb2
from lightningstor_api.core import Core
from lightningstor_api.identity import (
    CredentialManager,
    SecretBox,
    ensure_admin_credential,
    load_secret_box,
)
from lightningstor_api.identity.bootstrap import ADMIN_CREDENTIALS_FILE
from lightningstor_types.config import Settings
from lightningstor_types.errors import NoSuchAccessKey
from lightningstor_types.service import RequestContext
from tests.wait import await_until


@pytest.fixture
def manager(core: Core, settings: Settings) -> CredentialManager:
    return CredentialManager(core.cc, load_secret_box(settings))


async def test_create_returns_secret_once_and_stores_it_sealed(
    core: Core, ctx: RequestContext, manager: CredentialManager
) -> None:
    resp = await manager.create_access_key(ctx, credential_pb2.CreateAccessKeyRequest())
    key_id, secret = resp.access_key.access_key_id, resp.secret_access_key
    assert key_id.startswith("LS") and len(key_id) == 20 and len(secret) == 40
    assert resp.access_key.scope == common_pb2.Scope(org_id="acme", project_id="web")

    kv = await core.cc.store.get(core.cc.keys.credential(key_id))
    assert kv is not None
    assert secret.encode() not in kv.value  # never stored in the clear
    rec = records_pb2.CredentialRecord.FromString(kv.value)
    assert rec.principal_id == "tester"

    listed = await manager.list_access_keys(ctx, credential_pb2.ListAccessKeysRequest())
    assert [k.access_key_id for k in listed.access_keys] == [key_id]
    assert secret not in str(listed)


async def test_resolve_finds_secret_and_principal(
    ctx: RequestContext, manager: CredentialManager
) -> None:
    resp = await manager.create_access_key(ctx, credential_pb2.CreateAccessKeyRequest())
    found = await manager.resolve(resp.access_key.access_key_id)
    assert found is not None
    assert found.secret_access_key == resp.secret_access_key
    assert found.principal.principal_id == "tester"
    assert found.principal.scope.org_id == "acme"
    assert await manager.resolve("LSNOSUCHKEY000000000") is None


async def test_delete_forgets_the_key(ctx: RequestContext, manager: CredentialManager) -> None:
    resp = await manager.create_access_key(ctx, credential_pb2.CreateAccessKeyRequest())
    key_id = resp.access_key.access_key_id
    assert await manager.resolve(key_id) is not None
    await manager.delete_access_key(
        ctx, credential_pb2.DeleteAccessKeyRequest(access_key_id=key_id)
    )
    assert await manager.resolve(key_id) is None
    with pytest.raises(NoSuchAccessKey):
        await manager.delete_access_key(
            ctx, credential_pb2.DeleteAccessKeyRequest(access_key_id=key_id)
        )


async def test_expired_key_does_not_resolve(
    ctx: RequestContext, manager: CredentialManager
) -> None:
    req = credential_pb2.CreateAccessKeyRequest()
    req.expires_at.FromSeconds(1)  # 1970: long expired
    resp = await manager.create_access_key(ctx, req)
    assert await manager.resolve(resp.access_key.access_key_id) is None


async def test_a_key_stops_resolving_when_it_expires_while_in_use(
    ctx: RequestContext, manager: CredentialManager
) -> None:
    """Resolved keys are remembered per record version; the expiry is still checked each time."""
    manager.start()  # cache (and watch) as a serving server does
    try:
        lifetime_ns = 1_500_000_000
        while True:  # a key that expired before both uses (a loaded machine): a longer one
            req = credential_pb2.CreateAccessKeyRequest()
            expires_ns = time.time_ns() + lifetime_ns
            req.expires_at.FromNanoseconds(expires_ns)
            key_id = (await manager.create_access_key(ctx, req)).access_key.access_key_id
            first = await manager.resolve(key_id)
            again = await manager.resolve(key_id)  # now from what was remembered
            if first is not None and again is not None:
                break
            assert time.time_ns() >= expires_ns, "a key stopped resolving before its expiry"
            lifetime_ns *= 2
            assert lifetime_ns <= 64_000_000_000, "no key could be used before it expired"

        async def expired() -> bool:
            return await manager.resolve(key_id) is None

        await await_until(expired, message="the key to stop resolving at its expiry")
    finally:
        await manager.stop()


async def test_listing_is_limited_to_the_scope(
    core: Core, ctx: RequestContext, manager: CredentialManager
) -> None:
    other = common_pb2.Scope(org_id="other-org")
    await manager.create_access_key(ctx, credential_pb2.CreateAccessKeyRequest(scope=other))
    mine = await manager.create_access_key(ctx, credential_pb2.CreateAccessKeyRequest())
    listed = await manager.list_access_keys(ctx, credential_pb2.ListAccessKeysRequest())
    assert [k.access_key_id for k in listed.access_keys] == [mine.access_key.access_key_id]


def test_sealed_secret_needs_the_same_key_and_context() -> None:
    box = SecretBox(b"k" * 32)
    sealed = box.seal("s3cr3t", context="LSKEY")
    assert box.open(sealed, context="LSKEY") == "s3cr3t"
    with pytest.raises(InvalidTag):
        box.open(sealed, context="LSOTHER")
    with pytest.raises(InvalidTag):
        SecretBox(b"x" * 32).open(sealed, context="LSKEY")


def test_default_key_file_is_created_private_and_reused(settings: Settings) -> None:
    box = load_secret_box(settings)
    path = settings.iam.secret_key_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = box.seal("x", context="c")
    assert load_secret_box(settings).open(sealed, context="c") == "x"


async def test_first_start_creates_admin_key_once(
    manager: CredentialManager, settings: Settings, tmp_path: Path
) -> None:
    path = await ensure_admin_credential(manager, settings.server.data_dir)
    assert path is not None and path.name == ADMIN_CREDENTIALS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    found = await manager.resolve(data["access_key_id"])
    assert found is not None and found.secret_access_key == data["secret_access_key"]
    assert found.principal.principal_id == "admin"
    # A second start finds credentials and creates nothing.
    path.unlink()
    assert await ensure_admin_credential(manager, settings.server.data_dir) is None
    assert not path.exists()
