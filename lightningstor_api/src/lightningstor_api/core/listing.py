"""Listing objects and object versions, with prefixes, delimiters and markers as S3 has them.

A page costs what it returns, not what the bucket holds: keys are read with range limits near
the page size, and once a key rolls up into a common prefix the scan jumps past every key under
that prefix (``prefix_end``) instead of walking them. Keys come in the store's order, which is
the byte order of their UTF-8, as S3 lists them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import object_pb2
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.context import BucketRef, CoreContext
from lightningstor_api.core.convert import (
    decode_token,
    encode_token,
    fill_object_info,
    version_id,
)
from lightningstor_api.core.ids import NULL_VERSION, is_sort_id
from lightningstor_api.core.keys import SEP
from lightningstor_api.core.versions import find_null_version
from lightningstor_api.metadata import KeyValue, MetadataStore, prefix_end
from lightningstor_types.actions import Action
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.service import RequestContext

DEFAULT_MAX_KEYS = 1000
_RESTART_LIMIT = 2  # rows asked for right after a jump, doubling while no jump follows


def page_size(cc: CoreContext, requested: int) -> int:
    """``max-keys``: 0 means 1000, more than the configured maximum is clamped (as S3 does)."""
    if requested < 0:
        raise InvalidArgument("max-keys must not be negative", ArgumentName="max-keys")
    return min(requested or DEFAULT_MAX_KEYS, cc.settings.limits.max_keys)


def common_prefix(name: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``name`` rolls up into, or None when it is listed as itself."""
    if not delimiter:
        return None
    at = name.find(delimiter, len(prefix))
    return None if at < 0 else name[: at + len(delimiter)]


async def scan(
    store: MetadataStore,
    base: bytes,
    prefix: str,
    delimiter: str,
    start: bytes | None,
    limit: int,
    name_of: Callable[[bytes], str],
) -> AsyncGenerator[list[tuple[str, KeyValue | None]], None]:
    """Batches of ``(name, kv)`` for each key under ``base + prefix`` from ``start`` on, in
    order, and ``(common prefix, None)`` once for each common prefix, whose keys are then
    skipped. A batch is what one range read gave (up to a jump): an entry at a time through the
    generator cost a tenth of a 1,000-key page.

    ``limit`` is the first range's row limit (the page size plus one); after a jump the limit
    restarts small and doubles up to ``limit`` again, so the rows read stay within a small
    multiple of the entries the caller takes.
    """
    scope = base + prefix.encode()
    size = limit
    while True:
        page = await store.range(scope, start=start, limit=size)
        jumped = False
        batch: list[tuple[str, KeyValue | None]] = []
        kv: KeyValue | None = None
        for kv in page.kvs:
            name = name_of(kv.key)
            rolled = common_prefix(name, prefix, delimiter) if delimiter else None
            if rolled is not None:
                batch.append((rolled, None))
                start = prefix_end(base + rolled.encode())
                jumped = True
                break
            batch.append((name, kv))
        if not jumped and kv is not None:
            start = kv.key + b"\x00"
        if batch:
            yield batch
        if jumped:
            size = min(_RESTART_LIMIT, limit)
        elif not page.more:
            return
        else:
            size = min(size * 2, limit)


def resume_after(
    base: bytes, marker: str, prefix: str, delimiter: str, tail: bytes
) -> bytes | None:
    """Where a listing resumes after ``marker`` (a key, or a common prefix returned last).

    ``tail`` makes the smallest store key past the marker's own: ``b"\\x00"`` after a current
    object's key, ``b"\\x01"`` after every version of a key (``key\\x00id`` < ``key\\x01``).
    """
    if not marker:
        return None
    rolled = common_prefix(marker, prefix, delimiter)
    if rolled == marker:
        return prefix_end(base + rolled.encode())
    return base + marker.encode() + tail


# ---- ListObjects (v1 and v2) ----


