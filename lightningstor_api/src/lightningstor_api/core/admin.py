"""Operator calls (``AdminService``): every bucket, GC status and runs, storage status, the
consistency check and the rewrap of data keys. Each is platform-wide and authorized on
``org/*`` before it reads anything; the org-wide public access block (authorized on its org) is
``access/org_public_access.py``'s."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import admin_pb2 as pb
from lightningstor_api.access import org_public_access
from lightningstor_api.core.buckets import DEFAULT_MAX_BUCKETS
from lightningstor_api.core.consistency import DEFAULT_MAX_FINDINGS, ConsistencyCheck
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.convert import (
    bucket_info,
    decode_token,
    encode_token,
    timestamp_of,
)
from lightningstor_api.core.gc import GarbageCollector, GcRun
from lightningstor_api.core.orphans import scan_prefix
from lightningstor_api.encryption.keymaster import UnknownKeyError
from lightningstor_api.encryption.rewrap import Rewrap
from lightningstor_storage.replicated.backend import ReplicatedBackend
from lightningstor_types.actions import REPAIR_ACTION, Action
from lightningstor_types.errors import InvalidArgument, InvalidRequest
from lightningstor_types.service import RequestContext

log = logging.getLogger(__name__)


class Admin:
    """The operator calls of one core (its metadata, backend and garbage collector)."""

    def __init__(self, cc: CoreContext, gc: GarbageCollector) -> None:
        self._cc = cc
        self._gc = gc

    async def list_all_buckets(
        self, ctx: RequestContext, req: pb.ListAllBucketsRequest
    ) -> pb.ListAllBucketsResponse:
        """Buckets of every scope in key order (org, project, name), a page at a time."""
        await self._cc.authorize_platform(ctx, Action.ADMIN_READ)
        if req.max_buckets < 0:
            raise InvalidArgument("max-buckets must be positive", ArgumentName="max-buckets")
        limit = min(req.max_buckets or DEFAULT_MAX_BUCKETS, DEFAULT_MAX_BUCKETS)
        prefix = self._cc.keys.all_buckets_prefix()
        after = decode_token(req.continuation_token)
        start = prefix + after.encode() + b"\x00" if after else None
        page = await self._cc.store.range(prefix, start=start, limit=limit)
        resp = pb.ListAllBucketsResponse(
            buckets=[bucket_info(records_pb2.BucketRecord.FromString(kv.value)) for kv in page.kvs]
        )
        if page.more and page.kvs:
            resp.next_continuation_token = encode_token(page.kvs[-1].key[len(prefix) :].decode())
        return resp

    async def get_org_public_access_block(
        self, ctx: RequestContext, req: pb.GetOrgPublicAccessBlockRequest
    ) -> pb.GetOrgPublicAccessBlockResponse:
        return await org_public_access.get_org_public_access_block(self._cc, ctx, req)

    async def put_org_public_access_block(
        self, ctx: RequestContext, req: pb.PutOrgPublicAccessBlockRequest
    ) -> pb.PutOrgPublicAccessBlockResponse:
        return await org_public_access.put_org_public_access_block(self._cc, ctx, req)

    async def delete_org_public_access_block(
        self, ctx: RequestContext, req: pb.DeleteOrgPublicAccessBlockRequest
    ) -> pb.DeleteOrgPublicAccessBlockResponse:
        return await org_public_access.delete_org_public_access_block(self._cc, ctx, req)

    async def get_gc_status(
        self, ctx: RequestContext, req: pb.GetGcStatusRequest
    ) -> pb.GetGcStatusResponse:
        """The journal's backlog (counted, and its oldest entry) and this server's last run."""
        await self._cc.authorize_platform(ctx, Action.ADMIN_READ)
        settings = self._cc.settings.storage
        resp = pb.GetGcStatusResponse(
            interval_seconds=settings.gc_interval_seconds, grace_seconds=settings.gc_grace_seconds
        )
        async for kv in scan_prefix(self._cc, self._cc.keys.gc_prefix()):
            if not resp.journal_entries:  # ids sort by time: the first is the oldest
                created = records_pb2.GcRecord.FromString(kv.value).created_at
                age = time.time() - created.ToNanoseconds() / 1e9
                resp.oldest_entry_age_seconds = max(age, 0.0)
            resp.journal_entries += 1
        if self._gc.last_run is not None:
            resp.last_run.CopyFrom(_run_pb(self._gc.last_run))
        return resp

    async def run_gc(self, ctx: RequestContext, req: pb.RunGcRequest) -> pb.RunGcResponse:
        """Collect now: the journal, then expired uploads (orphans: the consistency check)."""
        await self._cc.authorize_platform(ctx, Action.ADMIN_GC)
        return pb.RunGcResponse(result=_run_pb(await self._gc.collect()))

    async def get_storage_status(
        self, ctx: RequestContext, req: pb.GetStorageStatusRequest
    ) -> pb.GetStorageStatusResponse:
        """The backend's kind; for the replicated one, each node (asked now) and repair."""
        await self._cc.authorize_platform(ctx, Action.ADMIN_READ)
        storage = self._cc.storage
        caps = storage.capabilities()
        resp = pb.GetStorageStatusResponse(
            backend=caps.name, durable=caps.durable, verifies_checksums=caps.verifies_checksums
        )
        if not isinstance(storage, ReplicatedBackend):
            return resp
        cluster = storage.cluster
        infos = await cluster.refresh()
        resp.replication_factor = cluster.replication_factor
        resp.write_quorum = cluster.write_quorum
        for address, node in cluster.nodes.items():
            info = infos.get(address)
            status = cluster.health.status(address)
            resp.nodes.append(
                pb.StorageNodeStatus(
                    address=address,
                    zone=node.zone,
                    up=cluster.health.is_up(address),
                    draining=address in cluster.draining,
                    last_error=status.last_error,
                    node_id=info.node_id if info else "",
                    capacity_bytes=info.capacity_bytes if info else 0,
                    free_bytes=info.free_bytes if info else 0,
                    chunk_count=info.chunk_count if info else 0,
                )
            )
        repair = dataclasses.asdict(storage.repair_stats())
        del repair["lost"]  # the ids behind chunks_lost: not part of the status
        resp.repair.CopyFrom(
            pb.RepairStatus(**repair, scrub_rate_bytes_per_second=storage.repairer.throttle.rate)
        )
        return resp

    async def check_consistency(
        self, ctx: RequestContext, req: pb.CheckConsistencyRequest
    ) -> AsyncIterator[pb.CheckConsistencyResponse]:
        """Findings as found, then the summary (see :mod:`.consistency`)."""
        await self._cc.authorize_platform(ctx, Action.ADMIN_READ)
        if req.repair:
            await self._cc.authorize_platform(ctx, REPAIR_ACTION)
        grace = (
            req.grace_seconds
            if req.HasField("grace_seconds")
            else self._cc.settings.storage.gc_grace_seconds
        )
        if grace < 0 or req.max_findings < 0:
            raise InvalidArgument(
                "grace_seconds and max_findings must not be negative",
                ArgumentName="grace_seconds" if grace < 0 else "max_findings",
            )
        check = ConsistencyCheck(
            self._cc,
            repair=req.repair,
            grace_seconds=grace,
            verify=req.verify if req.HasField("verify") else True,
            max_findings=req.max_findings or DEFAULT_MAX_FINDINGS,
        )
        async for item in check.run():
            yield item

    async def rewrap_keys(
        self, ctx: RequestContext, req: pb.RewrapKeysRequest
    ) -> AsyncIterator[pb.RewrapKeysResponse]:
        """Progress after each bucket, then the totals (see :mod:`..encryption.rewrap`)."""
        await self._cc.authorize_platform(ctx, Action.ADMIN_REWRAP)
        keys = self._cc.keymaster
        if keys is None:
            raise InvalidRequest("server-side encryption has no key manager on this server")
        to_key = req.to_key or keys.active_key
        if req.from_key == to_key:
            raise InvalidArgument("from_key and to_key name the same key", ArgumentName="from_key")
        try:
            await keys.wrap(to_key, bytes(32))  # the target must exist before anything changes
        except UnknownKeyError:
            raise InvalidArgument(f"no encryption key {to_key!r}", ArgumentName="to_key") from None
        log.info(
            "rewrap of data keys to %r started by %s (bucket %r, from key %r)",
            to_key, ctx.principal, req.bucket or "*", req.from_key or "*",
        )  # fmt: skip
        rewrap = Rewrap(self._cc, keys, to_key=to_key, from_key=req.from_key)
        async for item in rewrap.run(req.bucket):
            yield item
        log.info("rewrap of data keys to %r finished: %s", to_key, rewrap.summary())


def _run_pb(run: GcRun) -> pb.GcRunResult:
    return pb.GcRunResult(
        finished_at=timestamp_of(run.finished_at),
        entries=run.stats.entries,
        references_released=run.stats.references_released,
        chunks_deleted=run.stats.chunks_deleted,
        bytes_freed=run.stats.bytes_freed,
        uploads_aborted=run.uploads_aborted,
        error=run.error,
        temp_files_removed=run.temp_files_removed,
    )
