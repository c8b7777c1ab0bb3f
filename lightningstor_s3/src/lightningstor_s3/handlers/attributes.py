"""GetObjectAttributes: ``GET /{bucket}/{key}?attributes`` with ``x-amz-object-attributes``."""

from __future__ import annotations

from lightningstor.v1 import object_pb2
from lightningstor_s3 import xml
from lightningstor_s3.handlers.base import S3Call
from lightningstor_s3.handlers.objects import customer_key
from lightningstor_s3.xml import http_date
from lightningstor_types.errors import InvalidArgument, InvalidRequest

ATTRIBUTES = frozenset({"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"})


def requested(value: str) -> frozenset[str]:
    """The attribute names of ``x-amz-object-attributes`` (comma-separated, required)."""
    names = frozenset(n.strip() for n in value.split(",") if n.strip())
    if not names:
        raise InvalidRequest(
            "The x-amz-object-attributes header specifying the attributes to be retrieved "
            "is either missing or empty"
        )
    if unknown := sorted(names - ATTRIBUTES):
        raise InvalidArgument(
            "Invalid attribute name specified.",
            ArgumentName="x-amz-object-attributes",
            ArgumentValue=unknown[0],
        )
    return names


def _count(value: str | None) -> int:
    # S3 ignores a max-parts or marker that is no non-negative integer (its default applies).
    return int(value) if value is not None and value.isdigit() and len(value) <= 9 else 0


async def get_object_attributes(call: S3Call) -> None:
    names = requested(call.headers.get("x-amz-object-attributes", ""))
    marker = _count(call.headers.get("x-amz-part-number-marker"))
    req = object_pb2.GetObjectAttributesRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        version_id=call.query.get("versionId", ""),
        max_parts=_count(call.headers.get("x-amz-max-parts")),
        part_number_marker=marker,
    )
    if (ck := customer_key(call)) is not None:
        req.customer_key.CopyFrom(ck)
    resp = await call.service.get_object_attributes(call.ctx, req)
    info = resp.object
    doc = xml.GetObjectAttributesResponse()
    if "ETag" in names:
        doc.etag = info.etag.strip('"')
    if "Checksum" in names:
        doc.checksum = xml.Checksums.of(info.checksums)
    if "ObjectParts" in names and info.parts_count:
        doc.object_parts = _parts(resp, marker)
    if "StorageClass" in names:
        doc.storage_class = info.storage_class or "STANDARD"
    if "ObjectSize" in names:
        doc.object_size = info.size
    out = [(b"last-modified", http_date(info.last_modified).encode())]
    if info.version_id:
        out.append((b"x-amz-version-id", info.version_id.encode()))
    await call.ex.respond_xml(xml.render(doc), out)


def _parts(resp: object_pb2.GetObjectAttributesResponse, marker: int) -> xml.ObjectParts:
    parts = xml.ObjectParts(parts_count=resp.object.parts_count)
    listed = [
        xml.ObjectPart(xml.Checksums.of(p.checksums), p.part_number, p.size)
        for p in resp.parts
        if p.HasField("checksums") and xml.Checksums.of(p.checksums) is not None
    ]
    if not listed:  # S3 lists parts only for uploads made with a checksum algorithm
        return parts
    parts.parts = listed
    parts.max_parts = resp.max_parts
    parts.part_number_marker = marker
    parts.is_truncated = resp.is_truncated
    if resp.is_truncated:
        parts.next_part_number_marker = resp.next_part_number_marker
    return parts
