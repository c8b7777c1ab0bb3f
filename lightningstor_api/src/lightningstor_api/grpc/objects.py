"""ObjectService: a thin adapter from grpc.aio to :class:`ObjectOperations`.

Uploads (PutObject, UploadPart) read the header from the first message and hand the core an
async stream of the remaining ``content`` pieces; GetObject sends the header, then the body in
pieces of at most :data:`MAX_CONTENT_MESSAGE` bytes. Nothing here collects a body.
"""

# ruff: noqa: N802 - gRPC servicer methods carry the RPC names

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, TypeVar

from lightningstor.v1 import object_pb2 as pb
from lightningstor.v1 import object_pb2_grpc
from lightningstor_api.grpc.calls import Context, request_context
from lightningstor_api.grpc.sse_c import refuse_insecure_keys
from lightningstor_types.errors import InvalidRequest, LightningStorError
from lightningstor_types.grpc_streams import drain_client_stream
from lightningstor_types.service import ObjectOperations

MAX_CONTENT_MESSAGE = 1024 * 1024

_H_co = TypeVar("_H_co", covariant=True)


class _UploadMessage(Protocol[_H_co]):
    """PutObjectRequest and UploadPartRequest: a ``header`` or ``content`` oneof."""

    @property
    def header(self) -> _H_co: ...
    @property
    def content(self) -> bytes: ...
    def HasField(self, field_name: Literal["header"]) -> bool: ...


async def split_upload(
    requests: AsyncIterator[_UploadMessage[_H_co]],
) -> tuple[_H_co, AsyncIterator[bytes]]:
    """The header of a client-streaming upload, and its body as a stream of bytes."""
    first = await anext(requests, None)
    if first is None or not first.HasField("header"):
        raise InvalidRequest("the first message of an upload must carry the header")

    async def body() -> AsyncIterator[bytes]:
        async for message in requests:
            if message.HasField("header"):
                raise InvalidRequest("only the first message of an upload may carry a header")
            if message.content:
                yield message.content

    return first.header, body()


class ObjectServicer(object_pb2_grpc.ObjectServiceServicer):
    def __init__(self, core: ObjectOperations) -> None:
        self._core = core

    async def PutObject(
        self, request_iterator: AsyncIterator[pb.PutObjectRequest], context: Context
    ) -> pb.PutObjectResponse:
        try:
            header, body = await split_upload(request_iterator)
            refuse_insecure_keys(context, header.customer_key)
            return await self._core.put_object(request_context(context, header), header, body)
        except LightningStorError:
            await drain_client_stream(request_iterator)
            raise

    async def GetObject(
        self, request: pb.GetObjectRequest, context: Context
    ) -> AsyncIterator[pb.GetObjectResponse]:
        refuse_insecure_keys(context, request.customer_key)
        stream = await self._core.get_object(request_context(context), request)
        try:
            yield pb.GetObjectResponse(header=stream.header)
            async for piece in stream.body:
                for start in range(0, len(piece), MAX_CONTENT_MESSAGE):
                    yield pb.GetObjectResponse(content=piece[start : start + MAX_CONTENT_MESSAGE])
        finally:  # also when the client goes away mid-stream
            await stream.aclose()

    async def HeadObject(
        self, request: pb.HeadObjectRequest, context: Context
    ) -> pb.HeadObjectResponse:
        refuse_insecure_keys(context, request.customer_key)
        return await self._core.head_object(request_context(context), request)

    async def GetObjectAttributes(
        self, request: pb.GetObjectAttributesRequest, context: Context
    ) -> pb.GetObjectAttributesResponse:
        refuse_insecure_keys(context, request.customer_key)
        return await self._core.get_object_attributes(request_context(context), request)

    async def DeleteObject(
        self, request: pb.DeleteObjectRequest, context: Context
    ) -> pb.DeleteObjectResponse:
        return await self._core.delete_object(request_context(context), request)

    async def DeleteObjects(
        self, request: pb.DeleteObjectsRequest, context: Context
    ) -> pb.DeleteObjectsResponse:
        return await self._core.delete_objects(request_context(context), request)

    async def CopyObject(
        self, request: pb.CopyObjectRequest, context: Context
    ) -> pb.CopyObjectResponse:
        refuse_insecure_keys(context, request.customer_key, request.source_customer_key)
        return await self._core.copy_object(request_context(context), request)

    async def ListObjects(
        self, request: pb.ListObjectsRequest, context: Context
    ) -> pb.ListObjectsResponse:
        return await self._core.list_objects(request_context(context), request)

    async def ListObjectVersions(
        self, request: pb.ListObjectVersionsRequest, context: Context
    ) -> pb.ListObjectVersionsResponse:
        return await self._core.list_object_versions(request_context(context), request)

    async def CreateMultipartUpload(
        self, request: pb.CreateMultipartUploadRequest, context: Context
    ) -> pb.CreateMultipartUploadResponse:
        refuse_insecure_keys(context, request.customer_key)
        return await self._core.create_multipart_upload(request_context(context), request)

    async def UploadPart(
        self, request_iterator: AsyncIterator[pb.UploadPartRequest], context: Context
    ) -> pb.UploadPartResponse:
        try:
            header, body = await split_upload(request_iterator)
            refuse_insecure_keys(context, header.customer_key)
            return await self._core.upload_part(request_context(context), header, body)
        except LightningStorError:
            await drain_client_stream(request_iterator)
            raise

    async def UploadPartCopy(
        self, request: pb.UploadPartCopyRequest, context: Context
    ) -> pb.UploadPartCopyResponse:
        refuse_insecure_keys(context, request.customer_key, request.source_customer_key)
        return await self._core.upload_part_copy(request_context(context), request)

    async def CompleteMultipartUpload(
        self, request: pb.CompleteMultipartUploadRequest, context: Context
    ) -> pb.CompleteMultipartUploadResponse:
        refuse_insecure_keys(context, request.customer_key)
        return await self._core.complete_multipart_upload(request_context(context), request)

    async def AbortMultipartUpload(
        self, request: pb.AbortMultipartUploadRequest, context: Context
    ) -> pb.AbortMultipartUploadResponse:
        return await self._core.abort_multipart_upload(request_context(context), request)

    async def ListMultipartUploads(
        self, request: pb.ListMultipartUploadsRequest, context: Context
    ) -> pb.ListMultipartUploadsResponse:
        return await self._core.list_multipart_uploads(request_context(context), request)

    async def ListParts(
        self, request: pb.ListPartsRequest, context: Context
    ) -> pb.ListPartsResponse:
        return await self._core.list_parts(request_context(context), request)

    async def GetObjectTagging(
        self, request: pb.GetObjectTaggingRequest, context: Context
    ) -> pb.GetObjectTaggingResponse:
        return await self._core.get_object_tagging(request_context(context), request)

    async def PutObjectTagging(
        self, request: pb.PutObjectTaggingRequest, context: Context
    ) -> pb.PutObjectTaggingResponse:
        return await self._core.put_object_tagging(request_context(context), request)

    async def DeleteObjectTagging(
        self, request: pb.DeleteObjectTaggingRequest, context: Context
    ) -> pb.DeleteObjectTaggingResponse:
        return await self._core.delete_object_tagging(request_context(context), request)

    async def GetObjectAcl(
        self, request: pb.GetObjectAclRequest, context: Context
    ) -> pb.GetObjectAclResponse:
        return await self._core.get_object_acl(request_context(context), request)

    async def PutObjectAcl(
        self, request: pb.PutObjectAclRequest, context: Context
    ) -> pb.PutObjectAclResponse:
        return await self._core.put_object_acl(request_context(context), request)
