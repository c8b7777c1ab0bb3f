"""The narrow service protocols that frontends (gRPC servicers, the S3 facade) call.

The core in ``lightningstor_api`` implements them in-process; the stand-alone S3 gateway
implements them over ``LightningStorClient``. Requests and responses are the generated API
messages; object bodies are async byte streams, never whole buffers.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from lightningstor.v1 import bucket_pb2, credential_pb2, lifecycle_pb2, object_pb2, objectlock_pb2
from lightningstor_types.config import Settings
from lightningstor_types.scope import Principal, Scope


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is calling and through which API; passed to every operation."""

    principal: Principal
    request_id: str
    api: str = "grpc"  # "grpc" | "s3"
    source_address: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    scope: Scope | None = None
    """The scope the request's address names (S3: ``org:bucket``); None: the caller's own."""
    anonymous: bool = False
    """An unsigned request: ``principal`` is ``Principal(ANONYMOUS_ID, …)`` of ``scope``, and
    only a bucket policy (or ACL) can allow it, never the IAM."""


@dataclass(slots=True)
class ObjectStream:
    """A GET's answer: the header first, then the body, which the caller must drain or close."""

    header: object_pb2.GetObjectHeader
    body: AsyncIterator[bytes]

    async def aclose(self) -> None:
        """Stop reading early and release what the body holds."""
        aclose = getattr(self.body, "aclose", None)
        if aclose is not None:
            await aclose()


class BucketOperations(Protocol):
    """Bucket operations of the API (BucketService)."""

    async def create_bucket(
        self, ctx: RequestContext, req: bucket_pb2.CreateBucketRequest
    ) -> bucket_pb2.CreateBucketResponse: ...

    async def head_bucket(
        self, ctx: RequestContext, req: bucket_pb2.HeadBucketRequest
    ) -> bucket_pb2.HeadBucketResponse: ...

    async def delete_bucket(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketRequest
    ) -> bucket_pb2.DeleteBucketResponse: ...

    async def list_buckets(
        self, ctx: RequestContext, req: bucket_pb2.ListBucketsRequest
    ) -> bucket_pb2.ListBucketsResponse: ...

    async def get_bucket_versioning(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketVersioningRequest
    ) -> bucket_pb2.GetBucketVersioningResponse: ...

    async def put_bucket_versioning(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketVersioningRequest
    ) -> bucket_pb2.PutBucketVersioningResponse: ...

    async def get_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketTaggingRequest
    ) -> bucket_pb2.GetBucketTaggingResponse: ...

    async def put_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketTaggingRequest
    ) -> bucket_pb2.PutBucketTaggingResponse: ...

    async def delete_bucket_tagging(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketTaggingRequest
    ) -> bucket_pb2.DeleteBucketTaggingResponse: ...

    async def get_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketCorsRequest
    ) -> bucket_pb2.GetBucketCorsResponse: ...

    async def put_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketCorsRequest
    ) -> bucket_pb2.PutBucketCorsResponse: ...

    async def delete_bucket_cors(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketCorsRequest
    ) -> bucket_pb2.DeleteBucketCorsResponse: ...

    async def get_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyRequest
    ) -> bucket_pb2.GetBucketPolicyResponse: ...

    async def put_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketPolicyRequest
    ) -> bucket_pb2.PutBucketPolicyResponse: ...

    async def delete_bucket_policy(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketPolicyRequest
    ) -> bucket_pb2.DeleteBucketPolicyResponse: ...

    async def get_bucket_policy_status(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketPolicyStatusRequest
    ) -> bucket_pb2.GetBucketPolicyStatusResponse: ...

    async def get_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.GetPublicAccessBlockRequest
    ) -> bucket_pb2.GetPublicAccessBlockResponse: ...

    async def put_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.PutPublicAccessBlockRequest
    ) -> bucket_pb2.PutPublicAccessBlockResponse: ...

    async def delete_public_access_block(
        self, ctx: RequestContext, req: bucket_pb2.DeletePublicAccessBlockRequest
    ) -> bucket_pb2.DeletePublicAccessBlockResponse: ...

    async def explain_access(
        self, ctx: RequestContext, req: bucket_pb2.ExplainAccessRequest
    ) -> bucket_pb2.ExplainAccessResponse: ...

    async def get_bucket_acl(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketAclRequest
    ) -> bucket_pb2.GetBucketAclResponse: ...

    async def put_bucket_acl(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketAclRequest
    ) -> bucket_pb2.PutBucketAclResponse: ...

    async def get_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketOwnershipControlsRequest
    ) -> bucket_pb2.GetBucketOwnershipControlsResponse: ...

    async def put_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketOwnershipControlsRequest
    ) -> bucket_pb2.PutBucketOwnershipControlsResponse: ...

    async def delete_bucket_ownership_controls(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketOwnershipControlsRequest
    ) -> bucket_pb2.DeleteBucketOwnershipControlsResponse: ...

    async def get_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.GetBucketEncryptionRequest
    ) -> bucket_pb2.GetBucketEncryptionResponse: ...

    async def put_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.PutBucketEncryptionRequest
    ) -> bucket_pb2.PutBucketEncryptionResponse: ...

    async def delete_bucket_encryption(
        self, ctx: RequestContext, req: bucket_pb2.DeleteBucketEncryptionRequest
    ) -> bucket_pb2.DeleteBucketEncryptionResponse: ...

    async def bucket_cors(
        self, principal: Principal, bucket: str
    ) -> bucket_pb2.CorsConfiguration | None:
        """The CORS rules of ``bucket`` in ``principal``'s scope, or None; not authorized:
        what CORS answers (preflights included, which carry no credentials) are made from."""
        ...

    async def get_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.GetBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.GetBucketLifecycleConfigurationResponse: ...

    async def put_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.PutBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.PutBucketLifecycleConfigurationResponse: ...

    async def delete_bucket_lifecycle_configuration(
        self, ctx: RequestContext, req: lifecycle_pb2.DeleteBucketLifecycleConfigurationRequest
    ) -> lifecycle_pb2.DeleteBucketLifecycleConfigurationResponse: ...


