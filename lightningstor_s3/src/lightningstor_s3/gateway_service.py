"""``StorageService`` over the gRPC API: what the stand-alone gateway serves S3 from.

The service protocol is message in, message out, and so is the gRPC API (DESIGN.md §3): each
operation is one call of the generated stubs on the channel, with the error carried in the
call's trailing metadata rebuilt by :func:`lightningstor_types.errors.error_from_grpc`. Uploads
are client-streaming (the header, then the body in pieces of up to :data:`PIECE_BYTES`),
GetObject is server-streaming (the header first). The S3 request id travels as ``x-request-id``.

Identity: the calls go out as the gateway's own gRPC identity; the S3 caller was authenticated by
the gateway (see :mod:`lightningstor_s3.gateway`). Acting on behalf of each S3 principal needs a
delegation rule of the IAM, which the gRPC API does not have yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import grpc
import grpc.aio

from lightningstor.v1 import bucket_pb2, bucket_pb2_grpc, lifecycle_pb2, object_pb2, object_pb2_grpc
from lightningstor_types.errors import InternalError, LightningStorError, error_from_grpc
from lightningstor_types.grpc_client import ClientTls, Metadata, open_channel, signing_interceptors
from lightningstor_types.scope import Principal
from lightningstor_types.service import ObjectStream, RequestContext, ResolvedCredential
from lightningstor_types.signing import ACCESS_KEY_HEADER, signed_metadata

PIECE_BYTES = 1024 * 1024
"""Body bytes per gRPC message of an upload (the API accepts up to 32 MiB)."""
MAX_MESSAGE_BYTES = 32 * 1024 * 1024

_R = TypeVar("_R")


def _metadata(
    ctx: RequestContext, keys: Mapping[Principal, ResolvedCredential]
) -> tuple[tuple[str, str], ...]:
    """The request id, and the caller's own access key id (when the gateway holds it), so that
    :func:`_signer` signs the call as the S3 caller: the server then authenticates and
    authorizes the S3 caller, not the gateway."""
    key = keys.get(ctx.principal)
    held = ((ACCESS_KEY_HEADER, key.access_key_id),) if key else ()
    return (("x-request-id", ctx.request_id), *held)


def _signer(secrets: Mapping[str, str]) -> Callable[[str, Metadata], Metadata]:
    """Replaces a bare access key id with the signature of the call (which names its method)."""

    def sign(method: str, metadata: Metadata) -> Metadata:
        key_id = next((v for k, v in metadata if k == ACCESS_KEY_HEADER), None)
        if key_id is None or key_id not in secrets:
            return metadata
        rest = tuple((k, v) for k, v in metadata if k != ACCESS_KEY_HEADER)
        return (*rest, *signed_metadata(key_id, secrets[key_id], method))

    return sign


def _translated(err: grpc.aio.AioRpcError) -> Exception:
    return error_from_grpc(err.code(), err.details(), tuple(err.trailing_metadata() or ()))


async def _pieces(body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The body regrouped into pieces of about PIECE_BYTES (fewer, larger messages)."""
    buffer = bytearray()
    async for data in body:
        buffer += data
        while len(buffer) >= PIECE_BYTES:
            yield bytes(buffer[:PIECE_BYTES])
            del buffer[:PIECE_BYTES]
    if buffer:
        yield bytes(buffer)


