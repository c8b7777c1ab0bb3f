"""The handler of every endpoint: one exhaustive table, checked complete at import."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lightningstor_s3.cors import handlers as cors
from lightningstor_s3.handlers import (
    acl,
    attributes,
    buckets,
    copy,
    encryption,
    lifecycle,
    listing,
    multipart,
    objectlock,
    objects,
    policy,
    tagging,
)
from lightningstor_s3.handlers.base import Handler, S3Call
from lightningstor_s3.router import Endpoint

E = Endpoint

HANDLERS: Mapping[Endpoint, Handler] = MappingProxyType(
    {
        E.LIST_BUCKETS: buckets.list_buckets,
        E.CREATE_BUCKET: buckets.create_bucket,
        E.HEAD_BUCKET: buckets.head_bucket,
        E.DELETE_BUCKET: buckets.delete_bucket,
        E.GET_BUCKET_LOCATION: buckets.get_bucket_location,
        E.GET_BUCKET_VERSIONING: buckets.get_bucket_versioning,
        E.PUT_BUCKET_VERSIONING: buckets.put_bucket_versioning,
        E.GET_BUCKET_TAGGING: buckets.get_bucket_tagging,
        E.PUT_BUCKET_TAGGING: buckets.put_bucket_tagging,
        E.DELETE_BUCKET_TAGGING: buckets.delete_bucket_tagging,
        E.GET_BUCKET_CORS: cors.get_bucket_cors,
        E.PUT_BUCKET_CORS: cors.put_bucket_cors,
        E.DELETE_BUCKET_CORS: cors.delete_bucket_cors,
        E.GET_BUCKET_LIFECYCLE: lifecycle.get_bucket_lifecycle,
        E.PUT_BUCKET_LIFECYCLE: lifecycle.put_bucket_lifecycle,
        E.DELETE_BUCKET_LIFECYCLE: lifecycle.delete_bucket_lifecycle,
        E.GET_OBJECT_LOCK_CONFIGURATION: objectlock.get_object_lock_configuration,
        E.PUT_OBJECT_LOCK_CONFIGURATION: objectlock.put_object_lock_configuration,
        E.GET_OBJECT_RETENTION: objectlock.get_object_retention,
        E.PUT_OBJECT_RETENTION: objectlock.put_object_retention,
        E.GET_OBJECT_LEGAL_HOLD: objectlock.get_object_legal_hold,
        E.PUT_OBJECT_LEGAL_HOLD: objectlock.put_object_legal_hold,
        E.GET_BUCKET_POLICY: policy.get_bucket_policy,
        E.PUT_BUCKET_POLICY: policy.put_bucket_policy,
        E.DELETE_BUCKET_POLICY: policy.delete_bucket_policy,
        E.GET_BUCKET_POLICY_STATUS: policy.get_bucket_policy_status,
        E.GET_PUBLIC_ACCESS_BLOCK: policy.get_public_access_block,
        E.PUT_PUBLIC_ACCESS_BLOCK: policy.put_public_access_block,
        E.DELETE_PUBLIC_ACCESS_BLOCK: policy.delete_public_access_block,
        E.GET_BUCKET_ACL: acl.get_bucket_acl,
        E.PUT_BUCKET_ACL: acl.put_bucket_acl,
        E.GET_OBJECT_ACL: acl.get_object_acl,
        E.PUT_OBJECT_ACL: acl.put_object_acl,
        E.GET_BUCKET_OWNERSHIP_CONTROLS: acl.get_bucket_ownership_controls,
        E.PUT_BUCKET_OWNERSHIP_CONTROLS: acl.put_bucket_ownership_controls,
        E.DELETE_BUCKET_OWNERSHIP_CONTROLS: acl.delete_bucket_ownership_controls,
        E.GET_BUCKET_ENCRYPTION: encryption.get_bucket_encryption,
        E.PUT_BUCKET_ENCRYPTION: encryption.put_bucket_encryption,
        E.DELETE_BUCKET_ENCRYPTION: encryption.delete_bucket_encryption,
        E.LIST_OBJECTS: listing.list_objects,
        E.LIST_OBJECTS_V2: listing.list_objects_v2,
        E.LIST_OBJECT_VERSIONS: listing.list_object_versions,
        E.LIST_MULTIPART_UPLOADS: listing.list_multipart_uploads,
        E.DELETE_OBJECTS: objects.delete_objects,
        E.PUT_OBJECT: objects.put_object,
        E.GET_OBJECT: objects.get_object,
        E.HEAD_OBJECT: objects.head_object,
        E.GET_OBJECT_ATTRIBUTES: attributes.get_object_attributes,
        E.DELETE_OBJECT: objects.delete_object,
        E.COPY_OBJECT: copy.copy_object,
        E.GET_OBJECT_TAGGING: tagging.get_object_tagging,
        E.PUT_OBJECT_TAGGING: tagging.put_object_tagging,
        E.DELETE_OBJECT_TAGGING: tagging.delete_object_tagging,
        E.CREATE_MULTIPART_UPLOAD: multipart.create_multipart_upload,
        E.UPLOAD_PART: multipart.upload_part,
        E.UPLOAD_PART_COPY: copy.upload_part_copy,
        E.COMPLETE_MULTIPART_UPLOAD: multipart.complete_multipart_upload,
        E.ABORT_MULTIPART_UPLOAD: multipart.abort_multipart_upload,
        E.LIST_PARTS: multipart.list_parts,
    }
)

_missing = set(Endpoint) - set(HANDLERS)
if _missing:  # pragma: no cover - a new Endpoint without its handler fails at import
    raise RuntimeError(f"endpoints without a handler: {sorted(_missing)}")

__all__ = ["HANDLERS", "Handler", "S3Call"]
