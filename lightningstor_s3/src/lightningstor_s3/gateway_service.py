"""``StorageService`` over the gRPC API: what the stand-alone gateway serves S3 from.

The service protocol is message in, message out, and so is the gRPC API
(docs/architecture.md §3): each
operation is one call of the generated stubs on the channel, with the error carried in the
call's trailing metadata rebuilt by :func:`lightningstor_types.errors.error_from_grpc`. Uploads
are client-streaming (the header, then the body in pieces of up to :data:`PIECE_BYTES`),
GetObject is server-streaming (the header first). The S3 request id travels as ``x-request-id``.

A call that fails before reaching the server's servicer (nothing listening, TLS refused, a
deadline) carries no error code of ours: it is logged with gRPC's words and answered with the
catalog's own message, so an S3 client never reads the gateway's channel internals.
:meth:`GrpcStorageService.probe` (the gateway's ``/ready``) asks the server's gRPC health service.

Identity: each call is signed with the S3 caller's own key when the gateway holds it (see
:mod:`lightningstor_s3.gateway`). The S3 client's address, scheme, user agent, referer and way of
signing go along as ``x-lightningstor-client-*`` metadata (:func:`_client`), which the server
believes only from a peer in its ``[server] trusted_gateways``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2
from opentelemetry import propagate, trace

from lightningstor.v1 import (
    bucket_pb2,
    bucket_pb2_grpc,
    lifecycle_pb2,
    object_pb2,
    object_pb2_grpc,
    objectlock_pb2,
    objectlock_pb2_grpc,
)
from lightningstor_types.client_facts import METADATA_NAMES, to_metadata
from lightningstor_types.condition_keys import SOURCE_IP
from lightningstor_types.errors import (
    GRPC_ERROR_CODE_KEY,
    InternalError,
    LightningStorError,
    ServiceUnavailable,
    error_from_grpc,
)
from lightningstor_types.grpc_client import ClientTls, Metadata, open_channel, signing_interceptors
from lightningstor_types.scope import Principal
from lightningstor_types.service import ObjectStream, RequestContext, ResolvedCredential
from lightningstor_types.signing import ACCESS_KEY_HEADER, signed_metadata

PIECE_BYTES = 1024 * 1024
"""Body bytes per gRPC message of an upload (the API accepts up to 32 MiB)."""
MAX_MESSAGE_BYTES = 32 * 1024 * 1024

PROBE_TIMEOUT = 1.5
"""The deadline of the readiness probe's health check (``/ready`` waits 2 s for it)."""

_R = TypeVar("_R")
log = logging.getLogger(__name__)


def _metadata(
    ctx: RequestContext, keys: Mapping[Principal, ResolvedCredential]
) -> tuple[tuple[str, str], ...]:
    """The request id, and the caller's own access key id (when the gateway holds it), so that
    :func:`_signer` signs the call as the S3 caller: the server then authenticates and
    authorizes the S3 caller, not the gateway."""
    key = keys.get(ctx.principal)
    held = ((ACCESS_KEY_HEADER, key.access_key_id),) if key else ()
    return (("x-request-id", ctx.request_id), *held, *_client(ctx), *_trace_context())


def _client(ctx: RequestContext) -> tuple[tuple[str, str], ...]:
    """The S3 client's facts (``lightningstor_types.client_facts``): a server that trusts this
    gateway decides ``aws:SourceIp``, ``aws:UserAgent``, ``s3:authType``, … on them rather than
    on the gateway's own connection."""
    facts = {key: ctx.attributes[key] for key in METADATA_NAMES if key in ctx.attributes}
    if not facts:  # not an S3 request's context (the CORS rules looked up for a preflight)
        return ()
    if SOURCE_IP not in facts:  # the peer itself (no trusted proxy in front of the gateway)
        host = ctx.source_address.rpartition(":")[0]  # "host:port", IPv6 unbracketed
        # No address (a Unix socket): the server then has none, never the gateway's.
        with contextlib.suppress(ValueError):
            facts[SOURCE_IP] = str(ipaddress.ip_address(host))
    return to_metadata(facts)


