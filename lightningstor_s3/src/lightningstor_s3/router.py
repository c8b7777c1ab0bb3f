"""One parser from (method, path, query, headers) to a closed set of S3 endpoints.

:func:`route` turns a request into a :class:`Route`: an :class:`Endpoint` named after the AWS
operation, plus the bucket and key it addresses. Anything the facade does not serve is an error
raised here, before any handler runs:

- a sub-resource of S3 that we do not implement (``?website``, ``?logging``, …) →
  ``NotImplemented`` (501), so no client ever gets a listing back for a question it did not ask;
- a method S3 does not define on the resource (``PATCH``, ``POST /bucket/key`` without
  ``uploads``/``uploadId``, …) → ``MethodNotAllowed`` (405).

Query parameters that are no S3 sub-resource (``prefix``, ``x-id``, presigned ``X-Amz-*``, …)
select nothing and are ignored, as S3 ignores them.

Addressing: path style (``/bucket/key``) always; virtual-hosted style (``bucket.root/key``) when
the Host ends with one of ``s3.root_domains``. The key is the percent-decoded raw path, so ``+``
stays a plus and ``%2F`` a slash. A bucket of another scope is written ``org:bucket`` or
``org:project:bucket`` (Ceph RGW's ``tenant:bucket``): :attr:`Route.scope`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote

from lightningstor_types.errors import InvalidRequest, InvalidURI, MethodNotAllowed, NotImplemented_
from lightningstor_types.scope import Scope, qualified_bucket


class Endpoint(StrEnum):
    """Every S3 operation the facade serves; the value is the AWS operation name."""

    LIST_BUCKETS = "ListBuckets"
    CREATE_BUCKET = "CreateBucket"
    HEAD_BUCKET = "HeadBucket"
    DELETE_BUCKET = "DeleteBucket"
    GET_BUCKET_LOCATION = "GetBucketLocation"
    GET_BUCKET_VERSIONING = "GetBucketVersioning"
    PUT_BUCKET_VERSIONING = "PutBucketVersioning"
    GET_BUCKET_TAGGING = "GetBucketTagging"
    PUT_BUCKET_TAGGING = "PutBucketTagging"
    DELETE_BUCKET_TAGGING = "DeleteBucketTagging"
    GET_BUCKET_CORS = "GetBucketCors"
    PUT_BUCKET_CORS = "PutBucketCors"
    DELETE_BUCKET_CORS = "DeleteBucketCors"
    GET_BUCKET_LIFECYCLE = "GetBucketLifecycleConfiguration"
    PUT_BUCKET_LIFECYCLE = "PutBucketLifecycleConfiguration"
    DELETE_BUCKET_LIFECYCLE = "DeleteBucketLifecycleConfiguration"
    GET_OBJECT_LOCK_CONFIGURATION = "GetObjectLockConfiguration"
    PUT_OBJECT_LOCK_CONFIGURATION = "PutObjectLockConfiguration"
    GET_BUCKET_POLICY = "GetBucketPolicy"
    PUT_BUCKET_POLICY = "PutBucketPolicy"
    DELETE_BUCKET_POLICY = "DeleteBucketPolicy"
    GET_BUCKET_POLICY_STATUS = "GetBucketPolicyStatus"
    GET_PUBLIC_ACCESS_BLOCK = "GetPublicAccessBlock"
    PUT_PUBLIC_ACCESS_BLOCK = "PutPublicAccessBlock"
    DELETE_PUBLIC_ACCESS_BLOCK = "DeletePublicAccessBlock"
    GET_BUCKET_ENCRYPTION = "GetBucketEncryption"
    PUT_BUCKET_ENCRYPTION = "PutBucketEncryption"
    DELETE_BUCKET_ENCRYPTION = "DeleteBucketEncryption"
    GET_BUCKET_ACL = "GetBucketAcl"
    PUT_BUCKET_ACL = "PutBucketAcl"
    GET_BUCKET_OWNERSHIP_CONTROLS = "GetBucketOwnershipControls"
    PUT_BUCKET_OWNERSHIP_CONTROLS = "PutBucketOwnershipControls"
    DELETE_BUCKET_OWNERSHIP_CONTROLS = "DeleteBucketOwnershipControls"
    LIST_OBJECTS = "ListObjects"
    LIST_OBJECTS_V2 = "ListObjectsV2"
    LIST_OBJECT_VERSIONS = "ListObjectVersions"
    LIST_MULTIPART_UPLOADS = "ListMultipartUploads"
    DELETE_OBJECTS = "DeleteObjects"
    PUT_OBJECT = "PutObject"
    GET_OBJECT = "GetObject"
    HEAD_OBJECT = "HeadObject"
    GET_OBJECT_ATTRIBUTES = "GetObjectAttributes"
    DELETE_OBJECT = "DeleteObject"
    COPY_OBJECT = "CopyObject"
    GET_OBJECT_ACL = "GetObjectAcl"
    PUT_OBJECT_ACL = "PutObjectAcl"
    GET_OBJECT_TAGGING = "GetObjectTagging"
    PUT_OBJECT_TAGGING = "PutObjectTagging"
    DELETE_OBJECT_TAGGING = "DeleteObjectTagging"
    GET_OBJECT_RETENTION = "GetObjectRetention"
    PUT_OBJECT_RETENTION = "PutObjectRetention"
    GET_OBJECT_LEGAL_HOLD = "GetObjectLegalHold"
    PUT_OBJECT_LEGAL_HOLD = "PutObjectLegalHold"
    CREATE_MULTIPART_UPLOAD = "CreateMultipartUpload"
    UPLOAD_PART = "UploadPart"
    UPLOAD_PART_COPY = "UploadPartCopy"
    COMPLETE_MULTIPART_UPLOAD = "CompleteMultipartUpload"
    ABORT_MULTIPART_UPLOAD = "AbortMultipartUpload"
    LIST_PARTS = "ListParts"


@dataclass(frozen=True, slots=True)
class Route:
    """What a request addresses: the operation, and the bucket and key it names."""

    endpoint: Endpoint
    bucket: str = ""
    key: str = ""
    scope: Scope | None = None
    """The scope an ``org:bucket`` / ``org:project:bucket`` address names; None: the caller's."""


