"""Listing endpoints: ListObjects (v1), ListObjectsV2, ListObjectVersions, ListMultipartUploads.

With ``encoding-type=url`` every key, prefix, delimiter and marker in the answer is URL-encoded
(``+`` → ``%2B``, space → ``%20``), as S3 does and boto3 asks for by default.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_s3 import xml
from lightningstor_s3.handlers.base import S3Call, int_param
from lightningstor_types.errors import InvalidArgument

Encode = Callable[[str], str]


def _encoder(call: S3Call) -> tuple[Encode, str | None]:
    kind = call.query.get("encoding-type")
    if kind is None:
        return (lambda s: s), None
    if kind.lower() != "url":
        raise InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=kind,
        )
    return (lambda s: quote(s, safe="/")), "url"


def _max_keys(call: S3Call, name: str = "max-keys") -> int:
    return int_param(call.query, name, 1000, high=call.settings.limits.max_keys)


def _algorithm(c: common_pb2.Checksums) -> str | None:
    # Plain attribute reads, in this order, not a loop of getattr: asked of every listed key.
    if c.crc32:
        return "CRC32"
    if c.crc32c:
        return "CRC32C"
    if c.crc64nvme:
        return "CRC64NVME"
    if c.sha1:
        return "SHA1"
    if c.sha256:
        return "SHA256"
    return None


def _checksum_type(c: common_pb2.Checksums) -> str | None:
    if not c.type or _algorithm(c) is None:
        return None
    return common_pb2.ChecksumType.Name(c.type).removeprefix("CHECKSUM_TYPE_")


def _contents(info: common_pb2.ObjectInfo, enc: Encode, owner: bool) -> xml.Contents:
    # Positional, and the checksum type looked at only when there is a checksum: a page builds
    # 1,000 of these, and keywords plus a second look cost a third of each.
    checksums = info.checksums
    algorithm = _algorithm(checksums)
    return xml.Contents(
        enc(info.key),
        info.last_modified,
        info.etag,
        algorithm,
        None if algorithm is None else _checksum_type(checksums),
        info.size,
        xml.Owner.of(info.owner) if owner and info.HasField("owner") else None,
        info.storage_class or "STANDARD",
    )


def _prefixes(prefixes: list[str], enc: Encode) -> list[xml.CommonPrefixes]:
    return [xml.CommonPrefixes(enc(p)) for p in prefixes]


async def list_objects(call: S3Call) -> None:
    """ListObjects (v1): ``marker`` pages; Owner always included."""
    q, (enc, encoding) = call.query, _encoder(call)
    req = object_pb2.ListObjectsRequest(
        bucket=call.route.bucket,
        prefix=q.get("prefix", ""),
        delimiter=q.get("delimiter", ""),
        max_keys=_max_keys(call),
        start_after=q.get("marker", ""),
        fetch_owner=True,
    )
    resp = await _list(call, req)
    doc = xml.ListBucketResult(
        name=call.route.bucket,
        prefix=enc(req.prefix),
        marker=enc(req.start_after),
        next_marker=enc(resp.next_marker) if resp.is_truncated and resp.next_marker else None,
        max_keys=req.max_keys,
        delimiter=enc(req.delimiter) if req.delimiter else None,
        is_truncated=resp.is_truncated,
        encoding_type=encoding,
        contents=[_contents(o, enc, True) for o in resp.objects],
        common_prefixes=_prefixes(list(resp.common_prefixes), enc),
    )
    await call.ex.respond_xml(xml.render(doc))


async def list_objects_v2(call: S3Call) -> None:
    """ListObjectsV2: continuation tokens, start-after, fetch-owner."""
    q, (enc, encoding) = call.query, _encoder(call)
    fetch_owner = q.get("fetch-owner", "false").lower() == "true"
    req = object_pb2.ListObjectsRequest(
        bucket=call.route.bucket,
        prefix=q.get("prefix", ""),
        delimiter=q.get("delimiter", ""),
        max_keys=_max_keys(call),
        start_after=q.get("start-after", ""),
        continuation_token=q.get("continuation-token", ""),
        fetch_owner=fetch_owner,
    )
    resp = await _list(call, req)
    doc = xml.ListBucketResultV2(
        name=call.route.bucket,
        prefix=enc(req.prefix),
        delimiter=enc(req.delimiter) if req.delimiter else None,
        max_keys=req.max_keys,
        key_count=len(resp.objects) + len(resp.common_prefixes),
        is_truncated=resp.is_truncated,
        continuation_token=req.continuation_token or None,
        next_continuation_token=resp.next_continuation_token or None,
        start_after=enc(req.start_after) if req.start_after else None,
        encoding_type=encoding,
        contents=[_contents(o, enc, fetch_owner) for o in resp.objects],
        common_prefixes=_prefixes(list(resp.common_prefixes), enc),
    )
    await call.ex.respond_xml(xml.render(doc))


async def _list(call: S3Call, req: object_pb2.ListObjectsRequest) -> object_pb2.ListObjectsResponse:
    if req.max_keys == 0:  # S3 answers max-keys=0 with an empty page
        await call.service.head_bucket(call.ctx, bucket_pb2.HeadBucketRequest(name=req.bucket))
        return object_pb2.ListObjectsResponse()
    return await call.service.list_objects(call.ctx, req)


async def list_object_versions(call: S3Call) -> None:
    q, (enc, encoding) = call.query, _encoder(call)
    req = object_pb2.ListObjectVersionsRequest(
        bucket=call.route.bucket,
        prefix=q.get("prefix", ""),
        delimiter=q.get("delimiter", ""),
        max_keys=_max_keys(call) or 1000,
        key_marker=q.get("key-marker", ""),
        version_id_marker=q.get("version-id-marker", ""),
    )
    resp = await call.service.list_object_versions(call.ctx, req)
    entries: list[xml.Version | xml.DeleteMarker] = []
    for v in resp.versions:
        owner = xml.Owner.of(v.owner) if v.HasField("owner") else None
        if v.is_delete_marker:
            entries.append(
                xml.DeleteMarker(enc(v.key), v.version_id, v.is_latest, v.last_modified, owner)
            )
            continue
        entries.append(
            xml.Version(
                key=enc(v.key),
                version_id=v.version_id or "null",
                is_latest=v.is_latest,
                last_modified=v.last_modified,
                etag=v.etag,
                checksum_algorithm=_algorithm(v.checksums),
                checksum_type=_checksum_type(v.checksums),
                size=v.size,
                storage_class=v.storage_class or "STANDARD",
                owner=owner,
            )
        )
    doc = xml.ListVersionsResult(
        name=call.route.bucket,
        prefix=enc(req.prefix),
        key_marker=enc(req.key_marker),
        version_id_marker=req.version_id_marker,
        next_key_marker=enc(resp.next_key_marker) if resp.is_truncated else None,
        next_version_id_marker=resp.next_version_id_marker if resp.is_truncated else None,
        max_keys=req.max_keys,
        delimiter=enc(req.delimiter) if req.delimiter else None,
        is_truncated=resp.is_truncated,
        encoding_type=encoding,
        entries=entries,
        common_prefixes=_prefixes(list(resp.common_prefixes), enc),
    )
    await call.ex.respond_xml(xml.render(doc))


async def list_multipart_uploads(call: S3Call) -> None:
    q, (enc, encoding) = call.query, _encoder(call)
    req = object_pb2.ListMultipartUploadsRequest(
        bucket=call.route.bucket,
        prefix=q.get("prefix", ""),
        delimiter=q.get("delimiter", ""),
        max_uploads=int_param(q, "max-uploads", 1000, high=1000) or 1000,
        key_marker=q.get("key-marker", ""),
        upload_id_marker=q.get("upload-id-marker", ""),
    )
    resp = await call.service.list_multipart_uploads(call.ctx, req)
    doc = xml.ListMultipartUploadsResult(
        bucket=call.route.bucket,
        key_marker=enc(req.key_marker),
        upload_id_marker=req.upload_id_marker,
        next_key_marker=enc(resp.next_key_marker),
        next_upload_id_marker=resp.next_upload_id_marker,
        prefix=enc(req.prefix),
        delimiter=enc(req.delimiter) if req.delimiter else None,
        max_uploads=req.max_uploads,
        is_truncated=resp.is_truncated,
        encoding_type=encoding,
        uploads=[upload_entry(u, enc) for u in resp.uploads],
        common_prefixes=_prefixes(list(resp.common_prefixes), enc),
    )
    await call.ex.respond_xml(xml.render(doc))


def upload_entry(u: object_pb2.UploadInfo, enc: Encode) -> xml.Upload:
    owner = xml.Owner.of(u.owner)
    alg = common_pb2.ChecksumAlgorithm.Name(u.checksum_algorithm).removeprefix(
        "CHECKSUM_ALGORITHM_"
    )
    kind = common_pb2.ChecksumType.Name(u.checksum_type).removeprefix("CHECKSUM_TYPE_")
    return xml.Upload(
        key=enc(u.key),
        upload_id=u.upload_id,
        initiator=owner,
        owner=owner,
        storage_class=u.storage_class or "STANDARD",
        initiated=u.initiated,
        checksum_algorithm=None if alg == "UNSPECIFIED" else alg,
        checksum_type=None if kind == "UNSPECIFIED" else kind,
    )