async def list_objects(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.ListObjectsRequest
) -> object_pb2.ListObjectsResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_LIST)
    max_keys = page_size(cc, req.max_keys)
    marker = decode_token(req.continuation_token) if req.continuation_token else req.start_after
    base = cc.keys.objects_prefix(ref.scope, ref.name)
    start = resume_after(base, marker, req.prefix, req.delimiter, b"\x00")
    resp = object_pb2.ListObjectsResponse()
    versioning = ref.record.versioning
    bucket = ref.name
    owner = req.fetch_owner
    add = resp.objects.add
    parse = records_pb2.ObjectRecord.FromString
    last = ""
    count = 0
    cut = len(base)

    def name_of(key: bytes) -> str:
        return key[cut:].decode()

    entries = scan(cc.store, base, req.prefix, req.delimiter, start, max_keys + 1, name_of)
    async with aclosing(entries) as it:
        async for batch in it:
            for name, kv in batch:
                if count == max_keys:
                    resp.is_truncated = True
                    break
                if kv is None:
                    resp.common_prefixes.append(name)
                else:
                    rec = parse(kv.value)
                    fill_object_info(
                        add(),
                        bucket,
                        rec,
                        version=version_id(rec, versioning),
                        is_latest=True,
                        owner=owner,
                    )
                last = name
                count += 1
            if resp.is_truncated:
                break
    resp.key_count = count
    if resp.is_truncated:
        resp.next_continuation_token = encode_token(last)
        resp.next_marker = last
    return resp


# ---- ListObjectVersions ----


async def list_object_versions(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.ListObjectVersionsRequest
) -> object_pb2.ListObjectVersionsResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_LIST)
    max_keys = page_size(cc, req.max_keys)
    base = cc.keys.versions_prefix(ref.scope, ref.name)
    start = await _versions_start(cc, ref, base, req)
    # After a version-id marker, the marker key's remaining versions are not its latest.
    previous = req.key_marker if req.version_id_marker else None
    resp = object_pb2.ListObjectVersionsResponse()
    last = ("", "")
    count = 0

    def name_of(key: bytes) -> str:
        return key[len(base) :].partition(SEP)[0].decode()

    entries = scan(cc.store, base, req.prefix, req.delimiter, start, max_keys + 1, name_of)
    async with aclosing(entries) as it:
        async for batch in it:
            for name, kv in batch:
                if count == max_keys:
                    resp.is_truncated = True
                    break
                if kv is None:
                    resp.common_prefixes.append(name)
                    last = (name, "")
                else:
                    rec = records_pb2.ObjectRecord.FromString(kv.value)
                    fill_object_info(
                        resp.versions.add(),
                        ref.name,
                        rec,
                        version=rec.version_id,
                        is_latest=rec.key != previous,
                    )
                    previous = rec.key
                    last = (rec.key, rec.version_id)
                count += 1
            if resp.is_truncated:
                break
    if resp.is_truncated:
        resp.next_key_marker, resp.next_version_id_marker = last
    return resp


async def _versions_start(
    cc: CoreContext, ref: BucketRef, base: bytes, req: object_pb2.ListObjectVersionsRequest
) -> bytes | None:
    """S3's markers: after every version of ``key_marker``, or, with ``version_id_marker``,
    after that one version of it."""
    marker, version = req.key_marker, req.version_id_marker
    if not version:
        return resume_after(base, marker, req.prefix, req.delimiter, b"\x01")
    if not marker:
        raise InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
            ArgumentValue=version,
        )
    if version == NULL_VERSION:
        null = await find_null_version(cc, ref.scope, ref.name, marker)
        if null is None:  # replaced meanwhile: resume after the key
            return base + marker.encode() + b"\x01"
        version = null.record.sort_id
    elif not is_sort_id(version):
        raise InvalidArgument(
            "Invalid version id specified", ArgumentName="version-id-marker", ArgumentValue=version
        )
    return base + marker.encode() + SEP + version.encode() + b"\x00"