class ObjectOperations(Protocol):
    """Object, listing, multipart and object-tagging operations of the API (ObjectService)."""

    async def put_object(
        self,
        ctx: RequestContext,
        header: object_pb2.PutObjectHeader,
        body: AsyncIterable[bytes],
    ) -> object_pb2.PutObjectResponse: ...

    async def get_object(
        self, ctx: RequestContext, req: object_pb2.GetObjectRequest
    ) -> ObjectStream: ...

    async def head_object(
        self, ctx: RequestContext, req: object_pb2.HeadObjectRequest
    ) -> object_pb2.HeadObjectResponse: ...

    async def get_object_attributes(
        self, ctx: RequestContext, req: object_pb2.GetObjectAttributesRequest
    ) -> object_pb2.GetObjectAttributesResponse: ...

    async def delete_object(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectRequest
    ) -> object_pb2.DeleteObjectResponse: ...

    async def delete_objects(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectsRequest
    ) -> object_pb2.DeleteObjectsResponse: ...

    async def copy_object(
        self, ctx: RequestContext, req: object_pb2.CopyObjectRequest
    ) -> object_pb2.CopyObjectResponse: ...

    async def list_objects(
        self, ctx: RequestContext, req: object_pb2.ListObjectsRequest
    ) -> object_pb2.ListObjectsResponse: ...

    async def list_object_versions(
        self, ctx: RequestContext, req: object_pb2.ListObjectVersionsRequest
    ) -> object_pb2.ListObjectVersionsResponse: ...

    async def create_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.CreateMultipartUploadRequest
    ) -> object_pb2.CreateMultipartUploadResponse: ...

    async def upload_part(
        self,
        ctx: RequestContext,
        header: object_pb2.UploadPartHeader,
        body: AsyncIterable[bytes],
    ) -> object_pb2.UploadPartResponse: ...

    async def upload_part_copy(
        self, ctx: RequestContext, req: object_pb2.UploadPartCopyRequest
    ) -> object_pb2.UploadPartCopyResponse: ...

    async def complete_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.CompleteMultipartUploadRequest
    ) -> object_pb2.CompleteMultipartUploadResponse: ...

    async def abort_multipart_upload(
        self, ctx: RequestContext, req: object_pb2.AbortMultipartUploadRequest
    ) -> object_pb2.AbortMultipartUploadResponse: ...

    async def list_multipart_uploads(
        self, ctx: RequestContext, req: object_pb2.ListMultipartUploadsRequest
    ) -> object_pb2.ListMultipartUploadsResponse: ...

    async def list_parts(
        self, ctx: RequestContext, req: object_pb2.ListPartsRequest
    ) -> object_pb2.ListPartsResponse: ...

    async def get_object_tagging(
        self, ctx: RequestContext, req: object_pb2.GetObjectTaggingRequest
    ) -> object_pb2.GetObjectTaggingResponse: ...

    async def put_object_tagging(
        self, ctx: RequestContext, req: object_pb2.PutObjectTaggingRequest
    ) -> object_pb2.PutObjectTaggingResponse: ...

    async def delete_object_tagging(
        self, ctx: RequestContext, req: object_pb2.DeleteObjectTaggingRequest
    ) -> object_pb2.DeleteObjectTaggingResponse: ...

    async def get_object_acl(
        self, ctx: RequestContext, req: object_pb2.GetObjectAclRequest
    ) -> object_pb2.GetObjectAclResponse: ...

    async def put_object_acl(
        self, ctx: RequestContext, req: object_pb2.PutObjectAclRequest
    ) -> object_pb2.PutObjectAclResponse: ...


