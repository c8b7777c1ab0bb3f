"""Object endpoints: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects.

Bodies stream both ways: PutObject hands the service the decoded request body as it arrives,
GetObject sends each piece the service yields as soon as it has it.
"""

from __future__ import annotations

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_s3 import acl_xml, objectlock_xml, sse_c, xml, xml_in
from lightningstor_s3 import headers as hdr
from lightningstor_s3.handlers.base import S3Call
from lightningstor_types.errors import InvalidArgument


def part_number(call: S3Call) -> int:
    value = call.query.get("partNumber")
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 10000:
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=value,
        )
    return int(value)


def customer_key(call: S3Call, *, source: bool = False) -> common_pb2.CustomerKey | None:
    """The request's SSE-C key (``source``: its copy source's), as :func:`sse_c.customer_key`
    reads it behind the configured trusted proxies."""
    proxies = call.settings.server.trusted_proxies
    return sse_c.customer_key(call.headers, call.ex.scope, proxies, source=source)


def encryption_fields(
    msg: object_pb2.PutObjectHeader
    | object_pb2.CreateMultipartUploadRequest
    | object_pb2.CopyObjectRequest,
    h: dict[str, str],
) -> None:
    """The SSE and SSE-KMS fields of a request message, from its headers."""
    msg.server_side_encryption = h.get("x-amz-server-side-encryption", "").strip()
    msg.kms_key_id = h.get("x-amz-server-side-encryption-aws-kms-key-id", "").strip()
    msg.kms_context = h.get("x-amz-server-side-encryption-context", "").strip()


def body_fields(
    call: S3Call, header: object_pb2.PutObjectHeader | object_pb2.UploadPartHeader
) -> None:
    """Fields PutObject and UploadPart share: size, Content-MD5, checksums."""
    h = call.headers
    if (length := call.content_length()) is not None:
        header.content_length = length
    header.content_md5 = h.get("content-md5", "")
    header.expected_checksums.CopyFrom(hdr.expected_checksums(h))
    header.checksum_algorithm = hdr.checksum_algorithm(h)


async def put_object(call: S3Call) -> None:
    h = call.headers
    header = object_pb2.PutObjectHeader(
        bucket=call.route.bucket,
        key=call.route.key,
        headers=hdr.content_headers(h),
        user_metadata=hdr.user_metadata(h),
        tags=hdr.tags(h["x-amz-tagging"]) if "x-amz-tagging" in h else [],
        storage_class=h.get("x-amz-storage-class", ""),
        acl=acl_xml.from_headers(h, call.query),
    )
    encryption_fields(header, h)
    body_fields(call, header)
    if (cond := hdr.conditions(h)) is not None:
        header.conditions.CopyFrom(cond)
    objectlock_xml.apply_lock_headers(header, h, call.query)
    if (ck := customer_key(call)) is not None:
        header.customer_key.CopyFrom(ck)
    resp = await call.service.put_object(call.ctx, header, call.body())
    out = [(b"etag", resp.etag.encode()), *hdr.written_version_headers(resp.version_id)]
    out.extend(hdr.checksum_headers(resp.checksums))
    out.extend(hdr.expiration(resp.expiration_date, resp.expiration_rule_id))
    out.extend(hdr.encryption(resp.server_side_encryption, resp.kms_key_id, resp.kms_context))
    out.extend(sse_c.answer(resp.sse_customer_algorithm, resp.sse_customer_key_md5))
    await call.ex.respond(200, out)


def _read_request(call: S3Call) -> object_pb2.GetObjectRequest:
    hdr.check_overrides(call.query)
    req = object_pb2.GetObjectRequest(
        bucket=call.route.bucket,
        key=call.route.key,
        version_id=call.query.get("versionId", ""),
        part_number=part_number(call),
        checksum_mode=hdr.checksum_mode(call.headers),
    )
    if (r := hdr.byte_range(call.headers.get("range"))) is not None:
        req.range.CopyFrom(r)
    if (cond := hdr.conditions(call.headers)) is not None:
        req.conditions.CopyFrom(cond)
    if (ck := customer_key(call)) is not None:
        req.customer_key.CopyFrom(ck)
    return req


def _response_head(
    call: S3Call, header: object_pb2.GetObjectHeader, req: object_pb2.GetObjectRequest
) -> tuple[int, hdr.Headers]:
    info = header.object
    out = hdr.object_headers(info)
    out.extend(hdr.expiration(header.expiration_date, header.expiration_rule_id))
    out.append((b"content-length", str(header.content_length).encode()))
    status = 200
    if header.is_partial:
        status = 206
        span = f"bytes {header.range_first}-{header.range_last}/{info.size}"
        out.append((b"content-range", span.encode()))
    if req.part_number and info.parts_count:
        out.append((b"x-amz-mp-parts-count", str(info.parts_count).encode()))
    return status, hdr.override(out, call.query)


async def get_object(call: S3Call) -> None:
    req = _read_request(call)
    stream = await call.service.get_object(call.ctx, req)
    try:
        status, out = _response_head(call, stream.header, req)
        await call.ex.start(status, out)
        async for piece in stream.body:
            await call.ex.write(piece)
        await call.ex.write(b"", more=False)
    finally:
        await stream.aclose()


async def head_object(call: S3Call) -> None:
    r = _read_request(call)
    req = object_pb2.HeadObjectRequest(
        bucket=r.bucket,
        key=r.key,
        version_id=r.version_id,
        range=r.range if r.HasField("range") else None,
        part_number=r.part_number,
        conditions=r.conditions if r.HasField("conditions") else None,
        checksum_mode=r.checksum_mode,
        customer_key=r.customer_key if r.HasField("customer_key") else None,
    )
    resp = await call.service.head_object(call.ctx, req)
    status, out = _response_head(call, resp.header, r)
    await call.ex.start(status, out)
    await call.ex.write(b"", more=False)


async def delete_object(call: S3Call) -> None:
    resp = await call.service.delete_object(
        call.ctx,
        object_pb2.DeleteObjectRequest(
            bucket=call.route.bucket,
            key=call.route.key,
            version_id=call.query.get("versionId", ""),
            conditions=hdr.delete_conditions(call.headers),
            bypass_governance_retention=objectlock_xml.bypass(
                objectlock_xml.lock_headers(call.headers, call.query)
            ),
        ),
    )
    out = []
    if resp.version_id:
        out.append((b"x-amz-version-id", resp.version_id.encode()))
    if resp.delete_marker:
        out.append((b"x-amz-delete-marker", b"true"))
    await call.ex.respond(204, out)


async def delete_objects(call: S3Call) -> None:
    body = await call.read_xml(integrity_required=True)
    objects, quiet = xml_in.delete(body, call.settings.limits.max_delete_objects)
    resp = await call.service.delete_objects(
        call.ctx,
        object_pb2.DeleteObjectsRequest(
            bucket=call.route.bucket,
            objects=objects,
            quiet=quiet,
            bypass_governance_retention=objectlock_xml.bypass(
                objectlock_xml.lock_headers(call.headers, call.query)
            ),
        ),
    )
    deleted = [
        xml.Deleted(
            key=d.key,
            version_id=d.version_id or None,
            delete_marker=True if d.delete_marker else None,
            delete_marker_version_id=d.delete_marker_version_id or None,
        )
        for d in ([] if quiet else resp.deleted)
    ]
    errors = [xml.DeleteError(e.key, e.version_id or None, e.code, e.message) for e in resp.errors]
    await call.ex.respond_xml(xml.render(xml.DeleteResult(deleted, errors)))
