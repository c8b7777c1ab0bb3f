"""Multipart-upload calls of the async client."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Unpack

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_client import _requests as rq
from lightningstor_client._connection import Connection
from lightningstor_client._models import (
    ChecksumName,
    Checksums,
    Part,
    PartsPage,
    PutResult,
    Upload,
    UploadPage,
    to_datetime,
)
from lightningstor_client._requests import ContentHeaderArgs
from lightningstor_client._transfer import Body


class MultipartMethods(Connection):
    async def create_multipart_upload(
        self,
        bucket: str,
        key: str,
        *,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        storage_class: str = "",
        checksum_algorithm: ChecksumName | None = None,
        server_side_encryption: str = "",
        kms_key_id: str = "",
        kms_context: Mapping[str, str] | None = None,
        customer_key: bytes | None = None,
        **headers: Unpack[ContentHeaderArgs],
    ) -> Upload:
        """Start a multipart upload; parts are then sent with ``upload_part`` and joined by
        ``complete_multipart_upload`` (or ``upload_file`` does it all). Encryption as for
        :meth:`put_object`; with ``customer_key`` every part must give the same key."""
        req = object_pb2.CreateMultipartUploadRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            headers=common_pb2.ContentHeaders(**headers),
            user_metadata=metadata,
            tags=rq.tags(tags),
            storage_class=storage_class,
            checksum_algorithm=rq.checksum(checksum_algorithm),
            server_side_encryption=server_side_encryption,
            kms_key_id=kms_key_id,
            kms_context=rq.kms_context(kms_context),
            customer_key=rq.customer_key(customer_key),
        )
        resp = await self._unary(self._objects.CreateMultipartUpload(req, timeout=self._timeout))
        return Upload(bucket, resp.key, resp.upload_id)

    async def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        data: Body,
        *,
        content_length: int | None = None,
        content_md5: str | None = None,
        checksum_algorithm: ChecksumName | None = None,
        customer_key: bytes | None = None,
    ) -> Part:
        """Upload (or replace) one part; the body streams like :meth:`put_object`'s (an SSE-C
        upload's part gives its ``customer_key``)."""
        if content_length is None and isinstance(data, bytes | bytearray | memoryview):
            content_length = memoryview(data).nbytes
        header = object_pb2.UploadPartHeader(
            scope=self._scope,
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            content_length=content_length,
            content_md5=content_md5 or "",
            checksum_algorithm=rq.checksum(checksum_algorithm),
            customer_key=rq.customer_key(customer_key),
        )
        resp = await self._upload(
            self._objects.UploadPart, object_pb2.UploadPartRequest, header, data
        )
        return Part(part_number, resp.etag, resp.size, None, Checksums.from_pb(resp.checksums))

    async def upload_part_copy(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        source_bucket: str,
        source_key: str,
        source_version_id: str | None = None,
        source_range: tuple[int, int] | None = None,
        source_if_match: str | None = None,
        source_if_none_match: str | None = None,
        customer_key: bytes | None = None,
        source_customer_key: bytes | None = None,
    ) -> Part:
        """Make a part from (a byte range of) an existing object, inside the store (the
        upload's and an SSE-C source's keys as for :meth:`copy_object`)."""
        req = object_pb2.UploadPartCopyRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            part_number=part_number,
            source=rq.copy_source(
                self._scope,
                source_bucket,
                source_key,
                source_version_id,
                source_if_match,
                source_if_none_match,
            ),
            source_range=rq.byte_range(source_range),
            customer_key=rq.customer_key(customer_key),
            source_customer_key=rq.customer_key(source_customer_key),
        )
        resp = await self._unary(self._objects.UploadPartCopy(req, timeout=self._timeout))
        size = source_range[1] - source_range[0] + 1 if source_range is not None else None
        last_modified = to_datetime(resp.last_modified) if resp.HasField("last_modified") else None
        return Part(part_number, resp.etag, size, last_modified, Checksums.from_pb(resp.checksums))

    async def complete_multipart_upload(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Iterable[Part | tuple[int, str]],
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> PutResult:
        """Join ``parts`` (``Part``s or ``(part_number, etag)`` pairs, in order) into the object."""
        req = object_pb2.CompleteMultipartUploadRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            parts=[rq.completed_part(p) for p in parts],
            conditions=rq.conditions(if_match, if_none_match),
        )
        resp = await self._unary(self._objects.CompleteMultipartUpload(req, timeout=self._timeout))
        return PutResult.from_pb(resp)

    async def abort_multipart_upload(self, bucket: str, key: str, upload_id: str) -> None:
        """Abort an upload: its parts are deleted (NoSuchUpload if it is not open)."""
        req = object_pb2.AbortMultipartUploadRequest(
            scope=self._scope, bucket=bucket, key=key, upload_id=upload_id
        )
        await self._unary(self._objects.AbortMultipartUpload(req, timeout=self._timeout))

    async def list_multipart_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_uploads: int = 0,
        key_marker: str | None = None,
        upload_id_marker: str | None = None,
    ) -> UploadPage:
        """One page of the bucket's unfinished uploads under ``prefix``; pass ``next_key_marker``
        and ``next_upload_id_marker`` back for the next."""
        req = object_pb2.ListMultipartUploadsRequest(
            scope=self._scope,
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_uploads=max_uploads,
            key_marker=key_marker or "",
            upload_id_marker=upload_id_marker or "",
        )
        resp = await self._unary(self._objects.ListMultipartUploads(req, timeout=self._timeout))
        return UploadPage.from_pb(bucket, resp)

    async def list_parts(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        *,
        max_parts: int = 0,
        part_number_marker: int = 0,
    ) -> PartsPage:
        """One page of the parts an open upload has received; pass ``next_part_number_marker`` back
        for the next."""
        req = object_pb2.ListPartsRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            upload_id=upload_id,
            max_parts=max_parts,
            part_number_marker=part_number_marker,
        )
        resp = await self._unary(self._objects.ListParts(req, timeout=self._timeout))
        return PartsPage.from_pb(resp)
