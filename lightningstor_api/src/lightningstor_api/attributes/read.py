"""Read a version and one page of its part summaries, without reading any content.

A completed multipart upload keeps one ``PartSummary`` per part in the segments of its root
data record (``parts_per_segment`` parts each); a page reads the root and only the segments it
spans. Records written before ``part_count`` carry their part list inline.
"""

from __future__ import annotations

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import object_pb2
from lightningstor_api.access.absence import resolve_visible
from lightningstor_api.core.buckets import locate
from lightningstor_api.core.content import DataCache
from lightningstor_api.core.context import CoreContext
from lightningstor_api.core.convert import object_info, version_id
from lightningstor_api.core.versions import load_current
from lightningstor_api.encryption import customer as sse_c
from lightningstor_types.actions import Action
from lightningstor_types.errors import InvalidArgument, MethodNotAllowed
from lightningstor_types.naming import validate_object_key
from lightningstor_types.service import RequestContext

MAX_PARTS = 1000
"""Parts per page, at most and by default (as S3)."""


async def get_object_attributes(
    cc: CoreContext, ctx: RequestContext, req: object_pb2.GetObjectAttributesRequest
) -> object_pb2.GetObjectAttributesResponse:
    """The version ``req`` names, with its checksums and the parts after the marker."""
    if req.max_parts < 0:
        raise InvalidArgument(
            "Argument max-parts must be an integer between 0 and 2147483647",
            ArgumentName="x-amz-max-parts",
            ArgumentValue=str(req.max_parts),
        )
    if req.part_number_marker < 0:
        raise InvalidArgument(
            "Argument part-number-marker must be an integer between 0 and 2147483647",
            ArgumentName="x-amz-part-number-marker",
            ArgumentValue=str(req.part_number_marker),
        )
    ref = await locate(cc, ctx, req.scope, req.bucket, Action.OBJECTS_GET, req.key)
    validate_object_key(req.key)
    rec = await resolve_visible(cc, ctx, ref, req.key, req.version_id)
    if rec.is_delete_marker:  # reachable by version id only
        raise MethodNotAllowed(Method="GET", ResourceType="DeleteMarker")
    # checksums of the plaintext would confirm a guess of an SSE-C object's content: as S3, the
    # key is needed (and checked) first
    sse_c.keys_for_read(rec, req.customer_key if req.HasField("customer_key") else None)
    is_latest = True
    if req.version_id:
        cur = await load_current(cc, ref.scope, ref.name, req.key)
        is_latest = cur is not None and cur.record.sort_id == rec.sort_id
    info = object_info(
        ref.name, rec, version=version_id(rec, ref.record.versioning), is_latest=is_latest
    )
    limit = min(req.max_parts or MAX_PARTS, MAX_PARTS)
    resp = object_pb2.GetObjectAttributesResponse(object=info, max_parts=limit)
    count = info.parts_count
    if count and req.part_number_marker < count:
        page = await part_page(cc.data_cache, rec, req.part_number_marker, limit)
        resp.parts.extend(
            object_pb2.ObjectPartAttributes(
                part_number=p.part_number, size=p.size, checksums=p.checksums
            )
            for p in page
        )
        if page and page[-1].part_number < count:
            resp.is_truncated = True
            resp.next_part_number_marker = page[-1].part_number
    return resp


async def part_page(
    cache: DataCache, rec: records_pb2.ObjectRecord, after: int, limit: int
) -> list[records_pb2.PartSummary]:
    """Up to ``limit`` part summaries of a multipart version, from part ``after + 1`` on."""
    if rec.parts:
        return list(rec.parts[after : after + limit])
    root = await cache.load(rec.data_id)
    per = root.parts_per_segment
    if per <= 0:
        return []
    index, within = divmod(after, per)
    out: list[records_pb2.PartSummary] = []
    for span in root.children.spans[index:]:
        seg = await cache.load(span.data_id)
        out.extend(seg.parts[within : within + limit - len(out)])
        within = 0
        if len(out) >= limit:
            break
    return out
