"""``Core``: the in-process implementation of the service protocols (BucketOperations and
ObjectOperations), over a metadata store and a chunk backend.

Each method first passes the caller's rate limits (:mod:`lightningstor_api.ratelimit`: both
APIs reach the core here), then calls the operation, a module function ``f(cc, ctx, req)``
(:mod:`.buckets`, :mod:`.objects`, :mod:`.tagging`, :mod:`.listing`, :mod:`.copy`,
:mod:`.multipart`…).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable
from typing import Any

from lightningstor.v1 import bucket_pb2, lifecycle_pb2, object_pb2, objectlock_pb2
from lightningstor_api import attributes, bucketconfig, tracing
from lightningstor_api.access import bucket_policy, explain, public_access
from lightningstor_api.access.acl import bucket_acl, object_acl, ownership_controls
from lightningstor_api.authz import AllowAll, Authorizer
from lightningstor_api.core import (
    bucket_delete,
    buckets,
    copy,
    listing,
    multipart,
    multipart_complete,
    multipart_list,
    objects,
    tagging,
    tempfiles,
)
from lightningstor_api.core.admin import Admin
from lightningstor_api.core.bucket_cache import TTL_SECONDS, BucketCache
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.gc import GarbageCollector
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.core.quotas import Quotas
from lightningstor_api.core.usage_folder import UsageFolder
from lightningstor_api.core.usage_meter import RequestMeter
from lightningstor_api.core.watched_cache import WatchedCache
from lightningstor_api.encryption import load_key_manager
from lightningstor_api.lifecycle import configuration
from lightningstor_api.lifecycle.worker import LifecycleWorker
from lightningstor_api.metadata import MetadataStore, open_store
from lightningstor_api.objectlock import operations as objectlock
from lightningstor_api.ratelimit import RateLimiter
from lightningstor_storage import StorageBackend, open_backend
from lightningstor_storage.replicated.backend import ReplicatedBackend
from lightningstor_types.config import Settings
from lightningstor_types.scope import Principal
from lightningstor_types.service import ObjectStream, RequestContext

log = logging.getLogger(__name__)


class Core:
    """Buckets and objects of one store; frontends call it through the service protocols."""

    def __init__(self, cc: CoreContext) -> None:
        self.cc = cc
        self.gc = GarbageCollector(cc)
        usage = cc.settings.usage
        self.usage_folder = UsageFolder(cc.store, cc.keys, usage.fold_interval_seconds)
        self.request_meter = RequestMeter(cc.store, cc.keys, usage.flush_interval_seconds)
        """Frontends report finished requests here (through the server's hooks)."""
        self.limits = RateLimiter(
            cc.quotas,
            cc.settings.quotas.burst_seconds,
            self.request_meter.throttled,
            cc.settings.quotas.refusal_delay_seconds,
        )
        self.admin = Admin(cc, self.gc)
        self.lifecycle = LifecycleWorker(cc)
        self._background = False
        self._closed = False

    @classmethod
    async def open(cls, settings: Settings, *, authorizer: Authorizer | None = None) -> Core:
        """Open the configured metadata store and chunk backend (creating the data dir)."""
        settings.server.data_dir.mkdir(parents=True, exist_ok=True)
        store: MetadataStore = await open_store(settings)
        try:
            storage: StorageBackend = open_backend(settings)
        except BaseException:
            await store.close()
            raise
        keys = KeySchema(root=settings.metadata.prefix.encode())
        context_class = CoreContext
        if tracing.enabled(settings):  # the traced variants only when tracing is on
            store = tracing.TracedStore(store, settings.metadata.backend)
            storage = tracing.TracedStorage(storage)
            context_class = tracing.TracedCoreContext
        cc = context_class(
            settings=settings,
            store=store,
            storage=storage,
            authorizer=authorizer if authorizer is not None else AllowAll(),
            keys=keys,
            bucket_cache=BucketCache(store, keys.all_buckets_prefix()),
            org_cache=WatchedCache(store, keys.orgs_prefix(), ttl=TTL_SECONDS, name="org-cache"),
            quotas=Quotas(store, keys, settings),
            keymaster=load_key_manager(settings),
        )
        return cls(cc)

    async def start_background(self, *, maintenance: bool = True, exclusive: bool = False) -> None:
        """Start garbage collection (journal, expired uploads, orphan chunks), usage folding,
        the lifecycle worker (which acts only while it holds the cluster's lease), the bucket
        cache's watch and the request meter's flushes in this loop.

        ``maintenance=False`` (a worker of a multi-process server other than worker 0) starts
        only what the request path needs: the watch, the meter, the storage-node probes; the
        collector, the usage folder and scrub/repair run once per server, in worker 0.
        ``exclusive``: no other process writes to this data directory, so every temporary chunk
        file this process is not writing is a crash's leftover, removed now.
        """
        if maintenance and exclusive:
            removed = await tempfiles.sweep(self.cc.storage, 0)
            if removed:
                log.info("removed %d temporary chunk files of an earlier run", removed)
        if maintenance:
            self.gc.start()
            self.usage_folder.start()
            if self.cc.settings.lifecycle.enabled:
                self.lifecycle.start()
        backend = tracing.unwrapped(self.cc.storage)
        if isinstance(backend, ReplicatedBackend):  # node probes; scrub, repair
            backend.start_background(self.gc.referenced_chunks if maintenance else None)
        if self.cc.bucket_cache is not None:
            self.cc.bucket_cache.start()
        if self.cc.org_cache is not None:
            self.cc.org_cache.start()
        self.request_meter.start()
        self._background = True

    async def close(self) -> None:
        """Stop background work, then release the store and the backend (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._background:
            await self.lifecycle.stop()
            await self.gc.stop()
            await self.usage_folder.stop()
            await self.request_meter.stop()  # writes the last counts
            if self.cc.bucket_cache is not None:
                await self.cc.bucket_cache.stop()
            if self.cc.org_cache is not None:
                await self.cc.org_cache.stop()
            self._background = False
        try:
            await self.cc.storage.close()
        finally:
            await self.cc.store.close()

    async def __aenter__(self) -> Core:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ---- BucketOperations ----

    async def create_bucket(
        self, ctx: RequestContext, req: bucket_pb2.CreateBucketRequest
    ) -> bucket_pb2.CreateBucketResponse:
        await self.limits.admit(ctx)
        return await buckets.create_bucket(self.cc, ctx, req)

    async def head_bucket(
        self, ctx: RequestContext, req: bucket_pb2.HeadBucketRequest
    ) -> bucket_pb2.HeadBucketResponse:
        await self.limits.admit(ctx)
        return await buckets.head_bucket(self.cc, ctx, req)

    async def delete_bucket(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketRequest
    ) -> bucket_pb2.DeleteBucketResponse:
        await self.limits.admit(ctx)
        return await bucket_delete.delete_bucket(self.cc, ctx, req)

    async def list_buckets(
        self, ctx: RequestContext, req: bucket_pb2.ListBucketsRequest
    ) -> bucket_pb2.ListBucketsResponse:
        await self.limits.admit(ctx)
        return await buckets.list_buckets(self.cc, ctx, req)

    async def get_bucket_versioning(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketVersioningRequest
    ) -> bucket_pb2.GetBucketVersioningResponse:
        await self.limits.admit(ctx)
        return await buckets.get_bucket_versioning(self.cc, ctx, req)

    async def put_bucket_versioning(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketVersioningRequest
    ) -> bucket_pb2.PutBucketVersioningResponse:
        await self.limits.admit(ctx)
        return await buckets.put_bucket_versioning(self.cc, ctx, req)

    async def get_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketTaggingRequest
    ) -> bucket_pb2.GetBucketTaggingResponse:
        await self.limits.admit(ctx)
        return await buckets.get_bucket_tagging(self.cc, ctx, req)

    async def put_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketTaggingRequest
    ) -> bucket_pb2.PutBucketTaggingResponse:
        await self.limits.admit(ctx)
        return await buckets.put_bucket_tagging(self.cc, ctx, req)

    async def delete_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketTaggingRequest
    ) -> bucket_pb2.DeleteBucketTaggingResponse:
        await self.limits.admit(ctx)
        return await buckets.delete_bucket_tagging(self.cc, ctx, req)

    async def get_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketCorsRequest
    ) -> bucket_pb2.GetBucketCorsResponse:
        await self.limits.admit(ctx)
        return await bucketconfig.get_bucket_cors(self.cc, ctx, req)

    async def put_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketCorsRequest
    ) -> bucket_pb2.PutBucketCorsResponse:
        await self.limits.admit(ctx)
        return await bucketconfig.put_bucket_cors(self.cc, ctx, req)

    async def delete_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketCorsRequest
    ) -> bucket_pb2.DeleteBucketCorsResponse:
        await self.limits.admit(ctx)
        return await bucketconfig.delete_bucket_cors(self.cc, ctx, req)

    async def bucket_cors(
        self, principal: Principal, bucket: str
    ) -> bucket_pb2.CorsConfiguration | None:
        return await bucketconfig.bucket_cors(self.cc, principal.scope, bucket)

    async def get_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketEncryptionRequest
    ) -> bucket_pb2.GetBucketEncryptionResponse:
        await self.limits.admit(ctx)
        return await bucketconfig.get_bucket_encryption(self.cc, ctx, req)

    async def put_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketEncryptionRequest
    ) -> bucket_pb2.PutBucketEncryptionResponse:
        await self.limits.admit(ctx)
        return await bucketconfig.put_bucket_encryption(self.cc, ctx, req)

    async def delete_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketEncryptionRequest
    ) -> bucket_pb2.DeleteBucketEncryptionResponse:
        await self.limits.admit(ctx)
        return await bucketconfig.delete_bucket_encryption(self.cc, ctx, req)

    async def get_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.GetBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.GetBucketLifecycleConfigurationResponse:
        await self.limits.admit(ctx)
        return await configuration.get_bucket_lifecycle_configuration(self.cc, ctx, req)

    async def put_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.PutBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.PutBucketLifecycleConfigurationResponse:
        await self.limits.admit(ctx)
        return await configuration.put_bucket_lifecycle_configuration(self.cc, ctx, req)

    async def delete_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.DeleteBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.DeleteBucketLifecycleConfigurationResponse:
        await self.limits.admit(ctx)
        return await configuration.delete_bucket_lifecycle_configuration(self.cc, ctx, req)

    # ---- ObjectLockOperations ----

    async def get_object_lock_configuration(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectLockConfigurationRequest
    ) -> objectlock_pb2.GetObjectLockConfigurationResponse:
        await self.limits.admit(ctx)
        return await objectlock.get_object_lock_configuration(self.cc, ctx, req)

    async def put_object_lock_configuration(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectLockConfigurationRequest
    ) -> objectlock_pb2.PutObjectLockConfigurationResponse:
        await self.limits.admit(ctx)
        return await objectlock.put_object_lock_configuration(self.cc, ctx, req)

    async def get_object_retention(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectRetentionRequest
    ) -> objectlock_pb2.GetObjectRetentionResponse:
        await self.limits.admit(ctx)
        return await objectlock.get_object_retention(self.cc, ctx, req)

    async def put_object_retention(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectRetentionRequest
    ) -> objectlock_pb2.PutObjectRetentionResponse:
        await self.limits.admit(ctx)
        return await objectlock.put_object_retention(self.cc, ctx, req)

    async def get_object_legal_hold(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectLegalHoldRequest
    ) -> objectlock_pb2.GetObjectLegalHoldResponse:
        await self.limits.admit(ctx)
        return await objectlock.get_object_legal_hold(self.cc, ctx, req)

    async def put_object_legal_hold(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectLegalHoldRequest
    ) -> objectlock_pb2.PutObjectLegalHoldResponse:
        await self.limits.admit(ctx)
        return await objectlock.put_object_legal_hold(self.cc, ctx, req)

    async def get_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyRequest
    ) -> bucket_pb2.GetBucketPolicyResponse:
        await self.limits.admit(ctx)
        return await bucket_policy.get_bucket_policy(self.cc, ctx, req)

    async def put_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketPolicyRequest
    ) -> bucket_pb2.PutBucketPolicyResponse:
        await self.limits.admit(ctx)
        return await bucket_policy.put_bucket_policy(self.cc, ctx, req)

    async def delete_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketPolicyRequest
    ) -> bucket_pb2.DeleteBucketPolicyResponse:
        await self.limits.admit(ctx)
        return await bucket_policy.delete_bucket_policy(self.cc, ctx, req)

    async def get_bucket_policy_status(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyStatusRequest
    ) -> bucket_pb2.GetBucketPolicyStatusResponse:
        await self.limits.admit(ctx)
        return await bucket_policy.get_bucket_policy_status(self.cc, ctx, req)

    async def get_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.GetPublicAccessBlockRequest
    ) -> bucket_pb2.GetPublicAccessBlockResponse:
        await self.limits.admit(ctx)
        return await public_access.get_public_access_block(self.cc, ctx, req)

    async def put_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.PutPublicAccessBlockRequest
    ) -> bucket_pb2.PutPublicAccessBlockResponse:
        await self.limits.admit(ctx)
        return await public_access.put_public_access_block(self.cc, ctx, req)

    async def delete_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.DeletePublicAccessBlockRequest
    ) -> bucket_pb2.DeletePublicAccessBlockResponse:
        await self.limits.admit(ctx)
        return await public_access.delete_public_access_block(self.cc, ctx, req)

    async def explain_access(
        self, ctx: RequestContext, req: bucket_pb2.ExplainAccessRequest
    ) -> bucket_pb2.ExplainAccessResponse:
        await self.limits.admit(ctx)
        return await explain.explain_access(self.cc, ctx, req)

    async def get_bucket_acl(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketAclRequest
    ) -> bucket_pb2.GetBucketAclResponse:
        await self.limits.admit(ctx)
        return await bucket_acl.get_bucket_acl(self.cc, ctx, req)

    async def put_bucket_acl(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketAclRequest
    ) -> bucket_pb2.PutBucketAclResponse:
        await self.limits.admit(ctx)
        return await bucket_acl.put_bucket_acl(self.cc, ctx, req)

    async def get_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketOwnershipControlsRequest
    ) -> bucket_pb2.GetBucketOwnershipControlsResponse:
        await self.limits.admit(ctx)
        return await ownership_controls.get_bucket_ownership_controls(self.cc, ctx, req)

    async def put_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketOwnershipControlsRequest
    ) -> bucket_pb2.PutBucketOwnershipControlsResponse:
        await self.limits.admit(ctx)
        return await ownership_controls.put_bucket_ownership_controls(self.cc, ctx, req)

    async def delete_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketOwnershipControlsRequest
    ) -> bucket_pb2.DeleteBucketOwnershipControlsResponse:
        await self.limits.admit(ctx)
        return await ownership_controls.delete_bucket_ownership_controls(self.cc, ctx, req)

    # ---- ObjectOperations: objects ----

    async def put_object(
        self,
        ctx: RequestContext,
        header: object_pb2.PutObjectHeader,
        body: AsyncIterable[bytes],
    ) -> object_pb2.PutObjectResponse:
        grant = await self.limits.admit(ctx, inbound=True)
        return await objects.put_object(self.cc, ctx, header, grant.inbound(body))

    async def get_object(
        self, ctx: RequestContext, req: object_pb2.GetObjectRequest
    ) -> ObjectStream:
        grant = await self.limits.admit(ctx, outbound=True)
        return grant.outbound(await objects.get_object(self.cc, ctx, req))

    async def head_object(
        self, ctx: RequestContext, req: object_pb2.HeadObjectRequest
    ) -> object_pb2.HeadObjectResponse:
        await self.limits.admit(ctx)
        return await objects.head_object(self.cc, ctx, req)

    async def get_object_attributes(
        self, ctx: RequestContext, req: object_pb2.GetObjectAttributesRequest
    ) -> object_pb2.GetObjectAttributesResponse:
        await self.limits.admit(ctx)
        return await attributes.get_object_attributes(self.cc, ctx, req)

    async def delete_object(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectRequest
    ) -> object_pb2.DeleteObjectResponse:
        await self.limits.admit(ctx)
        return await objects.delete_object(self.cc, ctx, req)

    async def delete_objects(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectsRequest
    ) -> object_pb2.DeleteObjectsResponse:
        await self.limits.admit(ctx)
        return await objects.delete_objects(self.cc, ctx, req)

    async def copy_object(
        self, ctx: RequestContext, req: object_pb2.CopyObjectRequest
    ) -> object_pb2.CopyObjectResponse:
        await self.limits.admit(ctx)
        return await copy.copy_object(self.cc, ctx, req)

    async def get_object_tagging(
        self, ctx: RequestContext, req: object_pb2.GetObjectTaggingRequest
    ) -> object_pb2.GetObjectTaggingResponse:
        await self.limits.admit(ctx)
        return await tagging.get_object_tagging(self.cc, ctx, req)

    async def put_object_tagging(
        self, ctx: RequestContext, req: object_pb2.PutObjectTaggingRequest
    ) -> object_pb2.PutObjectTaggingResponse:
        await self.limits.admit(ctx)
        return await tagging.put_object_tagging(self.cc, ctx, req)

    async def delete_object_tagging(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectTaggingRequest
    ) -> object_pb2.DeleteObjectTaggingResponse:
        await self.limits.admit(ctx)
        return await tagging.delete_object_tagging(self.cc, ctx, req)

    async def get_object_acl(
        self, ctx: RequestContext, req: object_pb2.GetObjectAclRequest
    ) -> object_pb2.GetObjectAclResponse:
        await self.limits.admit(ctx)
        return await object_acl.get_object_acl(self.cc, ctx, req)

    async def put_object_acl(
        self, ctx: RequestContext, req: object_pb2.PutObjectAclRequest
    ) -> object_pb2.PutObjectAclResponse:
        await self.limits.admit(ctx)
        return await object_acl.put_object_acl(self.cc, ctx, req)

    # ---- ObjectOperations: listing ----

    async def list_objects(
        self, ctx: RequestContext, req: object_pb2.ListObjectsRequest
    ) -> object_pb2.ListObjectsResponse:
        await self.limits.admit(ctx)
        return await listing.list_objects(self.cc, ctx, req)

    async def list_object_versions(
        self, ctx: RequestContext, req: object_pb2.ListObjectVersionsRequest
    ) -> object_pb2.ListObjectVersionsResponse:
        await self.limits.admit(ctx)
        return await listing.list_object_versions(self.cc, ctx, req)

    # ---- ObjectOperations: multipart ----

    async def create_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.CreateMultipartUploadRequest
    ) -> object_pb2.CreateMultipartUploadResponse:
        await self.limits.admit(ctx)
        return await multipart.create_multipart_upload(self.cc, ctx, req)

    async def upload_part(
        self,
        ctx: RequestContext,
        header: object_pb2.UploadPartHeader,
        body: AsyncIterable[bytes],
    ) -> object_pb2.UploadPartResponse:
        grant = await self.limits.admit(ctx, inbound=True)
        return await multipart.upload_part(self.cc, ctx, header, grant.inbound(body))

    async def upload_part_copy(
        self, ctx: RequestContext, req: object_pb2.UploadPartCopyRequest
    ) -> object_pb2.UploadPartCopyResponse:
        await self.limits.admit(ctx)
        return await multipart.upload_part_copy(self.cc, ctx, req)

    async def complete_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.CompleteMultipartUploadRequest
    ) -> object_pb2.CompleteMultipartUploadResponse:
        await self.limits.admit(ctx)
        return await multipart_complete.complete_multipart_upload(self.cc, ctx, req)

    async def abort_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.AbortMultipartUploadRequest
    ) -> object_pb2.AbortMultipartUploadResponse:
        await self.limits.admit(ctx)
        return await multipart.abort_multipart_upload(self.cc, ctx, req)

    async def list_multipart_uploads(
        self, ctx: RequestContext, req: object_pb2.ListMultipartUploadsRequest
    ) -> object_pb2.ListMultipartUploadsResponse:
        await self.limits.admit(ctx)
        return await multipart_list.list_multipart_uploads(self.cc, ctx, req)

    async def list_parts(
        self, ctx: RequestContext, req: object_pb2.ListPartsRequest
    ) -> object_pb2.ListPartsResponse:
        await self.limits.admit(ctx)
        return await multipart_list.list_parts(self.cc, ctx, req)