# Sub-resources S3 defines that select an operation we do not serve: NotImplemented.
_UNSERVED_BUCKET = frozenset(
    [
        "abac",
        "accelerate",
        "analytics",
        "intelligent-tiering",
        "inventory",
        "logging",
        "metadataConfiguration",
        "metadataTable",
        "metrics",
        "notification",
        "replication",
        "requestPayment",
        "session",
        "website",
    ]
)
_UNSERVED_OBJECT = frozenset(["renameObject", "restore", "select", "torrent"])
# Sub-resources we serve, by the level they live at.
_BUCKET_SUBS = frozenset(
    {
        "location",
        "versioning",
        "tagging",
        "lifecycle",
        "versions",
        "uploads",
        "delete",
        "cors",
        "object-lock",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "encryption",
        "acl",
        "ownershipControls",
    }
)
_OBJECT_SUBS = frozenset(
    {"tagging", "uploads", "uploadId", "attributes", "retention", "legal-hold", "acl"}
)


def split_host(host: str, root_domains: Sequence[str]) -> str:
    """The bucket a virtual-hosted-style Host names, or "" (path style).

    ``photos.s3.example.com:9000`` with root domain ``s3.example.com`` → ``photos``. A Host that
    is a root domain itself, or matches none, is path style.
    """
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    for root in root_domains:
        root = root.lower().rstrip(".")
        if name.endswith("." + root):
            return name[: -len(root) - 1]
    return ""


