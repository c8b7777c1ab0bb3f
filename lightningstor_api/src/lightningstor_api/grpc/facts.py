"""The condition facts a gRPC request's message carries, under the key names the S3 frontend
gives what it reads from headers and query (``lightningstor_s3/conditions.py``): a policy
conditioned on ``s3:x-amz-acl``, ``s3:RequestObjectTag/<k>``, ``s3:prefix``, … decides a gRPC
call as it decides the S3 request that asks the same (and the S3 gateway, which forwards over
gRPC, keeps them). Without this a Deny on such a key was bypassed by asking over gRPC."""

from __future__ import annotations

from collections.abc import Iterable

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_types import condition_keys as k

_LISTINGS = (object_pb2.ListObjectsRequest, object_pb2.ListObjectVersionsRequest)
_WRITES = (
    object_pb2.PutObjectHeader,
    object_pb2.CopyObjectRequest,
    object_pb2.CreateMultipartUploadRequest,
)
_TAGGED = (*_WRITES, object_pb2.PutObjectTaggingRequest)


def _scoped(scope: common_pb2.Scope, bucket: str) -> str:
    """A bucket as S3 names it: ``org:bucket`` / ``org:project:bucket`` in another scope."""
    if not scope.org_id:
        return bucket
    return ":".join(p for p in (scope.org_id, scope.project_id, bucket) if p)


def _tags(tags: Iterable[common_pb2.Tag]) -> dict[str, str]:
    pairs = [(t.key, t.value) for t in tags]
    if not pairs:
        return {}
    facts = {k.REQUEST_OBJECT_TAG_KEYS: ",".join(key for key, _ in pairs)}
    facts.update({k.REQUEST_OBJECT_TAG + key.lower(): value for key, value in pairs})
    return facts


def message_facts(message: object) -> dict[str, str]:
    """The facts of a request message (or of a streamed upload's header message)."""
    facts: dict[str, str] = {}
    version = getattr(message, "version_id", "")
    if isinstance(version, str) and version:
        facts[k.VERSION_ID] = version
    if isinstance(message, _LISTINGS):
        # Empty and zero are "not given", as an absent query parameter.
        if message.prefix:
            facts[k.PREFIX] = message.prefix
        if message.delimiter:
            facts[k.DELIMITER] = message.delimiter
        if message.max_keys:
            facts[k.MAX_KEYS] = str(message.max_keys)
    if isinstance(message, _WRITES):
        if message.acl.canned:
            facts[k.ACL] = message.acl.canned
        if message.server_side_encryption:
            facts[k.SERVER_SIDE_ENCRYPTION] = message.server_side_encryption
    if isinstance(message, object_pb2.CopyObjectRequest | object_pb2.UploadPartCopyRequest):
        src = message.source
        facts[k.COPY_SOURCE] = f"{_scoped(src.scope, src.bucket)}/{src.key}" + (
            f"?versionId={src.version_id}" if src.version_id else ""
        )
    if isinstance(message, object_pb2.CopyObjectRequest):
        replace = message.metadata_directive == object_pb2.METADATA_DIRECTIVE_REPLACE
        facts[k.METADATA_DIRECTIVE] = "REPLACE" if replace else "COPY"
    if isinstance(message, _TAGGED):
        facts.update(_tags(message.tags))
    return facts
