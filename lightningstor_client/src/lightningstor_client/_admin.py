"""Operator calls of the async client (``AdminService``); the caller needs the platform admin
role (resource ``org/*``), anyone else gets ``AccessDenied``. The org-wide public access block
is the org admin's too (resource ``org/{org}``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from lightningstor.v1 import admin_pb2, bucket_pb2
from lightningstor_client._admin_models import (
    ConsistencyFinding,
    ConsistencySummary,
    GcRunResult,
    GcStatus,
    RewrapProgress,
    StorageStatus,
)
from lightningstor_client._connection import Connection
from lightningstor_client._errors import translated
from lightningstor_client._models import Bucket


class AdminMethods(Connection):
    async def list_all_buckets(self) -> AsyncIterator[Bucket]:
        """Every bucket of every scope (org, project, name order), fetched a page at a time."""
        token = ""
        while True:
            req = admin_pb2.ListAllBucketsRequest(continuation_token=token)
            resp = await self._unary(self._admin.ListAllBuckets(req, timeout=self._timeout))
            for b in resp.buckets:
                yield Bucket.from_pb(b)
            token = resp.next_continuation_token
            if not token:
                return

    async def get_org_public_access_block(
        self, org: str | None = None
    ) -> bucket_pb2.PublicAccessBlockConfiguration:
        """The org-wide public access block of ``org`` (default: the caller's own);
        NoSuchPublicAccessBlockConfiguration when the org has none."""
        req = admin_pb2.GetOrgPublicAccessBlockRequest(org=org or "")
        call = self._admin.GetOrgPublicAccessBlock(req, timeout=self._timeout)
        return (await self._unary(call)).configuration

    async def put_org_public_access_block(
        self,
        org: str | None = None,
        *,
        block_public_acls: bool = False,
        ignore_public_acls: bool = False,
        block_public_policy: bool = False,
        restrict_public_buckets: bool = False,
    ) -> None:
        """Set the org-wide block; each flag holds on every bucket of the org, ORed with the
        bucket's own block."""
        config = bucket_pb2.PublicAccessBlockConfiguration(
            block_public_acls=block_public_acls,
            ignore_public_acls=ignore_public_acls,
            block_public_policy=block_public_policy,
            restrict_public_buckets=restrict_public_buckets,
        )
        req = admin_pb2.PutOrgPublicAccessBlockRequest(org=org or "", configuration=config)
        await self._unary(self._admin.PutOrgPublicAccessBlock(req, timeout=self._timeout))

    async def delete_org_public_access_block(self, org: str | None = None) -> None:
        """Remove the org-wide block (no error when there is none)."""
        req = admin_pb2.DeleteOrgPublicAccessBlockRequest(org=org or "")
        await self._unary(self._admin.DeleteOrgPublicAccessBlock(req, timeout=self._timeout))

    async def gc_status(self) -> GcStatus:
        """The GC journal's backlog, and the last run of the server that answers."""
        req = admin_pb2.GetGcStatusRequest()
        return GcStatus.from_pb(await self._unary(self._admin.GetGcStatus(req, timeout=None)))

    async def run_gc(self) -> GcRunResult:
        """Collect now: the GC journal, then expired multipart uploads."""
        resp = await self._unary(self._admin.RunGc(admin_pb2.RunGcRequest(), timeout=None))
        return GcRunResult.from_pb(resp.result)

    async def storage_status(self) -> StorageStatus:
        """The chunk backend; for the replicated one its nodes and repair progress."""
        req = admin_pb2.GetStorageStatusRequest()
        resp = await self._unary(self._admin.GetStorageStatus(req, timeout=self._timeout))
        return StorageStatus.from_pb(resp)

    async def check_consistency(
        self,
        *,
        repair: bool = False,
        grace_seconds: float | None = None,
        verify: bool = True,
        max_findings: int = 0,
    ) -> AsyncIterator[ConsistencyFinding | ConsistencySummary]:
        """Metadata against chunk storage: findings as the server finds them, then the summary.

        A dry run unless ``repair``. ``grace_seconds`` defaults to the server's
        ``storage.gc_grace_seconds``; ``max_findings`` (0: the server's 1000) bounds the
        findings sent, never the counts. No deadline: a check reads the whole store.
        """
        req = admin_pb2.CheckConsistencyRequest(
            repair=repair, grace_seconds=grace_seconds, verify=verify, max_findings=max_findings
        )
        call = self._admin.CheckConsistency(req, timeout=None)
        try:
            with translated():
                async for item in call:
                    if item.HasField("finding"):
                        yield ConsistencyFinding.from_pb(item.finding)
                    else:
                        yield ConsistencySummary.from_pb(item.summary)
        finally:
            call.cancel()

    async def rewrap_keys(
        self, *, bucket: str = "", from_key: str = "", to_key: str = ""
    ) -> AsyncIterator[RewrapProgress]:
        """Rewrap the data keys of sealed chunks under ``to_key`` (default: the server's active
        key), only those under ``from_key`` if given, in the buckets named ``bucket`` (default:
        all). Counts after each bucket, then the totals (``done``). No deadline: it walks the
        whole store; running it again changes nothing."""
        req = admin_pb2.RewrapKeysRequest(bucket=bucket, from_key=from_key, to_key=to_key)
        call = self._admin.RewrapKeys(req, timeout=None)
        try:
            with translated():
                async for item in call:
                    yield RewrapProgress.from_pb(item)
        finally:
            call.cancel()
