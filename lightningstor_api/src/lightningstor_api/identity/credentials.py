"""S3 access keys: the CredentialService operations and the resolver signature checks use.

Secrets are sealed with :class:`SecretBox` before they reach the metadata store; listing never
returns a secret; creation returns it once. The resolver reads records through a cache that a
watch on the credentials prefix invalidates (:class:`WatchedCache`), so a key deleted through
another server stops working here within the watch's latency; the TTL bounds it if the watch is
down.
"""

from __future__ import annotations

import secrets
import string
import time

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, credential_pb2
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.watched_cache import WatchedCache
from lightningstor_api.identity.sealing import SecretBox
from lightningstor_api.metadata import Compare, Put
from lightningstor_types.actions import KEY_FOR_OTHERS_ACTION, Action
from lightningstor_types.errors import InvalidArgument, NoSuchAccessKey
from lightningstor_types.scope import Principal, Scope, parse_identity
from lightningstor_types.service import RequestContext, ResolvedCredential

_KEY_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"


def new_access_key_id() -> str:
    """20 characters like AWS's, prefixed ``LS``."""
    return "LS" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))


def new_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def _scope_msg(org_id: str, project_id: str) -> common_pb2.Scope:
    return common_pb2.Scope(org_id=org_id, project_id=project_id)


def _public(rec: records_pb2.CredentialRecord) -> credential_pb2.AccessKey:
    key = credential_pb2.AccessKey(
        access_key_id=rec.access_key_id,
        principal_id=rec.principal_id,
        scope=_scope_msg(rec.org_id, rec.project_id),
        description=rec.description,
    )
    key.created_at.CopyFrom(rec.created_at)
    if rec.HasField("expires_at"):
        key.expires_at.CopyFrom(rec.expires_at)
    return key


_RESOLVED_MAX = 4096
_Resolved = tuple[bytes, int | None, ResolvedCredential]
"""A credential record's bytes, its expiry (ns) and what it resolves to."""


