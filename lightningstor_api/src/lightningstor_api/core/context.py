"""What every core operation works with: metadata, chunks, limits and the authorizer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import bucket_pb2, common_pb2
from lightningstor_api.access.acl.ownership import acls_enabled
from lightningstor_api.access.authorize import ObjectReader, authorize_bucket
from lightningstor_api.access.decision import BucketAccess
from lightningstor_api.access.effective import effective_public_access_block
from lightningstor_api.access.policy import cached_policy
from lightningstor_api.authz import Authorizer
from lightningstor_api.core.bucket_cache import BucketCache
from lightningstor_api.core.content import DataCache, RecordBounds
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.core.locks import KeyedLocks
from lightningstor_api.core.quotas import Quotas
from lightningstor_api.core.watched_cache import WatchedCache
from lightningstor_api.encryption import KeyManager
from lightningstor_api.iam.audit import authorize_audited
from lightningstor_api.metadata import Compare, KeyValue, MetadataStore, Op, TxnResult
from lightningstor_storage import StorageBackend
from lightningstor_types import condition_keys as k
from lightningstor_types.actions import Action
from lightningstor_types.config import Settings
from lightningstor_types.errors import (
    AccessDenied,
    InvalidBucketName,
    NoSuchBucket,
    OperationAborted,
)
from lightningstor_types.naming import validate_bucket_name
from lightningstor_types.resources import (
    PLATFORM_RESOURCE,
    bucket_resource,
    object_resource,
    scope_resource,
)
from lightningstor_types.scope import Principal, Scope
from lightningstor_types.service import RequestContext

# How long a DeleteBucket's mark holds off writes; a mark older than this was left by a crash.
DELETE_LEASE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class BucketRef:
    """A bucket as read, with the revision a transaction compares against."""

    scope: Scope
    kv: KeyValue
    record: records_pb2.BucketRecord

    @property
    def name(self) -> str:
        return self.record.name

    def ensure_writable(self) -> None:
        """Refuse writes while a DeleteBucket is deciding (OperationAborted, as S3)."""
        mark = self.record.deleting_since
        if mark.seconds and time.time() - mark.seconds < DELETE_LEASE_SECONDS:
            raise OperationAborted(
                "A conflicting conditional operation is currently in progress against this "
                "resource. Please try again.",
                BucketName=self.name,
            )


@dataclass(slots=True)
class CoreContext:
    """Shared state of the core's operation modules."""

    settings: Settings
    store: MetadataStore
    storage: StorageBackend
    authorizer: Authorizer
    keys: KeySchema
    bucket_cache: BucketCache | None = None
    org_cache: WatchedCache | None = None
    """Org-wide records (``keys.orgs_prefix()``), watched like the bucket records."""
    quotas: Quotas | None = None
    """None: no quota is enforced (usage is counted regardless)."""
    bounds: RecordBounds = field(default_factory=RecordBounds)
    data_cache: DataCache = field(init=False)
    upload_locks: KeyedLocks = field(default_factory=KeyedLocks)
    """Part commits of one upload queue here instead of conflicting on the upload record."""
    keymaster: KeyManager | None = None
    """Master keys of server-side encryption; None: encrypted writes are refused."""

    def __post_init__(self) -> None:
        self.data_cache = DataCache(self.store, self.keys)

    def scope_of(self, ctx: RequestContext, requested: common_pb2.Scope | None) -> Scope:
        """The request's explicit scope, else the one its address names, else the caller's own."""
        if requested is not None and requested.org_id:
            return Scope(requested.org_id, requested.project_id or None)
        if ctx.scope is not None:
            return ctx.scope
        return ctx.principal.scope

    async def authorize(
        self,
        ctx: RequestContext,
        action: Action,
        scope: Scope,
        bucket: str | None = None,
        key: str | None = None,
        *,
        version: str | None = None,
    ) -> None:
        """The one authorization choke point: raises AccessDenied unless allowed; audited.

        On a bucket or object, the bucket's policy and ACLs take part (``access/decision.py``);
        an object's ACL and tags (``s3:ExistingObjectTag/…``) are those of ``version`` (""
        the current one; None: the version the request's attributes name, else the current
        one).
        """
        if bucket is None:
            resource = scope_resource(scope)
            if ctx.anonymous:  # denied, audited: only a bucket's policy lets anonymous callers in
                await authorize_bucket(self.authorizer, ctx, action, resource, None, None)
            else:
                await authorize_audited(self.authorizer, ctx, action, resource)
            return
        if key is None:
            resource = bucket_resource(scope, bucket)
        else:
            resource = object_resource(scope, bucket, key)
        access = await self.bucket_access(scope, bucket)
        if access is None and not ctx.anonymous:
            await authorize_audited(self.authorizer, ctx, action, resource)
        else:
            loader = None if key is None else self.object_reader(ctx, scope, bucket, key, version)
            await authorize_bucket(self.authorizer, ctx, action, resource, access, key, loader)

    def object_reader(
        self,
        ctx: RequestContext,
        scope: Scope,
        bucket: str,
        key: str,
        version: str | None = None,
    ) -> ObjectReader:
        """Reads the version the request addresses (its ACL and tags take part in the
        decision): ``version`` when given, else ``s3:versionid`` of the request's attributes
        (both frontends put it there), else the current version."""
        # Imported here: the ACL module reads versions, which build on this module.
        from lightningstor_api.access.acl.object_acl import stored_object

        addressed = ctx.attributes.get(k.VERSION_ID, "") if version is None else version
        return lambda: stored_object(self, scope, bucket, key, addressed)

    async def bucket_access(self, scope: Scope, name: str) -> BucketAccess | None:
        """The policy, ACL and public access block of bucket ``name`` in ``scope``; None
        without bucket, or with neither a policy nor ACLs in effect (the IAM alone decides)."""
        try:
            validate_bucket_name(name)
            ref = await self.bucket(scope, name)
        except (InvalidBucketName, NoSuchBucket):
            return None
        rec = ref.record
        acls = acls_enabled(rec)
        if not rec.policy and not acls:
            return None
        block = await self.public_access_block(ref)
        policy = cached_policy(rec.policy, name) if rec.policy else None
        acl = rec.acl if acls and rec.HasField("acl") else None
        return BucketAccess(
            scope.org_id,
            policy,
            block.restrict_public_buckets,
            acls=acls,
            acl=acl,
            ignore_public_acls=block.ignore_public_acls,
        )

    async def org_public_access_block(
        self, org: str
    ) -> bucket_pb2.PublicAccessBlockConfiguration | None:
        """The org-wide public access block of ``org`` (None: it has none), through the
        org cache: another server's change holds here within the watch's latency."""
        key = self.keys.org_public_access_block(org)
        kv = await (self.org_cache.get(key) if self.org_cache is not None else self.store.get(key))
        if kv is None:
            return None
        return bucket_pb2.PublicAccessBlockConfiguration.FromString(kv.value)

    async def public_access_block(
        self, ref: BucketRef
    ) -> bucket_pb2.PublicAccessBlockConfiguration:
        """The block in force on the bucket: its own flags ORed with its org's."""
        org = await self.org_public_access_block(ref.scope.org_id)
        return effective_public_access_block(ref.record, org)

    async def authorize_acting_as(
        self, ctx: RequestContext, action: Action, scope: Scope, subject: Principal
    ) -> None:
        """Authorize ``action`` in ``scope`` where it lets the caller act as ``subject`` (a key
        for it): the authorizer also judges whether the caller already holds all the subject
        holds. Audited with the subject."""
        await authorize_audited(
            self.authorizer, ctx, action, scope_resource(scope), subject=subject
        )

    async def authorize_platform(self, ctx: RequestContext, action: Action) -> None:
        """Authorize a platform-wide operator call (resource ``org/*``); audited."""
        await authorize_audited(self.authorizer, ctx, action, PLATFORM_RESOURCE)

    async def locate(
        self,
        ctx: RequestContext,
        requested: common_pb2.Scope | None,
        name: str,
        action: Action,
        key: str | None = None,
        *,
        version: str | None = None,
    ) -> BucketRef:
        """Authorize ``action`` on the bucket (or object: its ``version``, as
        :meth:`authorize`), then look the bucket up.

        Authorization comes first, so an unauthorized caller gets AccessDenied whether or not
        the bucket exists: it never learns about another tenant's buckets. Shadowing: when the
        scope is the caller's own project (no scope in the request) and the project has no
        bucket of that name, the org's bucket of that name is used — if the caller is also
        authorized on it; otherwise NoSuchBucket, as for a name that exists nowhere.
        """
        scope = self.scope_of(ctx, requested)
        await self.authorize(ctx, action, scope, name, key, version=version)
        validate_bucket_name(name)
        try:
            return await self.bucket(scope, name)
        except NoSuchBucket:
            implicit = (requested is None or not requested.org_id) and ctx.scope is None
            if not implicit or scope.project_id is None:
                raise
        org = Scope(scope.org_id, None)
        try:
            await self.authorize(ctx, action, org, name, key, version=version)
        except AccessDenied:
            raise NoSuchBucket(BucketName=name) from None
        return await self.bucket(org, name)

    async def write_bucket(
        self, key: bytes, compares: Sequence[Compare], ops: Sequence[Op]
    ) -> TxnResult:
        """A transaction that writes a bucket record; this server reads its own write at once
        (the cache entry goes before the watch could evict it)."""
        try:
            return await self.store.txn(compares, ops)
        finally:
            if self.bucket_cache is not None:
                self.bucket_cache.evict(key)

    async def bucket(self, scope: Scope, name: str, *, fresh: bool = False) -> BucketRef:
        """Look a bucket up by name in a scope (NoSuchBucket when absent).

        From the bucket cache unless ``fresh``: callers that retry a transaction after a
        conflict read fresh, since the conflict may be the cache's staleness.
        """
        key = self.keys.bucket(scope, name)
        if self.bucket_cache is None:
            kv = await self.store.get(key)
        elif fresh:
            self.bucket_cache.evict(key)
            kv = await self.store.get(key)
        else:
            kv = await self.bucket_cache.get(key)
        if kv is None:
            raise NoSuchBucket(BucketName=name)
        return BucketRef(scope, kv, records_pb2.BucketRecord.FromString(kv.value))
