"""What the client returns: frozen dataclasses built from the API messages.

Timestamps are aware ``datetime`` objects in UTC; a field the server did not set is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import bucket_pb2, common_pb2, credential_pb2, object_pb2
from lightningstor_types.scope import Scope

Versioning = Literal["Enabled", "Suspended"]
ChecksumName = Literal["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]

_VERSIONING: dict[int, Versioning | None] = {
    bucket_pb2.VERSIONING_STATUS_UNVERSIONED: None,
    bucket_pb2.VERSIONING_STATUS_ENABLED: "Enabled",
    bucket_pb2.VERSIONING_STATUS_SUSPENDED: "Suspended",
}
_CHECKSUM_TYPE = {
    common_pb2.CHECKSUM_TYPE_FULL_OBJECT: "FULL_OBJECT",
    common_pb2.CHECKSUM_TYPE_COMPOSITE: "COMPOSITE",
}


def to_datetime(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _time_if(present: bool, ts: Timestamp) -> datetime | None:
    return to_datetime(ts) if present else None


def _scope(msg: common_pb2.Scope) -> Scope | None:
    return Scope(msg.org_id, msg.project_id or None) if msg.org_id else None


@dataclass(frozen=True, slots=True)
class Checksums:
    """Stored checksums, base64 of the big-endian digest as S3 spells them."""

    crc32: str | None = None
    crc32c: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    crc64nvme: str | None = None
    type: Literal["FULL_OBJECT", "COMPOSITE"] | None = None

    @classmethod
    def from_pb(cls, msg: common_pb2.Checksums) -> Checksums:
        kind = _CHECKSUM_TYPE.get(msg.type)
        return cls(
            crc32=msg.crc32 or None,
            crc32c=msg.crc32c or None,
            sha1=msg.sha1 or None,
            sha256=msg.sha256 or None,
            crc64nvme=msg.crc64nvme or None,
            type=kind,  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    scope: Scope | None
    created_at: datetime
    region: str
    versioning: Versioning | None

    @classmethod
    def from_pb(cls, msg: bucket_pb2.BucketInfo) -> Bucket:
        return cls(
            name=msg.name,
            scope=_scope(msg.scope),
            created_at=to_datetime(msg.created_at),
            region=msg.region,
            versioning=_VERSIONING.get(msg.versioning),
        )


@dataclass(frozen=True, slots=True)
class Encryption:
    """How an object's content is encrypted at rest: ``algorithm`` "AES256" (SSE-S3) or
    "aws:kms" (SSE-KMS, with its master key and encryption context), or ``customer_key_md5``
    set for SSE-C (base64 MD5 of the customer's key); all empty: stored in clear."""

    algorithm: str = ""
    kms_key_id: str = ""
    kms_context: str = ""
    customer_key_md5: str = ""

    @classmethod
    def from_pb(
        cls,
        msg: common_pb2.ObjectInfo
        | object_pb2.PutObjectResponse
        | object_pb2.CompleteMultipartUploadResponse
        | object_pb2.CopyObjectResponse,
    ) -> Encryption:
        context = (
            "" if isinstance(msg, object_pb2.CompleteMultipartUploadResponse) else (msg.kms_context)
        )
        return cls(msg.server_side_encryption, msg.kms_key_id, context, msg.sse_customer_key_md5)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One version of an object, as HEAD, GET and listings describe it."""

    bucket: str
    key: str
    version_id: str | None
    is_latest: bool
    is_delete_marker: bool
    etag: str
    size: int
    last_modified: datetime
    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    storage_class: str | None = None
    checksums: Checksums = field(default_factory=Checksums)
    parts_count: int = 0
    tag_count: int = 0
    owner_id: str | None = None
    encryption: Encryption = field(default_factory=lambda: Encryption())
    website_redirect_location: str | None = None

    @classmethod
    def from_pb(cls, msg: common_pb2.ObjectInfo) -> ObjectInfo:
        h = msg.headers
        return cls(
            bucket=msg.bucket,
            key=msg.key,
            version_id=msg.version_id or None,
            is_latest=msg.is_latest,
            is_delete_marker=msg.is_delete_marker,
            etag=msg.etag,
            size=msg.size,
            last_modified=to_datetime(msg.last_modified),
            content_type=h.content_type or None,
            content_encoding=h.content_encoding or None,
            content_disposition=h.content_disposition or None,
            content_language=h.content_language or None,
            cache_control=h.cache_control or None,
            expires=h.expires or None,
            metadata=dict(msg.user_metadata),
            storage_class=msg.storage_class or None,
            checksums=Checksums.from_pb(msg.checksums),
            parts_count=msg.parts_count,
            tag_count=msg.tag_count,
            owner_id=msg.owner.id or None,
            encryption=Encryption.from_pb(msg),
            website_redirect_location=h.website_redirect_location or None,
        )


@dataclass(frozen=True, slots=True)
class PutResult:
    etag: str
    version_id: str | None
    size: int
    last_modified: datetime | None
    checksums: Checksums
    encryption: Encryption = field(default_factory=lambda: Encryption())

    @classmethod
    def from_pb(
        cls, msg: object_pb2.PutObjectResponse | object_pb2.CompleteMultipartUploadResponse
    ) -> PutResult:
        last_modified = None  # CompleteMultipartUpload does not say
        if isinstance(msg, object_pb2.PutObjectResponse):
            last_modified = _time_if(msg.HasField("last_modified"), msg.last_modified)
        return cls(
            msg.etag,
            msg.version_id or None,
            msg.size,
            last_modified,
            Checksums.from_pb(msg.checksums),
            Encryption.from_pb(msg),
        )


@dataclass(frozen=True, slots=True)
class CopyResult:
    etag: str
    last_modified: datetime | None
    version_id: str | None
    source_version_id: str | None
    checksums: Checksums
    encryption: Encryption = field(default_factory=lambda: Encryption())

    @classmethod
    def from_pb(cls, msg: object_pb2.CopyObjectResponse) -> CopyResult:
        return cls(
            etag=msg.etag,
            last_modified=_time_if(msg.HasField("last_modified"), msg.last_modified),
            version_id=msg.version_id or None,
            source_version_id=msg.source_version_id or None,
            checksums=Checksums.from_pb(msg.checksums),
            encryption=Encryption.from_pb(msg),
        )


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """A deleted version, or the delete marker a delete created."""

    key: str
    version_id: str | None
    delete_marker: bool
    delete_marker_version_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteFailure:
    """A key that DeleteObjects could not delete, with the S3 error code."""

    key: str
    version_id: str | None
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class DeleteObjectsResult:
    deleted: tuple[DeleteResult, ...]
    errors: tuple[DeleteFailure, ...]

    @classmethod
    def from_pb(cls, msg: object_pb2.DeleteObjectsResponse) -> DeleteObjectsResult:
        return cls(
            deleted=tuple(
                DeleteResult(
                    d.key, d.version_id or None, d.delete_marker, d.delete_marker_version_id or None
                )
                for d in msg.deleted
            ),
            errors=tuple(
                DeleteFailure(e.key, e.version_id or None, e.code, e.message) for e in msg.errors
            ),
        )


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of ListObjects; ``next_token`` is None on the last page."""

    objects: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    next_token: str | None

    @classmethod
    def from_pb(cls, msg: object_pb2.ListObjectsResponse) -> ListPage:
        return cls(
            objects=tuple(ObjectInfo.from_pb(o) for o in msg.objects),
            common_prefixes=tuple(msg.common_prefixes),
            next_token=(msg.next_continuation_token or None) if msg.is_truncated else None,
        )


@dataclass(frozen=True, slots=True)
class VersionPage:
    """One page of ListObjectVersions; the markers are None on the last page."""

    versions: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    next_key_marker: str | None
    next_version_id_marker: str | None

    @classmethod
    def from_pb(cls, msg: object_pb2.ListObjectVersionsResponse) -> VersionPage:
        truncated = msg.is_truncated
        return cls(
            versions=tuple(ObjectInfo.from_pb(o) for o in msg.versions),
            common_prefixes=tuple(msg.common_prefixes),
            next_key_marker=(msg.next_key_marker or None) if truncated else None,
            next_version_id_marker=(msg.next_version_id_marker or None) if truncated else None,
        )


@dataclass(frozen=True, slots=True)
class Upload:
    """A multipart upload in progress."""

    bucket: str
    key: str
    upload_id: str
    initiated: datetime | None = None
    storage_class: str | None = None

    @classmethod
    def from_pb(cls, bucket: str, msg: object_pb2.UploadInfo) -> Upload:
        return cls(
            bucket,
            msg.key,
            msg.upload_id,
            _time_if(msg.HasField("initiated"), msg.initiated),
            msg.storage_class or None,
        )


@dataclass(frozen=True, slots=True)
class UploadPage:
    uploads: tuple[Upload, ...]
    common_prefixes: tuple[str, ...]
    next_key_marker: str | None
    next_upload_id_marker: str | None

    @classmethod
    def from_pb(cls, bucket: str, msg: object_pb2.ListMultipartUploadsResponse) -> UploadPage:
        truncated = msg.is_truncated
        return cls(
            uploads=tuple(Upload.from_pb(bucket, u) for u in msg.uploads),
            common_prefixes=tuple(msg.common_prefixes),
            next_key_marker=(msg.next_key_marker or None) if truncated else None,
            next_upload_id_marker=(msg.next_upload_id_marker or None) if truncated else None,
        )


@dataclass(frozen=True, slots=True)
class Part:
    """A part of a multipart upload: what UploadPart returns and ListParts lists.

    ``size`` and ``last_modified`` are None where the server does not say (UploadPartCopy).
    """

    part_number: int
    etag: str
    size: int | None = None
    last_modified: datetime | None = None
    checksums: Checksums = field(default_factory=Checksums)

    @classmethod
    def from_pb(cls, msg: object_pb2.PartInfo) -> Part:
        return cls(
            msg.part_number,
            msg.etag,
            msg.size,
            _time_if(msg.HasField("last_modified"), msg.last_modified),
            Checksums.from_pb(msg.checksums),
        )


@dataclass(frozen=True, slots=True)
class PartsPage:
    """One page of ListParts; ``next_part_number_marker`` is None on the last page."""

    parts: tuple[Part, ...]
    next_part_number_marker: int | None

    @classmethod
    def from_pb(cls, msg: object_pb2.ListPartsResponse) -> PartsPage:
        return cls(
            parts=tuple(Part.from_pb(p) for p in msg.parts),
            next_part_number_marker=msg.next_part_number_marker if msg.is_truncated else None,
        )


@dataclass(frozen=True, slots=True)
class CorsRule:
    """One rule of a bucket's CORS configuration (S3's ``CORSRule``)."""

    allowed_origins: tuple[str, ...]
    allowed_methods: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None

    @classmethod
    def from_pb(cls, msg: bucket_pb2.CorsRule) -> CorsRule:
        return cls(
            allowed_origins=tuple(msg.allowed_origins),
            allowed_methods=tuple(msg.allowed_methods),
            allowed_headers=tuple(msg.allowed_headers),
            expose_headers=tuple(msg.expose_headers),
            max_age_seconds=msg.max_age_seconds if msg.HasField("max_age_seconds") else None,
            id=msg.id or None,
        )

    def to_pb(self) -> bucket_pb2.CorsRule:
        return bucket_pb2.CorsRule(
            id=self.id or "",
            allowed_origins=self.allowed_origins,
            allowed_methods=self.allowed_methods,
            allowed_headers=self.allowed_headers,
            expose_headers=self.expose_headers,
            max_age_seconds=self.max_age_seconds,
        )


@dataclass(frozen=True, slots=True)
class ObjectAttributes:
    """GetObjectAttributes: a version (with its stored checksums) and one page of its parts.

    ``parts`` holds part number, size and checksums (no ETag); empty for an object not uploaded
    in parts (``object.parts_count == 0``). ``next_part_number_marker`` is None on the last page.
    """

    object: ObjectInfo
    parts: tuple[Part, ...]
    next_part_number_marker: int | None
    max_parts: int

    @classmethod
    def from_pb(cls, msg: object_pb2.GetObjectAttributesResponse) -> ObjectAttributes:
        return cls(
            object=ObjectInfo.from_pb(msg.object),
            parts=tuple(
                Part(p.part_number, "", p.size, None, Checksums.from_pb(p.checksums))
                for p in msg.parts
            ),
            next_part_number_marker=msg.next_part_number_marker if msg.is_truncated else None,
            max_parts=msg.max_parts,
        )


@dataclass(frozen=True, slots=True)
class AccessKey:
    """An S3 access key; ``secret_access_key`` is only known right after creation."""

    access_key_id: str
    principal_id: str
    scope: Scope | None
    created_at: datetime
    expires_at: datetime | None
    description: str
    secret_access_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_pb(cls, msg: credential_pb2.AccessKey, secret: str | None = None) -> AccessKey:
        return cls(
            access_key_id=msg.access_key_id,
            principal_id=msg.principal_id,
            scope=_scope(msg.scope),
            created_at=to_datetime(msg.created_at),
            expires_at=_time_if(msg.HasField("expires_at"), msg.expires_at),
            description=msg.description,
            secret_access_key=secret,
        )


@dataclass(frozen=True, slots=True)
class ExplainedRule:
    """One rule an access decision considered: ``source`` is ``iam``, ``policy`` or ``acl``."""

    source: str
    rule: str
    effect: str
    applied: bool


@dataclass(frozen=True, slots=True)
class AccessExplanation:
    """The answer of ``explain_access``: the decision, its reason, and what was considered."""

    allowed: bool
    reason: str
    actions: list[str]
    considered: list[ExplainedRule]

    @classmethod
    def from_pb(cls, pb: bucket_pb2.ExplainAccessResponse) -> AccessExplanation:
        return cls(
            pb.allowed,
            pb.reason,
            list(pb.actions),
            [ExplainedRule(r.source, r.rule, r.effect, r.applied) for r in pb.considered],
        )
