"""``AsyncLightningStorClient``: the LightningStor gRPC API for asyncio code."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Unpack

from lightningstor.v1 import bucket_pb2, common_pb2, credential_pb2, lifecycle_pb2
from lightningstor_client import _requests as rq
from lightningstor_client import _transfer
from lightningstor_client._admin import AdminMethods
from lightningstor_client._connection import scope_pb
from lightningstor_client._iam import IamMethods
from lightningstor_client._models import (
    AccessExplanation,
    AccessKey,
    Bucket,
    CorsRule,
    ObjectInfo,
    PutResult,
    Versioning,
)
from lightningstor_client._multipart import MultipartMethods
from lightningstor_client._objectlock import ObjectLockMethods
from lightningstor_client._objects import ObjectMethods
from lightningstor_client._requests import ContentHeaderArgs
from lightningstor_client._transfer import Progress
from lightningstor_client._usage import UsageMethods
from lightningstor_types.scope import Scope

MiB = 1024 * 1024


class AsyncLightningStorClient(
    ObjectMethods, ObjectLockMethods, MultipartMethods, AdminMethods, UsageMethods, IamMethods
):
    """A client of one LightningStor endpoint (a server or a load balancer), for asyncio.

    ``AsyncLightningStorClient(endpoint="127.0.0.1:9001", *, scope=None, timeout=60.0)``:
    ``scope`` is the org/project every request acts in (default: the caller's own);
    ``timeout`` bounds each call that carries no object body. Use it as ``async with`` or call
    :meth:`close`. Failures raise the catalog's exceptions (:mod:`lightningstor_types.errors`,
    e.g. ``NoSuchBucket``), all subclasses of ``LightningStorError``.
    """

    # -- buckets ---------------------------------------------------------------------------

    async def create_bucket(
        self,
        name: str,
        *,
        region: str = "",
        tags: Mapping[str, str] | None = None,
        object_lock_enabled: bool = False,
    ) -> Bucket:
        """A new bucket in the client's scope (BucketAlreadyExists / BucketAlreadyOwnedByYou if the
        name is taken); ``object_lock_enabled``: versioned for good, versions can be locked."""
        req = bucket_pb2.CreateBucketRequest(
            scope=self._scope,
            name=name,
            region=region,
            tags=rq.tags(tags),
            object_lock_enabled=object_lock_enabled,
        )
        resp = await self._unary(self._buckets.CreateBucket(req, timeout=self._timeout))
        return Bucket.from_pb(resp.bucket)

    async def head_bucket(self, name: str) -> Bucket:
        """The bucket's description (NoSuchBucket if the scope has none of that name)."""
        req = bucket_pb2.HeadBucketRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.HeadBucket(req, timeout=self._timeout))
        return Bucket.from_pb(resp.bucket)

    async def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket (BucketNotEmpty while it holds objects, versions or uploads)."""
        req = bucket_pb2.DeleteBucketRequest(scope=self._scope, name=name)
        await self._unary(self._buckets.DeleteBucket(req, timeout=self._timeout))

    async def list_buckets(self, *, prefix: str = "", scope: Scope | None = None) -> list[Bucket]:
        """Every bucket of the scope (all pages); ``scope`` overrides the client's."""
        buckets: list[Bucket] = []
        token = ""
        while True:
            req = bucket_pb2.ListBucketsRequest(
                scope=scope_pb(scope) or self._scope, prefix=prefix, continuation_token=token
            )
            resp = await self._unary(self._buckets.ListBuckets(req, timeout=self._timeout))
            buckets.extend(Bucket.from_pb(b) for b in resp.buckets)
            token = resp.next_continuation_token
            if not token:
                return buckets

    async def get_bucket_versioning(self, name: str) -> Versioning | None:
        """``"Enabled"``, ``"Suspended"``, or None for a bucket never versioned."""
        req = bucket_pb2.GetBucketVersioningRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.GetBucketVersioning(req, timeout=self._timeout))
        return next((k for k, v in rq.VERSIONING.items() if v == resp.status), None)

    async def put_bucket_versioning(self, name: str, status: Versioning) -> None:
        """Turn versioning on (``"Enabled"``) or pause it (``"Suspended"``)."""
        req = bucket_pb2.PutBucketVersioningRequest(
            scope=self._scope, name=name, status=rq.VERSIONING[status]
        )
        await self._unary(self._buckets.PutBucketVersioning(req, timeout=self._timeout))

    async def get_bucket_tagging(self, name: str) -> dict[str, str]:
        """The bucket's tags (NoSuchTagSet when it has none)."""
        req = bucket_pb2.GetBucketTaggingRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.GetBucketTagging(req, timeout=self._timeout))
        return {t.key: t.value for t in resp.tags}

    async def put_bucket_tagging(self, name: str, tags: Mapping[str, str]) -> None:
        """Replace the bucket's tags (at most 50)."""
        req = bucket_pb2.PutBucketTaggingRequest(scope=self._scope, name=name, tags=rq.tags(tags))
        await self._unary(self._buckets.PutBucketTagging(req, timeout=self._timeout))

    async def delete_bucket_tagging(self, name: str) -> None:
        """Remove every tag of the bucket."""
        req = bucket_pb2.DeleteBucketTaggingRequest(scope=self._scope, name=name)
        await self._unary(self._buckets.DeleteBucketTagging(req, timeout=self._timeout))

    async def get_bucket_cors(self, name: str) -> list[CorsRule]:
        """The bucket's CORS rules (NoSuchCORSConfiguration when it has none)."""
        req = bucket_pb2.GetBucketCorsRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.GetBucketCors(req, timeout=self._timeout))
        return [CorsRule.from_pb(r) for r in resp.configuration.rules]

    async def put_bucket_cors(self, name: str, rules: Iterable[CorsRule]) -> None:
        """Replace the bucket's CORS rules (what browsers on other origins may do over S3)."""
        config = bucket_pb2.CorsConfiguration(rules=[r.to_pb() for r in rules])
        req = bucket_pb2.PutBucketCorsRequest(scope=self._scope, name=name, configuration=config)
        await self._unary(self._buckets.PutBucketCors(req, timeout=self._timeout))

    async def delete_bucket_cors(self, name: str) -> None:
        """Remove the bucket's CORS rules."""
        req = bucket_pb2.DeleteBucketCorsRequest(scope=self._scope, name=name)
        await self._unary(self._buckets.DeleteBucketCors(req, timeout=self._timeout))

    async def get_bucket_lifecycle(self, name: str) -> list[lifecycle_pb2.LifecycleRule]:
        """The bucket's lifecycle rules (``NoSuchLifecycleConfiguration`` when it has none)."""
        req = lifecycle_pb2.GetBucketLifecycleConfigurationRequest(scope=self._scope, name=name)
        call = self._buckets.GetBucketLifecycleConfiguration(req, timeout=self._timeout)
        return list((await self._unary(call)).rules)

    async def put_bucket_lifecycle(
        self, name: str, rules: Sequence[lifecycle_pb2.LifecycleRule]
    ) -> None:
        """Replace the bucket's lifecycle rules (1 to 1,000, validated as S3 does)."""
        req = lifecycle_pb2.PutBucketLifecycleConfigurationRequest(
            scope=self._scope, name=name, rules=rules
        )
        await self._unary(self._buckets.PutBucketLifecycleConfiguration(req, timeout=self._timeout))

    async def delete_bucket_lifecycle(self, name: str) -> None:
        """Remove every lifecycle rule of the bucket (nothing expires by rule any more)."""
        req = lifecycle_pb2.DeleteBucketLifecycleConfigurationRequest(scope=self._scope, name=name)
        await self._unary(
            self._buckets.DeleteBucketLifecycleConfiguration(req, timeout=self._timeout)
        )

    async def get_bucket_policy(self, name: str) -> str:
        """The bucket's policy document, as put (NoSuchBucketPolicy when it has none)."""
        req = bucket_pb2.GetBucketPolicyRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.GetBucketPolicy(req, timeout=self._timeout))
        return resp.policy

    async def put_bucket_policy(self, name: str, policy: str) -> None:
        """Set the bucket's policy (a JSON document; MalformedPolicy says what is wrong)."""
        req = bucket_pb2.PutBucketPolicyRequest(scope=self._scope, name=name, policy=policy)
        await self._unary(self._buckets.PutBucketPolicy(req, timeout=self._timeout))

    async def delete_bucket_policy(self, name: str) -> None:
        """Remove the bucket's policy (no error when it has none, as in S3)."""
        req = bucket_pb2.DeleteBucketPolicyRequest(scope=self._scope, name=name)
        await self._unary(self._buckets.DeleteBucketPolicy(req, timeout=self._timeout))

    async def get_bucket_policy_status(self, name: str) -> bool:
        """Whether the bucket's policy makes it public."""
        req = bucket_pb2.GetBucketPolicyStatusRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.GetBucketPolicyStatus(req, timeout=self._timeout))
        return resp.is_public

    async def get_public_access_block(self, name: str) -> bucket_pb2.PublicAccessBlockConfiguration:
        """The bucket's public access block (NoSuchPublicAccessBlockConfiguration without)."""
        req = bucket_pb2.GetPublicAccessBlockRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.GetPublicAccessBlock(req, timeout=self._timeout))
        return resp.configuration

    async def put_public_access_block(
        self,
        name: str,
        *,
        block_public_acls: bool = False,
        ignore_public_acls: bool = False,
        block_public_policy: bool = False,
        restrict_public_buckets: bool = False,
    ) -> None:
        """Set the bucket's public access block: ``block_public_policy`` refuses a public policy,
        ``restrict_public_buckets`` narrows one to its org; the two ACL flags have no effect yet."""
        config = bucket_pb2.PublicAccessBlockConfiguration(
            block_public_acls=block_public_acls,
            ignore_public_acls=ignore_public_acls,
            block_public_policy=block_public_policy,
            restrict_public_buckets=restrict_public_buckets,
        )
        req = bucket_pb2.PutPublicAccessBlockRequest(
            scope=self._scope, name=name, configuration=config
        )
        await self._unary(self._buckets.PutPublicAccessBlock(req, timeout=self._timeout))

    async def delete_public_access_block(self, name: str) -> None:
        """Remove the bucket's public access block (no error when it has none)."""
        req = bucket_pb2.DeletePublicAccessBlockRequest(scope=self._scope, name=name)
        await self._unary(self._buckets.DeletePublicAccessBlock(req, timeout=self._timeout))

    async def get_bucket_acl(self, name: str) -> common_pb2.AccessControlList:
        """The bucket's ACL: its owner and grants (the owner's FULL_CONTROL when it has none)."""
        req = bucket_pb2.GetBucketAclRequest(scope=self._scope, name=name)
        resp = await self._unary(self._buckets.GetBucketAcl(req, timeout=self._timeout))
        return resp.acl

    async def put_bucket_acl(
        self, name: str, *, acl: str = "", grants: Sequence[common_pb2.Grant] = ()
    ) -> None:
        """Replace the bucket's ACL with a canned ACL (``acl="public-read"``) or ``grants``
        (never both: InvalidRequest)."""
        req = bucket_pb2.PutBucketAclRequest(
            scope=self._scope,
            name=name,
            acl=common_pb2.AccessControlList(canned=acl, grants=grants),
        )
        await self._unary(self._buckets.PutBucketAcl(req, timeout=self._timeout))

    async def get_bucket_ownership_controls(self, name: str) -> str:
        """The bucket's Object Ownership (OwnershipControlsNotFoundError when never set: the
        default, ObjectWriter, is in force)."""
        req = bucket_pb2.GetBucketOwnershipControlsRequest(scope=self._scope, name=name)
        resp = await self._unary(
            self._buckets.GetBucketOwnershipControls(req, timeout=self._timeout)
        )
        return resp.object_ownership

    async def put_bucket_ownership_controls(self, name: str, object_ownership: str) -> None:
        """Set ``BucketOwnerEnforced`` (ACLs off), ``BucketOwnerPreferred`` or ``ObjectWriter``."""
        req = bucket_pb2.PutBucketOwnershipControlsRequest(
            scope=self._scope, name=name, object_ownership=object_ownership
        )
        await self._unary(self._buckets.PutBucketOwnershipControls(req, timeout=self._timeout))

    async def delete_bucket_ownership_controls(self, name: str) -> None:
        """Back to the default Object Ownership (ObjectWriter)."""
        req = bucket_pb2.DeleteBucketOwnershipControlsRequest(scope=self._scope, name=name)
        await self._unary(self._buckets.DeleteBucketOwnershipControls(req, timeout=self._timeout))

    async def explain_access(
        self,
        name: str,
        action: str,
        *,
        principal: str | None = None,
        key: str | None = None,
        context: Mapping[str, str] | None = None,
        scope: Scope | None = None,
    ) -> AccessExplanation:
        """Would ``principal`` (``org/id`` or ``org/project/id``; None: an anonymous caller) be
        allowed ``action`` (``s3:GetObject`` or ours) on the bucket or its object ``key``, with
        the condition keys of ``context``, and why. Changes nothing. ``scope``: the bucket's, when
        it is not the client's."""
        req = bucket_pb2.ExplainAccessRequest(
            scope=scope_pb(scope) if scope is not None else self._scope,
            name=name,
            key=key,
            action=action,
            context=dict(context or {}),
        )
        if principal is None:
            req.anonymous = True
        else:
            parts = principal.split("/")
            if len(parts) not in (2, 3) or "" in parts:
                raise ValueError(f"principal {principal!r}: write org/id or org/project/id")
            req.principal_org, req.principal_id = parts[0], parts[-1]
            req.principal_project = parts[1] if len(parts) == 3 else ""
        resp = await self._unary(self._buckets.ExplainAccess(req, timeout=self._timeout))
        return AccessExplanation.from_pb(resp)

    # -- credentials -------------------------------------------------------------------------

    async def create_access_key(
        self,
        *,
        principal_id: str | None = None,
        expires_at: datetime | None = None,
        description: str = "",
        scope: Scope | None = None,
    ) -> AccessKey:
        """A new S3 access key (default: for the caller, in the client's scope or ``scope``);
        its secret is returned only here."""
        req = credential_pb2.CreateAccessKeyRequest(
            scope=scope_pb(scope) or self._scope,
            principal_id=principal_id or "",
            expires_at=rq.timestamp(expires_at),
            description=description,
        )
        resp = await self._unary(self._credentials.CreateAccessKey(req, timeout=self._timeout))
        return AccessKey.from_pb(resp.access_key, resp.secret_access_key)

    async def list_access_keys(
        self, *, principal_id: str | None = None, scope: Scope | None = None
    ) -> list[AccessKey]:
        """The keys of a scope (the client's, or ``scope``), of one principal if given."""
        req = credential_pb2.ListAccessKeysRequest(
            scope=scope_pb(scope) or self._scope, principal_id=principal_id or ""
        )
        resp = await self._unary(self._credentials.ListAccessKeys(req, timeout=self._timeout))
        return [AccessKey.from_pb(k) for k in resp.access_keys]

    async def delete_access_key(self, access_key_id: str, *, scope: Scope | None = None) -> None:
        """Delete a key of a scope (the client's, or ``scope``); NoSuchAccessKey if that scope
        has no such key, whether or not it exists elsewhere."""
        req = credential_pb2.DeleteAccessKeyRequest(
            access_key_id=access_key_id, scope=scope_pb(scope) or self._scope
        )
        await self._unary(self._credentials.DeleteAccessKey(req, timeout=self._timeout))

    # -- files -------------------------------------------------------------------------------

    async def upload_file(
        self,
        path: str | os.PathLike[str],
        bucket: str,
        key: str,
        *,
        part_size: int = 8 * MiB,
        multipart_threshold: int = 16 * MiB,
        concurrency: int = 4,
        progress: Progress | None = None,
        resume: bool = True,
        metadata: Mapping[str, str] | None = None,
        **headers: Unpack[ContentHeaderArgs],
    ) -> PutResult:
        """Upload a file: one PutObject below ``multipart_threshold``, else parallel parts.

        With ``resume``, the multipart upload is remembered in ``<path>.lsupload``; after an
        interruption, the same call uploads only the parts the server does not have yet (the
        file must keep its size and mtime). ``progress(bytes_done, total)`` is called as the
        bytes go out.
        """
        return await _transfer.upload_file(
            self,
            Path(path),
            bucket,
            key,
            part_size=part_size,
            multipart_threshold=multipart_threshold,
            concurrency=concurrency,
            progress=progress,
            resume=resume,
            metadata=dict(metadata) if metadata is not None else None,
            headers=headers,
        )

    async def download_file(
        self,
        bucket: str,
        key: str,
        path: str | os.PathLike[str],
        *,
        version_id: str | None = None,
        part_size: int = 8 * MiB,
        concurrency: int = 4,
        progress: Progress | None = None,
    ) -> ObjectInfo:
        """Download an object to ``path`` with parallel ranged reads.

        The bytes go to a temporary file beside ``path`` that is fsynced and renamed into place
        only when complete; a change of the object midway raises ``PreconditionFailed``.
        """
        return await _transfer.download_file(
            self,
            bucket,
            key,
            Path(path),
            version_id=version_id,
            part_size=part_size,
            concurrency=concurrency,
            progress=progress,
        )
