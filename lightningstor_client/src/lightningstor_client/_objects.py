"""Object calls of the async client: put/get/head/delete, copy, listings, tagging, multipart."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Unpack

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_client import _requests as rq
from lightningstor_client._connection import Connection
from lightningstor_client._models import (
    ChecksumName,
    CopyResult,
    DeleteObjectsResult,
    DeleteResult,
    ListPage,
    ObjectAttributes,
    ObjectInfo,
    PutResult,
    VersionPage,
)
from lightningstor_client._requests import ContentHeaderArgs
from lightningstor_client._stream import AsyncObjectStream
from lightningstor_client._transfer import Body


class ObjectMethods(Connection):
    async def put_object(
        self,
        bucket: str,
        key: str,
        data: Body,
        *,
        content_length: int | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        storage_class: str = "",
        if_match: str | None = None,
        if_none_match: str | None = None,
        content_md5: str | None = None,
        checksum_algorithm: ChecksumName | None = None,
        server_side_encryption: str = "",
        kms_key_id: str = "",
        kms_context: Mapping[str, str] | None = None,
        customer_key: bytes | None = None,
        **headers: Unpack[ContentHeaderArgs],
    ) -> PutResult:
        """Store ``data`` (bytes, a binary file, or an (async) iterable of bytes) as one object.

        The body streams in pieces of at most 1 MiB. ``content_length`` (known for bytes) lets
        the server reject a short or long body; ``if_none_match="*"`` writes only a new key.
        Encryption at rest: ``server_side_encryption`` "AES256" (SSE-S3) or "aws:kms" (with
        ``kms_key_id`` and ``kms_context``), or ``customer_key`` (SSE-C, 32 bytes: every read
        must give it again; sent only over TLS or to a server on this machine).
        """
        if content_length is None and isinstance(data, bytes | bytearray | memoryview):
            content_length = memoryview(data).nbytes
        header = object_pb2.PutObjectHeader(
            scope=self._scope,
            bucket=bucket,
            key=key,
            content_length=content_length,
            content_md5=content_md5 or "",
            checksum_algorithm=rq.checksum(checksum_algorithm),
            headers=common_pb2.ContentHeaders(**headers),
            user_metadata=metadata,
            tags=rq.tags(tags),
            storage_class=storage_class,
            conditions=rq.conditions(if_match, if_none_match),
            server_side_encryption=server_side_encryption,
            kms_key_id=kms_key_id,
            kms_context=rq.kms_context(kms_context),
            customer_key=rq.customer_key(customer_key),
        )
        resp = await self._upload(
            self._objects.PutObject, object_pb2.PutObjectRequest, header, data
        )
        return PutResult.from_pb(resp)

    async def get_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        range: tuple[int, int | None] | None = None,
        part_number: int | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        checksum_mode: bool = False,
        customer_key: bytes | None = None,
    ) -> AsyncObjectStream:
        """Start reading an object: ``.info`` at once, the content by ``async for``.

        ``range`` is ``(first, last)`` inclusive, ``(first, None)`` to the end, or ``(-n, None)``
        for the last n bytes. Close the stream (``async with``) when not reading it to the end.
        An SSE-C object needs its ``customer_key``.
        """
        req = object_pb2.GetObjectRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            version_id=version_id or "",
            range=rq.byte_range(range),
            part_number=part_number or 0,
            conditions=rq.conditions(
                if_match, if_none_match, if_modified_since, if_unmodified_since
            ),
            checksum_mode=checksum_mode,
            customer_key=rq.customer_key(customer_key),
        )
        return await AsyncObjectStream.open(self._objects.GetObject(req))

    async def head_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        part_number: int | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        checksum_mode: bool = False,
        customer_key: bytes | None = None,
    ) -> ObjectInfo:
        """The object's description without its content; conditions (and an SSE-C object's
        ``customer_key``) as for ``get_object``."""
        req = object_pb2.HeadObjectRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            version_id=version_id or "",
            part_number=part_number or 0,
            conditions=rq.conditions(
                if_match, if_none_match, if_modified_since, if_unmodified_since
            ),
            checksum_mode=checksum_mode,
            customer_key=rq.customer_key(customer_key),
        )
        resp = await self._unary(self._objects.HeadObject(req, timeout=self._timeout))
        return ObjectInfo.from_pb(resp.header.object)

    async def get_object_attributes(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        max_parts: int | None = None,
        part_number_marker: int | None = None,
        customer_key: bytes | None = None,
    ) -> ObjectAttributes:
        """A version with its stored checksums and a page of its parts (S3's
        GetObjectAttributes); page on with ``part_number_marker``. An SSE-C object needs its
        ``customer_key``."""
        req = object_pb2.GetObjectAttributesRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            version_id=version_id or "",
            max_parts=max_parts or 0,
            part_number_marker=part_number_marker or 0,
            customer_key=rq.customer_key(customer_key),
        )
        resp = await self._unary(self._objects.GetObjectAttributes(req, timeout=self._timeout))
        return ObjectAttributes.from_pb(resp)

    async def delete_object(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        if_match: str | None = None,
        if_match_last_modified_time: datetime | None = None,
        if_match_size: int | None = None,
        bypass_governance_retention: bool = False,
    ) -> DeleteResult:
        """Delete a key (a delete marker where versioned) or one version; the ``if_match*``
        conditions must hold of that version (PreconditionFailed otherwise). A locked version
        is AccessDenied; ``bypass_governance_retention`` removes a GOVERNANCE-retained one (with
        the permission to)."""
        req = object_pb2.DeleteObjectRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            version_id=version_id or "",
            conditions=rq.delete_conditions(if_match, if_match_last_modified_time, if_match_size),
            bypass_governance_retention=bypass_governance_retention,
        )
        resp = await self._unary(self._objects.DeleteObject(req, timeout=self._timeout))
        return DeleteResult(key, resp.version_id or None, resp.delete_marker)

    async def delete_objects(
        self,
        bucket: str,
        keys: Iterable[str | tuple[str, str | None]],
        *,
        quiet: bool = False,
    ) -> DeleteObjectsResult:
        """Delete many keys (or ``(key, version_id)`` pairs) in one call."""
        req = object_pb2.DeleteObjectsRequest(
            scope=self._scope,
            bucket=bucket,
            objects=[rq.object_id(k) for k in keys],
            quiet=quiet,
        )
        resp = await self._unary(self._objects.DeleteObjects(req, timeout=self._timeout))
        return DeleteObjectsResult.from_pb(resp)

    async def copy_object(
        self,
        bucket: str,
        key: str,
        *,
        source_bucket: str,
        source_key: str,
        source_version_id: str | None = None,
        source_if_match: str | None = None,
        source_if_none_match: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        storage_class: str = "",
        if_match: str | None = None,
        if_none_match: str | None = None,
        checksum_algorithm: ChecksumName | None = None,
        server_side_encryption: str = "",
        kms_key_id: str = "",
        kms_context: Mapping[str, str] | None = None,
        customer_key: bytes | None = None,
        source_customer_key: bytes | None = None,
        **headers: Unpack[ContentHeaderArgs],
    ) -> CopyResult:
        """Copy an object to ``bucket``/``key``, within the store (no data passes the client).

        Metadata and headers are copied unless ``metadata`` or any header is given (then they
        replace them); tags likewise unless ``tags`` is given. ``website_redirect_location`` is
        never copied (as in S3): the copy has it only when given, which replaces nothing else.
        Encryption as for :meth:`put_object` (none asked: the bucket's default, else the
        source's SSE-S3 or SSE-KMS); an SSE-C source needs its ``source_customer_key``. A copy
        to other keys is re-encrypted by the server.
        """
        replace_meta = metadata is not None or any(
            name != "website_redirect_location" for name in headers
        )
        req = object_pb2.CopyObjectRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            source=rq.copy_source(
                self._scope,
                source_bucket,
                source_key,
                source_version_id,
                source_if_match,
                source_if_none_match,
            ),
            metadata_directive=(
                object_pb2.METADATA_DIRECTIVE_REPLACE
                if replace_meta
                else object_pb2.METADATA_DIRECTIVE_COPY
            ),
            headers=common_pb2.ContentHeaders(**headers),
            user_metadata=metadata,
            tagging_directive=(
                object_pb2.METADATA_DIRECTIVE_REPLACE
                if tags is not None
                else object_pb2.METADATA_DIRECTIVE_COPY
            ),
            tags=rq.tags(tags),
            storage_class=storage_class,
            checksum_algorithm=rq.checksum(checksum_algorithm),
            conditions=rq.conditions(if_match, if_none_match),
            server_side_encryption=server_side_encryption,
            kms_key_id=kms_key_id,
            kms_context=rq.kms_context(kms_context),
            customer_key=rq.customer_key(customer_key),
            source_customer_key=rq.customer_key(source_customer_key),
        )
        resp = await self._unary(self._objects.CopyObject(req, timeout=self._timeout))
        return CopyResult.from_pb(resp)

    async def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = 0,
        start_after: str = "",
        continuation_token: str | None = None,
        fetch_owner: bool = False,
    ) -> ListPage:
        """One page of keys (``max_keys`` 0: the server's default, 1000)."""
        req = object_pb2.ListObjectsRequest(
            scope=self._scope,
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            start_after=start_after,
            continuation_token=continuation_token or "",
            fetch_owner=fetch_owner,
        )
        resp = await self._unary(self._objects.ListObjects(req, timeout=self._timeout))
        return ListPage.from_pb(resp)

    async def iter_objects(
        self, bucket: str, *, prefix: str = "", page_size: int = 0
    ) -> AsyncIterator[ObjectInfo]:
        """Every object under ``prefix``, page after page."""
        token: str | None = None
        while True:
            page = await self.list_objects(
                bucket, prefix=prefix, max_keys=page_size, continuation_token=token
            )
            for info in page.objects:
                yield info
            if page.next_token is None:
                return
            token = page.next_token

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        max_keys: int = 0,
        key_marker: str = "",
        version_id_marker: str = "",
    ) -> VersionPage:
        """One page of every version and delete marker under ``prefix`` (newest first per key);
        pass ``next_key_marker`` and ``next_version_id_marker`` back for the next."""
        req = object_pb2.ListObjectVersionsRequest(
            scope=self._scope,
            bucket=bucket,
            prefix=prefix,
            delimiter=delimiter,
            max_keys=max_keys,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
        )
        resp = await self._unary(self._objects.ListObjectVersions(req, timeout=self._timeout))
        return VersionPage.from_pb(resp)

    # -- object tagging ----------------------------------------------------------------------

    async def get_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> dict[str, str]:
        """The object's (or one version's) tags."""
        req = object_pb2.GetObjectTaggingRequest(
            scope=self._scope, bucket=bucket, key=key, version_id=version_id or ""
        )
        resp = await self._unary(self._objects.GetObjectTagging(req, timeout=self._timeout))
        return {t.key: t.value for t in resp.tags}

    async def put_object_tagging(
        self,
        bucket: str,
        key: str,
        tags: Mapping[str, str],
        *,
        version_id: str | None = None,
    ) -> None:
        """Replace the object's (or one version's) tags (at most 10)."""
        req = object_pb2.PutObjectTaggingRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            version_id=version_id or "",
            tags=rq.tags(tags),
        )
        await self._unary(self._objects.PutObjectTagging(req, timeout=self._timeout))

    async def delete_object_tagging(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> None:
        """Remove every tag of the object (or of one version)."""
        req = object_pb2.DeleteObjectTaggingRequest(
            scope=self._scope, bucket=bucket, key=key, version_id=version_id or ""
        )
        await self._unary(self._objects.DeleteObjectTagging(req, timeout=self._timeout))

    # -- object ACLs -------------------------------------------------------------------------

    async def get_object_acl(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> common_pb2.AccessControlList:
        """The object's (or one version's) ACL: its owner and grants."""
        req = object_pb2.GetObjectAclRequest(
            scope=self._scope, bucket=bucket, key=key, version_id=version_id or ""
        )
        resp = await self._unary(self._objects.GetObjectAcl(req, timeout=self._timeout))
        return resp.acl

    async def put_object_acl(
        self,
        bucket: str,
        key: str,
        *,
        acl: str = "",
        grants: Sequence[common_pb2.Grant] = (),
        version_id: str | None = None,
    ) -> None:
        """Replace the object's (or one version's) ACL with a canned ACL or ``grants``."""
        req = object_pb2.PutObjectAclRequest(
            scope=self._scope,
            bucket=bucket,
            key=key,
            version_id=version_id or "",
            acl=common_pb2.AccessControlList(canned=acl, grants=grants),
        )
        await self._unary(self._objects.PutObjectAcl(req, timeout=self._timeout))
