"""Multipart uploads: create, upload a part, complete, abort, list parts.

CompleteMultipartUpload does its work before the response starts (the core copies no data, so
it is quick), so a failure is an ordinary error response rather than S3's "200 with an error
document inside".
"""

from __future__ import annotations

from urllib.parse import quote

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_s3 import acl_xml, objectlock_xml, sse_c, xml, xml_in
from lightningstor_s3 import headers as hdr
from lightningstor_s3.handlers.base import S3Call, int_param
from lightningstor_s3.handlers.listing import upload_entry
from lightningstor_s3.handlers.objects import (
    body_fields,
    customer_key,
    encryption_fields,
    part_number,
)
from lightningstor_types.errors import InvalidArgument


def _upload_id(call: S3Call) -> str:
    upload_id = call.query.get("uploadId", "")
    if not upload_id:
        raise InvalidArgument("The uploadId must not be empty", ArgumentName="uploadId")
    return upload_id


async def create_multipart_upload(call: S3Call) -> None:
    h = call.headers
    req = object_pb2.CreateMultipartUploadRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        headers=hdr.content_headers(h),
        user_metadata=hdr.user_metadata(h),
        tags=hdr.tags(h["x-amz-tagging"]) if "x-amz-tagging" in h else [],
        storage_class=h.get("x-amz-storage-class", ""),
        checksum_algorithm=hdr.checksum_algorithm(h),
        checksum_type=hdr.checksum_type(h),
        acl=acl_xml.from_headers(h, call.query),
    )
    encryption_fields(req, h)
    if (ck := customer_key(call)) is not None:
        req.customer_key.CopyFrom(ck)
    objectlock_xml.apply_lock_headers(req, h, call.query)
    await call.ex.drain()
    resp = await call.service.create_multipart_upload(call.ctx, req)
    doc = xml.InitiateMultipartUploadResult(resp.bucket, resp.key, resp.upload_id)
    out = hdr.encryption(resp.server_side_encryption, resp.kms_key_id, resp.kms_context)
    out.extend(sse_c.answer(resp.sse_customer_algorithm, resp.sse_customer_key_md5))
    if req.checksum_algorithm:
        name = common_pb2.ChecksumAlgorithm.Name(req.checksum_algorithm)
        out.append((b"x-amz-checksum-algorithm", name.removeprefix("CHECKSUM_ALGORITHM_").encode()))
    if req.checksum_type:
        name = common_pb2.ChecksumType.Name(req.checksum_type)
        out.append((b"x-amz-checksum-type", name.removeprefix("CHECKSUM_TYPE_").encode()))
    await call.ex.respond_xml(xml.render(doc), out)


async def upload_part(call: S3Call) -> None:
    header = object_pb2.UploadPartHeader(
        bucket=call.route.bucket,
        key=call.route.key,
        upload_id=_upload_id(call),
        part_number=part_number(call),
    )
    body_fields(call, header)
    if (ck := customer_key(call)) is not None:
        header.customer_key.CopyFrom(ck)
    resp = await call.service.upload_part(call.ctx, header, call.body())
    out = [(b"etag", resp.etag.encode()), *hdr.checksum_headers(resp.checksums)]
    out.extend(hdr.encryption(resp.server_side_encryption, resp.kms_key_id))
    out.extend(sse_c.answer(resp.sse_customer_algorithm, resp.sse_customer_key_md5))
    await call.ex.respond(200, out)


async def complete_multipart_upload(call: S3Call) -> None:
    parts = xml_in.complete_multipart_upload(await call.read_xml(object_checksums=True))
    req = object_pb2.CompleteMultipartUploadRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        upload_id=_upload_id(call),
        parts=parts,
        expected_checksums=hdr.expected_checksums(call.headers),
    )
    req.expected_checksums.type = hdr.checksum_type(call.headers)
    if (ck := customer_key(call)) is not None:
        req.customer_key.CopyFrom(ck)
    if (cond := hdr.conditions(call.headers)) is not None:
        req.conditions.CopyFrom(cond)
    resp = await call.service.complete_multipart_upload(call.ctx, req)
    scheme = call.ex.scope.get("scheme", "http")
    location = f"{scheme}://{call.ex.host}/{quote(resp.bucket)}/{quote(resp.key)}"
    doc = xml.CompleteMultipartUploadResult(
        location=location,
        bucket=resp.bucket,
        key=resp.key,
        etag=resp.etag,
        checksums=xml.Checksums.of(resp.checksums),
    )
    out = hdr.written_version_headers(resp.version_id)
    out.extend(hdr.encryption(resp.server_side_encryption, resp.kms_key_id))
    out.extend(sse_c.answer(resp.sse_customer_algorithm, resp.sse_customer_key_md5))
    await call.ex.respond_xml(xml.render(doc), out)


async def abort_multipart_upload(call: S3Call) -> None:
    await call.service.abort_multipart_upload(
        call.ctx,
        object_pb2.AbortMultipartUploadRequest(
            bucket=call.route.bucket, key=call.route.key, upload_id=_upload_id(call)
        ),
    )
    await call.ex.respond(204)


async def list_parts(call: S3Call) -> None:
    q = call.query
    req = object_pb2.ListPartsRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        upload_id=_upload_id(call),
        max_parts=int_param(q, "max-parts", 1000, high=1000) or 1000,
        part_number_marker=int_param(q, "part-number-marker", 0, high=10000),
    )
    resp = await call.service.list_parts(call.ctx, req)
    upload = upload_entry(resp.upload, lambda s: s)
    doc = xml.ListPartsResult(
        bucket=call.route.bucket,
        key=call.route.key,
        upload_id=req.upload_id,
        part_number_marker=req.part_number_marker,
        next_part_number_marker=resp.next_part_number_marker,
        max_parts=req.max_parts,
        is_truncated=resp.is_truncated,
        parts=[
            xml.Part(p.part_number, p.last_modified, p.etag, p.size, xml.Checksums.of(p.checksums))
            for p in resp.parts
        ],
        initiator=upload.initiator,
        owner=upload.owner,
        storage_class=upload.storage_class,
        checksum_algorithm=upload.checksum_algorithm,
        checksum_type=upload.checksum_type,
    )
    await call.ex.respond_xml(xml.render(doc))