class CredentialOperations(Protocol):
    """S3 access-key management (CredentialService)."""

    async def create_access_key(
        self, ctx: RequestContext, req: credential_pb2.CreateAccessKeyRequest
    ) -> credential_pb2.CreateAccessKeyResponse: ...

    async def list_access_keys(
        self, ctx: RequestContext, req: credential_pb2.ListAccessKeysRequest
    ) -> credential_pb2.ListAccessKeysResponse: ...

    async def delete_access_key(
        self, ctx: RequestContext, req: credential_pb2.DeleteAccessKeyRequest
    ) -> credential_pb2.DeleteAccessKeyResponse: ...


class ObjectLockOperations(Protocol):
    """Object Lock: a bucket's configuration, a version's retention and legal hold
    (ObjectLockService)."""

    async def get_object_lock_configuration(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectLockConfigurationRequest
    ) -> objectlock_pb2.GetObjectLockConfigurationResponse: ...

    async def put_object_lock_configuration(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectLockConfigurationRequest
    ) -> objectlock_pb2.PutObjectLockConfigurationResponse: ...

    async def get_object_retention(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectRetentionRequest
    ) -> objectlock_pb2.GetObjectRetentionResponse: ...

    async def put_object_retention(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectRetentionRequest
    ) -> objectlock_pb2.PutObjectRetentionResponse: ...

    async def get_object_legal_hold(
        self, ctx: RequestContext, req: objectlock_pb2.GetObjectLegalHoldRequest
    ) -> objectlock_pb2.GetObjectLegalHoldResponse: ...

    async def put_object_legal_hold(
        self, ctx: RequestContext, req: objectlock_pb2.PutObjectLegalHoldRequest
    ) -> objectlock_pb2.PutObjectLegalHoldResponse: ...


class StorageService(BucketOperations, ObjectOperations, ObjectLockOperations, Protocol):
    """Everything a data frontend needs: what the S3 facade is written against."""


@dataclass(frozen=True, slots=True)
class ResolvedCredential:
    """An S3 access key's secret and the principal it belongs to."""

    access_key_id: str
    secret_access_key: str
    principal: Principal


class CredentialResolver(Protocol):
    """Finds the secret of an access key for signature checks (cached by the implementation)."""

    async def resolve(self, access_key_id: str) -> ResolvedCredential | None:
        """The credential, or None when the key is unknown, deleted or expired."""
        ...


class Frontend(Protocol):
    """A protocol frontend (the S3 facade) run by the server inside its event loop."""

    async def start(self) -> None:
        """Bind and start serving; returns once listening."""
        ...

    async def stop(self) -> None:
        """Stop accepting, finish in-flight requests, close."""
        ...

    @property
    def bound_address(self) -> str:
        """``host:port`` actually bound (port 0 in the configuration resolves here)."""
        ...


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether the server can serve: each dependency (``metadata``, ``storage``, ``iam``) and
    ``"ok"`` or why it is not reachable."""

    ready: bool
    checks: Mapping[str, str]
    degraded: tuple[str, ...] | None = None
    """Storage nodes that do not answer while the rest still serve (a write quorum answers);
    None where there are no storage nodes (the local backend, a storage node itself)."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One finished request, as a frontend reports it for metrics."""

    api: str  # "s3" | "grpc"
    operation: str  # the endpoint / method name (a closed set)
    status: int  # the HTTP status (gRPC: the HTTP status of the gRPC code)
    seconds: float
    bytes_in: int = 0
    bytes_out: int = 0
    error_code: str = ""  # the S3 error code, when the request failed
    scope: Scope | None = None  # the caller's own scope (None: not authenticated)


class ServerHooks(Protocol):
    """What the server offers a frontend besides the service: readiness, metrics, accounting.

    Cheap to call: :meth:`readiness` is cached by the server (about a second) and
    :meth:`record` only adds to in-memory counters.
    """

    async def readiness(self) -> Readiness:
        """Reachability of the metadata store, the storage backend and the IAM."""
        ...

    async def metrics_page(self) -> tuple[bytes, str] | None:
        """The Prometheus page and its content type, or None when the frontend does not
        serve ``/metrics`` (metrics disabled, or served on ``metrics.addr``)."""
        ...

    def record(self, record: RequestRecord) -> None:
        """Count a finished request."""
        ...

    def connection_limit(self, reason: str) -> None:
        """Count a connection the frontend refused or closed at one of its limits
        (``max_connections``, ``header_timeout``, ``body_timeout``, …)."""
        ...


class FrontendFactory(Protocol):
    """What an entry point of the ``lightningstor.frontends`` group loads.

    The server calls it with the in-process core, the credential resolver, the settings and
    its :class:`ServerHooks`; a factory returns None when its frontend is disabled by the
    configuration.
    """

    def __call__(
        self,
        service: StorageService,
        credentials: CredentialResolver,
        settings: Settings,
        hooks: ServerHooks | None = None,
    ) -> Frontend | None: ...