class GrpcStorageService:
    """The service protocol of the S3 facade, served by a LightningStor server over gRPC."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float | None = None,
        keys: Iterable[ResolvedCredential] = (),
        tls: ClientTls | None = None,
    ) -> None:
        self.endpoint = endpoint
        keys = list(keys)
        self._keys = {k.principal: k for k in keys}
        self._channel = open_channel(
            endpoint,
            tls,
            interceptors=signing_interceptors(
                _signer({k.access_key_id: k.secret_access_key for k in keys})
            ),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self._buckets = bucket_pb2_grpc.BucketServiceStub(self._channel)
        self._objects = object_pb2_grpc.ObjectServiceStub(self._channel)
        self._timeout = timeout

    async def close(self) -> None:
        await self._channel.close()

    async def _unary(
        self, method: Callable[..., Awaitable[_R]], ctx: RequestContext, req: Any
    ) -> _R:
        try:
            return await method(req, metadata=_metadata(ctx, self._keys), timeout=self._timeout)
        except grpc.aio.AioRpcError as err:
            raise _translated(err) from None

    async def _upload(
        self,
        method: Callable[..., Awaitable[_R]],
        wrap: Callable[..., Any],
        ctx: RequestContext,
        header: Any,
        body: AsyncIterable[bytes],
    ) -> _R:
        async def requests() -> AsyncIterator[Any]:
            yield wrap(header=header)
            async for piece in _pieces(body):
                yield wrap(content=piece)

        try:
            return await method(requests(), metadata=_metadata(ctx, self._keys))
        except grpc.aio.AioRpcError as err:
            raise _translated(err) from None

    # ---- buckets ----

    async def create_bucket(
        self, ctx: RequestContext, req: bucket_pb2.CreateBucketRequest
    ) -> bucket_pb2.CreateBucketResponse:
        return await self._unary(self._buckets.CreateBucket, ctx, req)

    async def head_bucket(
        self, ctx: RequestContext, req: bucket_pb2.HeadBucketRequest
    ) -> bucket_pb2.HeadBucketResponse:
        return await self._unary(self._buckets.HeadBucket, ctx, req)

    async def delete_bucket(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketRequest
    ) -> bucket_pb2.DeleteBucketResponse:
        return await self._unary(self._buckets.DeleteBucket, ctx, req)

    async def list_buckets(
        self, ctx: RequestContext, req: bucket_pb2.ListBucketsRequest
    ) -> bucket_pb2.ListBucketsResponse:
        return await self._unary(self._buckets.ListBuckets, ctx, req)

    async def get_bucket_versioning(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketVersioningRequest
    ) -> bucket_pb2.GetBucketVersioningResponse:
        return await self._unary(self._buckets.GetBucketVersioning, ctx, req)

    async def put_bucket_versioning(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketVersioningRequest
    ) -> bucket_pb2.PutBucketVersioningResponse:
        return await self._unary(self._buckets.PutBucketVersioning, ctx, req)

    async def get_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketTaggingRequest
    ) -> bucket_pb2.GetBucketTaggingResponse:
        return await self._unary(self._buckets.GetBucketTagging, ctx, req)

    async def put_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketTaggingRequest
    ) -> bucket_pb2.PutBucketTaggingResponse:
        return await self._unary(self._buckets.PutBucketTagging, ctx, req)

    async def delete_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketTaggingRequest
    ) -> bucket_pb2.DeleteBucketTaggingResponse:
        return await self._unary(self._buckets.DeleteBucketTagging, ctx, req)

    async def get_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketCorsRequest
    ) -> bucket_pb2.GetBucketCorsResponse:
        return await self._unary(self._buckets.GetBucketCors, ctx, req)

    async def put_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketCorsRequest
    ) -> bucket_pb2.PutBucketCorsResponse:
        return await self._unary(self._buckets.PutBucketCors, ctx, req)

    async def delete_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketCorsRequest
    ) -> bucket_pb2.DeleteBucketCorsResponse:
        return await self._unary(self._buckets.DeleteBucketCors, ctx, req)

    async def get_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketEncryptionRequest
    ) -> bucket_pb2.GetBucketEncryptionResponse:
        return await self._unary(self._buckets.GetBucketEncryption, ctx, req)

    async def put_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketEncryptionRequest
    ) -> bucket_pb2.PutBucketEncryptionResponse:
        return await self._unary(self._buckets.PutBucketEncryption, ctx, req)

    async def delete_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketEncryptionRequest
    ) -> bucket_pb2.DeleteBucketEncryptionResponse:
        return await self._unary(self._buckets.DeleteBucketEncryption, ctx, req)

    async def bucket_cors(
        self, principal: Principal, bucket: str
    ) -> bucket_pb2.CorsConfiguration | None:
        # Asked as the principal (signed with its key when the gateway holds it): the server
        # authorizes GetBucketCors, so a principal that may not read the rules gets none.
        ctx = RequestContext(principal=principal, request_id="cors", api="s3")
        try:
            resp = await self.get_bucket_cors(ctx, bucket_pb2.GetBucketCorsRequest(name=bucket))
        except LightningStorError:
            return None
        return resp.configuration

    async def get_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.GetBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.GetBucketLifecycleConfigurationResponse:
        return await self._unary(self._buckets.GetBucketLifecycleConfiguration, ctx, req)

    async def put_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.PutBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.PutBucketLifecycleConfigurationResponse:
        return await self._unary(self._buckets.PutBucketLifecycleConfiguration, ctx, req)

    async def delete_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.DeleteBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.DeleteBucketLifecycleConfigurationResponse:
        return await self._unary(self._buckets.DeleteBucketLifecycleConfiguration, ctx, req)

    # ---- objects ----

    async def put_object(
        self, ctx: RequestContext, header: object_pb2.PutObjectHeader, body: AsyncIterable[bytes]
    ) -> object_pb2.PutObjectResponse:
        return await self._upload(
            self._objects.PutObject, object_pb2.PutObjectRequest, ctx, header, body
        )

    async def get_object(
        self, ctx: RequestContext, req: object_pb2.GetObjectRequest
    ) -> ObjectStream:
        call = self._objects.GetObject(req, metadata=_metadata(ctx, self._keys))
        try:
            first = await call.read()
        except grpc.aio.AioRpcError as err:
            raise _translated(err) from None
        if not isinstance(first, object_pb2.GetObjectResponse) or not first.HasField("header"):
            call.cancel()
            raise InternalError("GetObject answered without its header")
        return ObjectStream(first.header, _content(call))

    async def head_object(
        self, ctx: RequestContext, req: object_pb2.HeadObjectRequest
    ) -> object_pb2.HeadObjectResponse:
        return await self._unary(self._objects.HeadObject, ctx, req)

    async def get_object_attributes(
        self, ctx: RequestContext, req: object_pb2.GetObjectAttributesRequest
    ) -> object_pb2.GetObjectAttributesResponse:
        return await self._unary(self._objects.GetObjectAttributes, ctx, req)

    async def delete_object(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectRequest
    ) -> object_pb2.DeleteObjectResponse:
        return await self._unary(self._objects.DeleteObject, ctx, req)

    async def delete_objects(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectsRequest
    ) -> object_pb2.DeleteObjectsResponse:
        return await self._unary(self._objects.DeleteObjects, ctx, req)

    async def copy_object(
        self, ctx: RequestContext, req: object_pb2.CopyObjectRequest
    ) -> object_pb2.CopyObjectResponse:
        return await self._unary(self._objects.CopyObject, ctx, req)

    async def list_objects(
        self, ctx: RequestContext, req: object_pb2.ListObjectsRequest
    ) -> object_pb2.ListObjectsResponse:
        return await self._unary(self._objects.ListObjects, ctx, req)

    async def list_object_versions(
        self, ctx: RequestContext, req: object_pb2.ListObjectVersionsRequest
    ) -> object_pb2.ListObjectVersionsResponse:
        return await self._unary(self._objects.ListObjectVersions, ctx, req)

    async def get_object_tagging(
        self, ctx: RequestContext, req: object_pb2.GetObjectTaggingRequest
    ) -> object_pb2.GetObjectTaggingResponse:
        return await self._unary(self._objects.GetObjectTagging, ctx, req)

    async def put_object_tagging(
        self, ctx: RequestContext, req: object_pb2.PutObjectTaggingRequest
    ) -> object_pb2.PutObjectTaggingResponse:
        return await self._unary(self._objects.PutObjectTagging, ctx, req)

    async def delete_object_tagging(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectTaggingRequest
    ) -> object_pb2.DeleteObjectTaggingResponse:
        return await self._unary(self._objects.DeleteObjectTagging, ctx, req)

    # ---- multipart ----

    async def create_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.CreateMultipartUploadRequest
    ) -> object_pb2.CreateMultipartUploadResponse:
        return await self._unary(self._objects.CreateMultipartUpload, ctx, req)

    async def upload_part(
        self, ctx: RequestContext, header: object_pb2.UploadPartHeader, body: AsyncIterable[bytes]
    ) -> object_pb2.UploadPartResponse:
        return await self._upload(
            self._objects.UploadPart, object_pb2.UploadPartRequest, ctx, header, body
        )

    async def upload_part_copy(
        self, ctx: RequestContext, req: object_pb2.UploadPartCopyRequest
    ) -> object_pb2.UploadPartCopyResponse:
        return await self._unary(self._objects.UploadPartCopy, ctx, req)

    async def complete_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.CompleteMultipartUploadRequest
    ) -> object_pb2.CompleteMultipartUploadResponse:
        return await self._unary(self._objects.CompleteMultipartUpload, ctx, req)

    async def abort_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.AbortMultipartUploadRequest
    ) -> object_pb2.AbortMultipartUploadResponse:
        return await self._unary(self._objects.AbortMultipartUpload, ctx, req)

    async def list_multipart_uploads(
        self, ctx: RequestContext, req: object_pb2.ListMultipartUploadsRequest
    ) -> object_pb2.ListMultipartUploadsResponse:
        return await self._unary(self._objects.ListMultipartUploads, ctx, req)

    async def list_parts(
        self, ctx: RequestContext, req: object_pb2.ListPartsRequest
    ) -> object_pb2.ListPartsResponse:
        return await self._unary(self._objects.ListParts, ctx, req)


async def _content(call: Any) -> AsyncIterator[bytes]:
    """The content messages of a GetObject stream; cancels the call if the reader stops early."""
    try:
        while True:
            try:
                message = await call.read()
            except grpc.aio.AioRpcError as err:
                raise _translated(err) from None
            if message is grpc.aio.EOF:
                return
            yield message.content
    finally:
        if not call.done():
            call.cancel()
