"""ListMultipartUploads and ListParts.

Upload keys are ``{key}\\0{upload id}`` and upload ids begin with their initiation time, so one
range over a bucket's uploads is ordered by key, then by initiation, as S3 lists them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.keys import SEP, split_versioned
from lightningstor_api.core.multipart import load_upload, read_parts
from lightningstor_api.metadata import KeyValue, prefix_end
from lightningstor_types.actions import Action
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.naming import validate_object_key
from lightningstor_types.scope import display_name
from lightningstor_types.service import RequestContext

DEFAULT_PAGE = 1000
_RANGE_PAGE = 1000


async def list_multipart_uploads(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.ListMultipartUploadsRequest
) -> object_pb2.ListMultipartUploadsResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.UPLOADS_LIST)
    limit = _page_size(cc, req.max_uploads, "max-uploads")
    base = cc.keys.uploads_prefix(ref.scope, ref.name)
    start: bytes | None = None
    if req.key_marker:
        marker = base + req.key_marker.encode() + SEP
        if req.upload_id_marker:
            start = marker + req.upload_id_marker.encode() + b"\x00"
        else:
            start = prefix_end(marker)  # past every upload of the marker key
    resp = object_pb2.ListMultipartUploadsResponse()
    last = ("", "")
    walk = _walk(cc, base, req.prefix, req.delimiter, start)
    async with contextlib.aclosing(walk):
        async for name, kv in walk:
            if kv is None and name == req.key_marker:
                continue  # the previous page ended on this common prefix
            rec = records_pb2.UploadRecord.FromString(kv.value) if kv is not None else None
            if rec is not None and rec.bucket_id != ref.record.bucket_id:
                continue  # left over from an earlier bucket of this name; expiry removes it
            if len(resp.uploads) + len(resp.common_prefixes) == limit:
                resp.is_truncated = True
                resp.next_key_marker, resp.next_upload_id_marker = last
                break
            if rec is None:
                resp.common_prefixes.append(name)
                last = (name, "")
            else:
                resp.uploads.append(upload_info(rec))
                last = (rec.key, rec.upload_id)
    return resp


async def _walk(
    cc: CoreContext, base: bytes, prefix: str, delimiter: str, start: bytes | None
) -> AsyncGenerator[tuple[str, KeyValue | None], None]:
    """Uploads under ``prefix`` as (key, kv), and each common prefix once as (prefix, None)."""
    lower = base + prefix.encode()
    while True:
        page = await cc.store.range(lower, start=start, limit=_RANGE_PAGE)
        jumped = False
        for kv in page.kvs:
            key, _ = split_versioned(kv.key, base)
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if cut < 0:
                yield key, kv
                continue
            common = key[: cut + len(delimiter)]
            yield common, None
            start = prefix_end(base + common.encode())  # skip the rest of it
            jumped = True
            break
        if jumped:
            continue
        if not page.more or not page.kvs:
            return
        start = page.kvs[-1].key + b"\x00"


async def list_parts(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.ListPartsRequest
) -> object_pb2.ListPartsResponse:
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.UPLOADS_LIST, req.key)
    validate_object_key(req.key)
    limit = _page_size(cc, req.max_parts, "max-parts")
    if req.part_number_marker < 0:
        raise InvalidArgument(
            "part-number-marker must not be negative", ArgumentName="part-number-marker"
        )
    upload = await load_upload(cc, ref, req.key, req.upload_id)
    parts = await read_parts(cc, req.upload_id, after=req.part_number_marker, limit=limit + 1)
    resp = object_pb2.ListPartsResponse(upload=upload_info(upload.record))
    for p in parts[:limit]:
        info = object_pb2.PartInfo(part_number=p.part_number, etag=p.etag, size=p.size)
        info.last_modified.CopyFrom(p.last_modified)
        info.checksums.CopyFrom(p.checksums)
        resp.parts.append(info)
    if len(parts) > limit:
        resp.is_truncated = True
        resp.next_part_number_marker = parts[limit - 1].part_number
    return resp


def upload_info(rec: records_pb2.UploadRecord) -> object_pb2.UploadInfo:
    """An upload as the API shows it."""
    info = object_pb2.UploadInfo(
        key=rec.key,
        upload_id=rec.upload_id,
        storage_class=rec.storage_class or "STANDARD",
        owner=common_pb2.Owner(id=rec.owner_id, display_name=display_name(rec.owner_id)),
        checksum_algorithm=rec.checksum_algorithm,
        checksum_type=rec.checksum_type,
    )
    info.initiated.CopyFrom(rec.initiated)
    return info


def _page_size(cc: CoreContext, requested: int, name: str) -> int:
    if requested < 0:
        raise InvalidArgument(f"{name} must not be negative", ArgumentName=name)
    return min(requested or DEFAULT_PAGE, cc.settings.limits.max_keys)