class CredentialManager:
    """Creates, lists and deletes access keys; resolves them for SigV4 (through a cache that
    caches only once :meth:`start` has begun watching)."""

    def __init__(self, cc: CoreContext, box: SecretBox) -> None:
        self._cc = cc
        self._box = box
        # The TTL (metadata.cache_ttl_seconds, 0 = no cache) only matters while the watch is down.
        ttl = cc.settings.metadata.cache_ttl_seconds
        self._cache = WatchedCache(
            cc.store, cc.keys.credentials_prefix(), ttl=ttl, name="credentials"
        )
        self._resolved: dict[str, _Resolved] = {}

    def start(self) -> None:
        """Watch the credentials prefix in this loop (and cache from now on)."""
        self._cache.start()

    async def stop(self) -> None:
        await self._cache.stop()

    async def create(
        self,
        principal: Principal,
        *,
        description: str = "",
        expires_at: Timestamp | None = None,
    ) -> tuple[credential_pb2.AccessKey, str]:
        """Store a new key for ``principal``; returns it with its secret (shown only now)."""
        secret = new_secret()
        while True:
            key_id = new_access_key_id()
            rec = records_pb2.CredentialRecord(
                access_key_id=key_id,
                principal_id=principal.principal_id,
                org_id=principal.org_id,
                project_id=principal.project_id or "",
                encrypted_secret=self._box.seal(secret, context=key_id),
                description=description,
            )
            rec.created_at.GetCurrentTime()
            if expires_at is not None and expires_at.ToNanoseconds() > 0:
                rec.expires_at.CopyFrom(expires_at)
            k = self._cc.keys.credential(key_id)
            res = await self._cc.store.txn([Compare.absent(k)], [Put(k, rec.SerializeToString())])
            if res.succeeded:
                return _public(rec), secret

    async def any_exist(self) -> bool:
        page = await self._cc.store.range(self._cc.keys.credentials_prefix(), limit=1)
        return bool(page.kvs)

    async def resolve(self, access_key_id: str) -> ResolvedCredential | None:
        """The key's secret and principal, or None if unknown or expired."""
        kv = await self._cache.get(self._cc.keys.credential(access_key_id))
        if kv is None:
            return None
        hit = self._resolved.get(access_key_id)
        if hit is None or hit[0] != kv.value:
            hit = self._resolve(access_key_id, kv.value)
        _, expires_ns, resolved = hit
        if expires_ns is not None and expires_ns <= time.time_ns():
            return None
        return resolved

    def _resolve(self, access_key_id: str, value: bytes) -> _Resolved:
        """Decode and decrypt a credential record once per version of it, not per request."""
        rec = records_pb2.CredentialRecord.FromString(value)
        resolved = ResolvedCredential(
            access_key_id=access_key_id,
            secret_access_key=self._box.open(rec.encrypted_secret, context=access_key_id),
            principal=Principal(rec.principal_id, rec.org_id, rec.project_id or None),
        )
        expires_ns = rec.expires_at.ToNanoseconds() if rec.HasField("expires_at") else None
        if len(self._resolved) >= _RESOLVED_MAX:
            self._resolved.clear()
        hit = self._resolved[access_key_id] = (value, expires_ns, resolved)
        return hit

    # ---- CredentialOperations ----
    async def create_access_key(
        self, ctx: RequestContext, req: credential_pb2.CreateAccessKeyRequest
    ) -> credential_pb2.CreateAccessKeyResponse:
        scope = self._cc.scope_of(ctx, req.scope if req.HasField("scope") else None)
        await self._cc.authorize(ctx, Action.CREDENTIALS_CREATE, scope)
        owner = _owner(req.principal_id or ctx.principal.principal_id, scope)
        if owner != ctx.principal:
            # The key acts as the owner: only for an owner who holds nothing the caller lacks.
            await self._cc.authorize_acting_as(ctx, KEY_FOR_OTHERS_ACTION, scope, owner)
        key, secret = await self.create(
            owner,
            description=req.description,
            expires_at=req.expires_at if req.HasField("expires_at") else None,
        )
        return credential_pb2.CreateAccessKeyResponse(access_key=key, secret_access_key=secret)

    async def list_access_keys(
        self, ctx: RequestContext, req: credential_pb2.ListAccessKeysRequest
    ) -> credential_pb2.ListAccessKeysResponse:
        scope = self._cc.scope_of(ctx, req.scope if req.HasField("scope") else None)
        await self._cc.authorize(ctx, Action.CREDENTIALS_LIST, scope)
        out = credential_pb2.ListAccessKeysResponse()
        prefix = self._cc.keys.credentials_prefix()
        start: bytes | None = None
        while True:
            page = await self._cc.store.range(prefix, start=start, limit=500)
            for kv in page.kvs:
                rec = records_pb2.CredentialRecord.FromString(kv.value)
                if _in_scope(rec, scope) and (
                    not req.principal_id or rec.principal_id == req.principal_id
                ):
                    out.access_keys.append(_public(rec))
            if not page.more or not page.kvs:
                return out
            start = page.kvs[-1].key + b"\x00"

    async def delete_access_key(
        self, ctx: RequestContext, req: credential_pb2.DeleteAccessKeyRequest
    ) -> credential_pb2.DeleteAccessKeyResponse:
        # Authorized before the lookup, in the scope the request names (else the caller's): a
        # key outside it is NoSuchAccessKey whether or not it exists.
        scope = self._cc.scope_of(ctx, req.scope if req.HasField("scope") else None)
        await self._cc.authorize(ctx, Action.CREDENTIALS_DELETE, scope)
        k = self._cc.keys.credential(req.access_key_id)
        kv = await self._cc.store.get(k) if req.access_key_id else None
        rec = records_pb2.CredentialRecord.FromString(kv.value) if kv is not None else None
        if rec is None or not _in_scope(rec, scope):
            raise NoSuchAccessKey(AccessKeyId=req.access_key_id)
        owner = Principal(rec.principal_id, rec.org_id, rec.project_id or None)
        if owner != ctx.principal:
            await self._cc.authorize_acting_as(ctx, Action.CREDENTIALS_DELETE, owner.scope, owner)
        await self._cc.store.delete(k)
        self._cache.evict(k)
        return credential_pb2.DeleteAccessKeyResponse()


def _owner(spelled: str, scope: Scope) -> Principal:
    """The principal a new key of ``scope`` is for; a spelled-out home must be ``scope``."""
    owner = parse_identity(spelled, scope)
    if owner.scope != scope:
        raise InvalidArgument(
            f"principal {spelled!r} does not belong to the key's scope {scope}",
            ArgumentName="principal_id",
        )
    return owner


def _in_scope(rec: records_pb2.CredentialRecord, scope: Scope) -> bool:
    if rec.org_id != scope.org_id:
        return False
    return scope.project_id is None or rec.project_id == scope.project_id