def split_path(raw_path: bytes, vhost_bucket: str) -> tuple[str, str]:
    """``(bucket, key)`` from the raw request path, percent-decoded once (UTF-8)."""
    try:
        path = unquote(raw_path.decode("ascii"), errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidURI(URI=raw_path.decode("latin-1")) from exc
    if not path.startswith("/"):
        raise InvalidURI(URI=path)
    if vhost_bucket:
        return vhost_bucket, path[1:]
    bucket, _, key = path[1:].partition("/")
    return bucket, key


def route(
    method: str,
    raw_path: bytes,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    host: str = "",
    root_domains: Sequence[str] = (),
) -> Route:
    """The endpoint a request addresses; raises NotImplemented or MethodNotAllowed otherwise."""
    spelled, key = split_path(raw_path, split_host(host, root_domains))
    if not spelled:
        if method in ("GET", "HEAD") and not key:
            return Route(Endpoint.LIST_BUCKETS)
        raise MethodNotAllowed(Method=method, ResourceType="SERVICE")
    scope, bucket = qualified_bucket(spelled)
    if not key:
        return Route(_bucket_endpoint(method, query), bucket, scope=scope)
    return Route(_object_endpoint(method, query, headers), bucket, key, scope)


def _unserved(query: Mapping[str, str], names: frozenset[str]) -> None:
    for name in query:
        if name in names:
            raise NotImplemented_(f"The '{name}' sub-resource is not implemented")


def _bucket_endpoint(method: str, query: Mapping[str, str]) -> Endpoint:
    _unserved(query, _UNSERVED_BUCKET)
    subs = _BUCKET_SUBS.intersection(query)
    sub = next(iter(subs)) if len(subs) == 1 else ""
    if len(subs) > 1:
        raise NotImplemented_(f"Sub-resources {sorted(subs)} cannot be combined")
    match method, sub:
        case "GET", "":
            return (
                Endpoint.LIST_OBJECTS_V2
                if query.get("list-type") == "2"
                else (Endpoint.LIST_OBJECTS)
            )
        case "GET", "location":
            return Endpoint.GET_BUCKET_LOCATION
        case "GET", "versioning":
            return Endpoint.GET_BUCKET_VERSIONING
        case "GET", "tagging":
            return Endpoint.GET_BUCKET_TAGGING
        case "GET", "lifecycle":
            return Endpoint.GET_BUCKET_LIFECYCLE
        case "GET", "encryption":
            return Endpoint.GET_BUCKET_ENCRYPTION
        case "PUT", "encryption":
            return Endpoint.PUT_BUCKET_ENCRYPTION
        case "DELETE", "encryption":
            return Endpoint.DELETE_BUCKET_ENCRYPTION
        case "GET", "versions":
            return Endpoint.LIST_OBJECT_VERSIONS
        case "GET", "uploads":
            return Endpoint.LIST_MULTIPART_UPLOADS
        case "HEAD", "":
            return Endpoint.HEAD_BUCKET
        case "PUT", "":
            return Endpoint.CREATE_BUCKET
        case "PUT", "versioning":
            return Endpoint.PUT_BUCKET_VERSIONING
        case "PUT", "tagging":
            return Endpoint.PUT_BUCKET_TAGGING
        case "PUT", "lifecycle":
            return Endpoint.PUT_BUCKET_LIFECYCLE
        case "DELETE", "":
            return Endpoint.DELETE_BUCKET
        case "DELETE", "tagging":
            return Endpoint.DELETE_BUCKET_TAGGING
        case "GET", "cors":
            return Endpoint.GET_BUCKET_CORS
        case "PUT", "cors":
            return Endpoint.PUT_BUCKET_CORS
        case "DELETE", "cors":
            return Endpoint.DELETE_BUCKET_CORS
        case "DELETE", "lifecycle":
            return Endpoint.DELETE_BUCKET_LIFECYCLE
        case "GET", "object-lock":
            return Endpoint.GET_OBJECT_LOCK_CONFIGURATION
        case "PUT", "object-lock":
            return Endpoint.PUT_OBJECT_LOCK_CONFIGURATION
        case "GET", "policy":
            return Endpoint.GET_BUCKET_POLICY
        case "PUT", "policy":
            return Endpoint.PUT_BUCKET_POLICY
        case "DELETE", "policy":
            return Endpoint.DELETE_BUCKET_POLICY
        case "GET", "policyStatus":
            return Endpoint.GET_BUCKET_POLICY_STATUS
        case "GET", "publicAccessBlock":
            return Endpoint.GET_PUBLIC_ACCESS_BLOCK
        case "PUT", "publicAccessBlock":
            return Endpoint.PUT_PUBLIC_ACCESS_BLOCK
        case "DELETE", "publicAccessBlock":
            return Endpoint.DELETE_PUBLIC_ACCESS_BLOCK
        case "GET", "acl":
            return Endpoint.GET_BUCKET_ACL
        case "PUT", "acl":
            return Endpoint.PUT_BUCKET_ACL
        case "GET", "ownershipControls":
            return Endpoint.GET_BUCKET_OWNERSHIP_CONTROLS
        case "PUT", "ownershipControls":
            return Endpoint.PUT_BUCKET_OWNERSHIP_CONTROLS
        case "DELETE", "ownershipControls":
            return Endpoint.DELETE_BUCKET_OWNERSHIP_CONTROLS
        case "POST", "delete":
            return Endpoint.DELETE_OBJECTS
        case "POST", "":  # a form upload is served before routing (postobject)
            raise InvalidRequest("POST to a bucket must be a multipart/form-data upload")
    raise MethodNotAllowed(Method=method, ResourceType="BUCKET")


def _object_endpoint(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> Endpoint:
    _unserved(query, _UNSERVED_OBJECT)
    tagging = "tagging" in query
    upload = "uploadId" in query
    copy = "x-amz-copy-source" in headers
    if "attributes" in query and method != "GET":  # never a write of the object itself
        raise MethodNotAllowed(Method=method, ResourceType="OBJECT")
    lock = "retention" if "retention" in query else "legal-hold" if "legal-hold" in query else ""
    if "acl" in query:
        if lock or tagging or upload or "attributes" in query or method not in ("GET", "PUT"):
            raise MethodNotAllowed(Method=method, ResourceType="OBJECT")
        return Endpoint.GET_OBJECT_ACL if method == "GET" else Endpoint.PUT_OBJECT_ACL
    if lock and (tagging or upload or "attributes" in query or method not in ("GET", "PUT")):
        raise MethodNotAllowed(Method=method, ResourceType="OBJECT")
    match method:
        case "GET" if lock == "retention":
            return Endpoint.GET_OBJECT_RETENTION
        case "PUT" if lock == "retention":
            return Endpoint.PUT_OBJECT_RETENTION
        case "GET" if lock:
            return Endpoint.GET_OBJECT_LEGAL_HOLD
        case "PUT" if lock:
            return Endpoint.PUT_OBJECT_LEGAL_HOLD
        case "GET" if tagging:
            return Endpoint.GET_OBJECT_TAGGING
        case "GET" if upload:
            return Endpoint.LIST_PARTS
        case "GET" if "attributes" in query:
            return Endpoint.GET_OBJECT_ATTRIBUTES
        case "GET":
            return Endpoint.GET_OBJECT
        case "HEAD":
            return Endpoint.HEAD_OBJECT
        case "PUT" if tagging:
            return Endpoint.PUT_OBJECT_TAGGING
        case "PUT" if upload or "partNumber" in query:
            return Endpoint.UPLOAD_PART_COPY if copy else Endpoint.UPLOAD_PART
        case "PUT":
            return Endpoint.COPY_OBJECT if copy else Endpoint.PUT_OBJECT
        case "POST" if "uploads" in query:
            return Endpoint.CREATE_MULTIPART_UPLOAD
        case "POST" if upload:
            return Endpoint.COMPLETE_MULTIPART_UPLOAD
        case "DELETE" if tagging:
            return Endpoint.DELETE_OBJECT_TAGGING
        case "DELETE" if upload:
            return Endpoint.ABORT_MULTIPART_UPLOAD
        case "DELETE":
            return Endpoint.DELETE_OBJECT
    raise MethodNotAllowed(Method=method, ResourceType="OBJECT")