def _trace_context() -> tuple[tuple[str, str], ...]:
    """``traceparent`` of the S3 request's trace, when there is one: the server's span of the
    call continues it (the gateway need not record spans itself to pass the client's on)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return ()
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple(carrier.items())


def _addressed(ctx: RequestContext, req: Any) -> Any:
    """``req`` with the scope an ``org:bucket`` address named, when it names none itself."""
    named = ctx.scope is not None and "scope" in req.DESCRIPTOR.fields_by_name
    if named and ctx.scope is not None and not req.scope.org_id:
        req.scope.org_id = ctx.scope.org_id
        req.scope.project_id = ctx.scope.project_id or ""
    return req


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
    metadata = tuple(err.trailing_metadata() or ())
    if any(key == GRPC_ERROR_CODE_KEY for key, _ in metadata):
        return error_from_grpc(err.code(), err.details(), metadata)
    # Not the server's answer but the channel's (e.g. "failed to connect to all addresses;
    # ipv4:…"): for the operator's log, not for the S3 client.
    log.warning("gRPC call to the server failed: %s %s", err.code().name, err.details())
    return error_from_grpc(err.code(), None, metadata)


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
        self._health_check = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        self._locks = objectlock_pb2_grpc.ObjectLockServiceStub(self._channel)
        self._timeout = timeout

    async def probe(self) -> None:
        """Readiness: the server answers SERVING (it is ready itself) within PROBE_TIMEOUT."""
        request = health_pb2.HealthCheckRequest(service="")
        try:
            reply = await self._health_check(request, timeout=PROBE_TIMEOUT)
        except grpc.aio.AioRpcError as err:
            raise ServiceUnavailable(
                f"the server at {self.endpoint} answered {err.code().name}"
            ) from None
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            raise ServiceUnavailable(f"the server at {self.endpoint} is {status}")

    async def close(self) -> None:
        await self._channel.close()

    async def _unary(
        self, method: Callable[..., Awaitable[_R]], ctx: RequestContext, req: Any
    ) -> _R:
        try:
            return await method(
                _addressed(ctx, req), metadata=_metadata(ctx, self._keys), timeout=self._timeout
            )
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
            yield wrap(header=_addressed(ctx, header))
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

    async def get_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyRequest
    ) -> bucket_pb2.GetBucketPolicyResponse:
        return await self._unary(self._buckets.GetBucketPolicy, ctx, req)

    async def put_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketPolicyRequest
    ) -> bucket_pb2.PutBucketPolicyResponse:
        return await self._unary(self._buckets.PutBucketPolicy, ctx, req)

    async def delete_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketPolicyRequest
    ) -> bucket_pb2.DeleteBucketPolicyResponse:
        return await self._unary(self._buckets.DeleteBucketPolicy, ctx, req)

    async def get_bucket_policy_status(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyStatusRequest
    ) -> bucket_pb2.GetBucketPolicyStatusResponse:
        return await self._unary(self._buckets.GetBucketPolicyStatus, ctx, req)

    async def get_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.GetPublicAccessBlockRequest
    ) -> bucket_pb2.GetPublicAccessBlockResponse:
        return await self._unary(self._buckets.GetPublicAccessBlock, ctx, req)

    async def put_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.PutPublicAccessBlockRequest
    ) -> bucket_pb2.PutPublicAccessBlockResponse:
        return await self._unary(self._buckets.PutPublicAccessBlock, ctx, req)

    async def delete_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.DeletePublicAccessBlockRequest
    ) -> bucket_pb2.DeletePublicAccessBlockResponse:
        return await self._unary(self._buckets.DeletePublicAccessBlock, ctx, req)

    async def explain_access(
        self, ctx: RequestContext, req: bucket_pb2.ExplainAccessRequest
    ) -> bucket_pb2.ExplainAccessResponse:
        return await self._unary(self._buckets.ExplainAccess, ctx, req)

    async def get_bucket_acl(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketAclRequest
    ) -> bucket_pb2.GetBucketAclResponse:
        return await self._unary(self._buckets.GetBucketAcl, ctx, req)

    async def put_bucket_acl(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketAclRequest
    ) -> bucket_pb2.PutBucketAclResponse:
        return await self._unary(self._buckets.PutBucketAcl, ctx, req)

    async def get_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketOwnershipControlsRequest
    ) -> bucket_pb2.GetBucketOwnershipControlsResponse:
        return await self._unary(self._buckets.GetBucketOwnershipControls, ctx, req)

    async def put_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketOwnershipControlsRequest
    ) -> bucket_pb2.PutBucketOwnershipControlsResponse:
        return await self._unary(self._buckets.PutBucketOwnershipControls, ctx, req)

    async def delete_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketOwnershipControlsRequest
    ) -> bucket_pb2.DeleteBucketOwnershipControlsResponse:
        return await self._unary(self._buckets.DeleteBucketOwnershipControls, ctx, req)

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

    async def get_object_lock_configuration(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectLockConfigurationRequest
    ) -> objectlock_pb2.GetObjectLockConfigurationResponse:
        return await self._unary(self._locks.GetObjectLockConfiguration, ctx, req)

    async def put_object_lock_configuration(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectLockConfigurationRequest
    ) -> objectlock_pb2.PutObjectLockConfigurationResponse:
        return await self._unary(self._locks.PutObjectLockConfiguration, ctx, req)

    async def get_object_retention(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectRetentionRequest
    ) -> objectlock_pb2.GetObjectRetentionResponse:
        return await self._unary(self._locks.GetObjectRetention, ctx, req)

    async def put_object_retention(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectRetentionRequest
    ) -> objectlock_pb2.PutObjectRetentionResponse:
        return await self._unary(self._locks.PutObjectRetention, ctx, req)

    async def get_object_legal_hold(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectLegalHoldRequest
    ) -> objectlock_pb2.GetObjectLegalHoldResponse:
        return await self._unary(self._locks.GetObjectLegalHold, ctx, req)

    async def put_object_legal_hold(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectLegalHoldRequest
    ) -> objectlock_pb2.PutObjectLegalHoldResponse:
        return await self._unary(self._locks.PutObjectLegalHold, ctx, req)

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
        call = self._objects.GetObject(_addressed(ctx, req), metadata=_metadata(ctx, self._keys))
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

    async def get_object_acl(
        self, ctx: RequestContext, req: object_pb2.GetObjectAclRequest
    ) -> object_pb2.GetObjectAclResponse:
        return await self._unary(self._objects.GetObjectAcl, ctx, req)

    async def put_object_acl(
        self, ctx: RequestContext, req: object_pb2.PutObjectAclRequest
    ) -> object_pb2.PutObjectAclResponse:
        return await self._unary(self._objects.PutObjectAcl, ctx, req)

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
