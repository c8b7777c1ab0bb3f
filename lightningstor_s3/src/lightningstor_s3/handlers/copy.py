"""CopyObject and UploadPartCopy: the source named by ``x-amz-copy-source``."""

from __future__ import annotations

from lightningstor.v1 import object_pb2
from lightningstor_s3 import acl_xml, objectlock_xml, sse_c, xml
from lightningstor_s3 import headers as hdr
from lightningstor_s3.handlers.base import S3Call
from lightningstor_s3.handlers.objects import customer_key, encryption_fields, part_number


def _version_headers(version_id: str, source_version_id: str) -> hdr.Headers:
    out = hdr.written_version_headers(version_id)
    if source_version_id:
        out.append((b"x-amz-copy-source-version-id", source_version_id.encode()))
    return out


async def copy_object(call: S3Call) -> None:
    h = call.headers
    req = object_pb2.CopyObjectRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        source=hdr.copy_source(h),
        metadata_directive=hdr.directive(h, "x-amz-metadata-directive"),
        tagging_directive=hdr.directive(h, "x-amz-tagging-directive"),
        storage_class=h.get("x-amz-storage-class", ""),
        checksum_algorithm=hdr.checksum_algorithm(h),
        acl=acl_xml.from_headers(h, call.query),
    )
    encryption_fields(req, h)
    _keys(call, req)
    if req.metadata_directive == object_pb2.METADATA_DIRECTIVE_REPLACE:
        req.headers.CopyFrom(hdr.content_headers(h))
        req.user_metadata.update(hdr.user_metadata(h))
    else:  # S3 never copies the source's redirect: the request's, under either directive
        req.headers.website_redirect_location = hdr.content_headers(h).website_redirect_location
    if req.tagging_directive == object_pb2.METADATA_DIRECTIVE_REPLACE and "x-amz-tagging" in h:
        req.tags.extend(hdr.tags(h["x-amz-tagging"]))
    objectlock_xml.apply_lock_headers(req, h, call.query)
    if (cond := hdr.conditions(h)) is not None:
        req.conditions.CopyFrom(cond)
    await call.ex.drain()
    resp = await call.service.copy_object(call.ctx, req)
    doc = xml.CopyObjectResult(
        etag=resp.etag,
        last_modified=resp.last_modified,
        checksums=xml.Checksums.of(resp.checksums),
    )
    out = _version_headers(resp.version_id, resp.source_version_id)
    out.extend(hdr.encryption(resp.server_side_encryption, resp.kms_key_id, resp.kms_context))
    out.extend(sse_c.answer(resp.sse_customer_algorithm, resp.sse_customer_key_md5))
    await call.ex.respond_xml(xml.render(doc), out)


async def upload_part_copy(call: S3Call) -> None:
    h = call.headers
    req = object_pb2.UploadPartCopyRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        upload_id=call.query.get("uploadId", ""),
        part_number=part_number(call),
        source=hdr.copy_source(h),
    )
    if (value := h.get("x-amz-copy-source-range")) is not None:
        req.source_range.CopyFrom(hdr.copy_source_range(value))
    _keys(call, req)
    await call.ex.drain()
    resp = await call.service.upload_part_copy(call.ctx, req)
    doc = xml.CopyPartResult(
        etag=resp.etag,
        last_modified=resp.last_modified,
        checksums=xml.Checksums.of(resp.checksums),
    )
    out = _version_headers("", resp.source_version_id)
    out.extend(hdr.encryption(resp.server_side_encryption, resp.kms_key_id))
    out.extend(sse_c.answer(resp.sse_customer_algorithm, resp.sse_customer_key_md5))
    await call.ex.respond_xml(xml.render(doc), out)


def _keys(
    call: S3Call, req: object_pb2.CopyObjectRequest | object_pb2.UploadPartCopyRequest
) -> None:
    """The destination's and the source's SSE-C keys, when given."""
    if (ck := customer_key(call)) is not None:
        req.customer_key.CopyFrom(ck)
    if (ck := customer_key(call, source=True)) is not None:
        req.source_customer_key.CopyFrom(ck)
