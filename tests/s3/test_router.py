"""The router's table: (method, path, query, headers, host) → endpoint, bucket, key, or error."""

from __future__ import annotations

import pytest

from lightningstor_s3.exchange import parse_query
from lightningstor_s3.handlers import HANDLERS
from lightningstor_s3.router import Endpoint, Route, route, split_host
from lightningstor_types.errors import (
    InvalidBucketName,
    InvalidRequest,
    InvalidURI,
    MethodNotAllowed,
    NotImplemented_,
)
from lightningstor_types.scope import Scope

E = Endpoint
COPY = {"x-amz-copy-source": "/src/key"}

TABLE: list[tuple[str, str, str, dict[str, str], Route]] = [
    # service
    ("GET", "/", "", {}, Route(E.LIST_BUCKETS)),
    # buckets
    ("GET", "/b", "", {}, Route(E.LIST_OBJECTS, "b")),
    ("GET", "/b/", "", {}, Route(E.LIST_OBJECTS, "b")),
    ("GET", "/b", "prefix=a&delimiter=/", {}, Route(E.LIST_OBJECTS, "b")),
    ("GET", "/b", "list-type=2", {}, Route(E.LIST_OBJECTS_V2, "b")),
    ("GET", "/b", "list-type=2&encoding-type=url&x-id=X", {}, Route(E.LIST_OBJECTS_V2, "b")),
    ("GET", "/b", "location", {}, Route(E.GET_BUCKET_LOCATION, "b")),
    ("GET", "/b", "versioning", {}, Route(E.GET_BUCKET_VERSIONING, "b")),
    ("GET", "/b", "tagging", {}, Route(E.GET_BUCKET_TAGGING, "b")),
    ("GET", "/b", "versions&prefix=x", {}, Route(E.LIST_OBJECT_VERSIONS, "b")),
    ("GET", "/b", "uploads", {}, Route(E.LIST_MULTIPART_UPLOADS, "b")),
    ("HEAD", "/b", "", {}, Route(E.HEAD_BUCKET, "b")),
    ("PUT", "/b", "", {}, Route(E.CREATE_BUCKET, "b")),
    ("PUT", "/b", "versioning", {}, Route(E.PUT_BUCKET_VERSIONING, "b")),
    ("PUT", "/b", "tagging", {}, Route(E.PUT_BUCKET_TAGGING, "b")),
    ("DELETE", "/b", "", {}, Route(E.DELETE_BUCKET, "b")),
    ("DELETE", "/b", "tagging", {}, Route(E.DELETE_BUCKET_TAGGING, "b")),
    ("GET", "/b", "cors", {}, Route(E.GET_BUCKET_CORS, "b")),
    ("PUT", "/b", "cors", {}, Route(E.PUT_BUCKET_CORS, "b")),
    ("DELETE", "/b", "cors", {}, Route(E.DELETE_BUCKET_CORS, "b")),
    ("GET", "/b", "lifecycle", {}, Route(E.GET_BUCKET_LIFECYCLE, "b")),
    ("PUT", "/b", "lifecycle", {}, Route(E.PUT_BUCKET_LIFECYCLE, "b")),
    ("DELETE", "/b", "lifecycle", {}, Route(E.DELETE_BUCKET_LIFECYCLE, "b")),
    ("GET", "/b", "object-lock", {}, Route(E.GET_OBJECT_LOCK_CONFIGURATION, "b")),
    ("PUT", "/b", "object-lock", {}, Route(E.PUT_OBJECT_LOCK_CONFIGURATION, "b")),
    ("GET", "/b/k", "retention", {}, Route(E.GET_OBJECT_RETENTION, "b", "k")),
    ("PUT", "/b/k", "retention&versionId=1", {}, Route(E.PUT_OBJECT_RETENTION, "b", "k")),
    ("GET", "/b/k", "legal-hold", {}, Route(E.GET_OBJECT_LEGAL_HOLD, "b", "k")),
    ("PUT", "/b/k", "legal-hold", {}, Route(E.PUT_OBJECT_LEGAL_HOLD, "b", "k")),
    ("GET", "/b", "policy", {}, Route(E.GET_BUCKET_POLICY, "b")),
    ("PUT", "/b", "policy", {}, Route(E.PUT_BUCKET_POLICY, "b")),
    ("DELETE", "/b", "policy", {}, Route(E.DELETE_BUCKET_POLICY, "b")),
    ("GET", "/b", "policyStatus", {}, Route(E.GET_BUCKET_POLICY_STATUS, "b")),
    ("GET", "/b", "acl", {}, Route(E.GET_BUCKET_ACL, "b")),
    ("PUT", "/b", "acl", {}, Route(E.PUT_BUCKET_ACL, "b")),
    ("GET", "/b/k", "acl&versionId=3", {}, Route(E.GET_OBJECT_ACL, "b", "k")),
    ("PUT", "/b/k", "acl", {}, Route(E.PUT_OBJECT_ACL, "b", "k")),
    ("GET", "/b", "ownershipControls", {}, Route(E.GET_BUCKET_OWNERSHIP_CONTROLS, "b")),
    ("PUT", "/b", "ownershipControls", {}, Route(E.PUT_BUCKET_OWNERSHIP_CONTROLS, "b")),
    ("DELETE", "/b", "ownershipControls", {}, Route(E.DELETE_BUCKET_OWNERSHIP_CONTROLS, "b")),
    ("GET", "/b", "publicAccessBlock", {}, Route(E.GET_PUBLIC_ACCESS_BLOCK, "b")),
    ("PUT", "/b", "publicAccessBlock", {}, Route(E.PUT_PUBLIC_ACCESS_BLOCK, "b")),
    ("DELETE", "/b", "publicAccessBlock", {}, Route(E.DELETE_PUBLIC_ACCESS_BLOCK, "b")),
    ("GET", "/orga:b/k", "", {}, Route(E.GET_OBJECT, "b", "k", Scope("orga"))),
    ("GET", "/orga:p:b", "", {}, Route(E.LIST_OBJECTS, "b", scope=Scope("orga", "p"))),
    ("GET", "/b", "encryption", {}, Route(E.GET_BUCKET_ENCRYPTION, "b")),
    ("PUT", "/b", "encryption", {}, Route(E.PUT_BUCKET_ENCRYPTION, "b")),
    ("DELETE", "/b", "encryption", {}, Route(E.DELETE_BUCKET_ENCRYPTION, "b")),
    ("POST", "/b", "delete", {}, Route(E.DELETE_OBJECTS, "b")),
    ("POST", "/b", "delete=", {}, Route(E.DELETE_OBJECTS, "b")),
    # objects
    ("GET", "/b/k", "", {}, Route(E.GET_OBJECT, "b", "k")),
    ("GET", "/b/k", "versionId=v&partNumber=2&x=1", {}, Route(E.GET_OBJECT, "b", "k")),
    ("GET", "/b/k", "X-Amz-Signature=abc&X-Amz-Credential=x", {}, Route(E.GET_OBJECT, "b", "k")),
    ("HEAD", "/b/k", "", {}, Route(E.HEAD_OBJECT, "b", "k")),
    ("PUT", "/b/k", "", {}, Route(E.PUT_OBJECT, "b", "k")),
    ("PUT", "/b/k", "", COPY, Route(E.COPY_OBJECT, "b", "k")),
    ("DELETE", "/b/k", "", {}, Route(E.DELETE_OBJECT, "b", "k")),
    ("DELETE", "/b/k", "versionId=v", {}, Route(E.DELETE_OBJECT, "b", "k")),
    ("GET", "/b/k", "tagging", {}, Route(E.GET_OBJECT_TAGGING, "b", "k")),
    ("PUT", "/b/k", "tagging", {}, Route(E.PUT_OBJECT_TAGGING, "b", "k")),
    ("DELETE", "/b/k", "tagging", {}, Route(E.DELETE_OBJECT_TAGGING, "b", "k")),
    ("POST", "/b/k", "uploads", {}, Route(E.CREATE_MULTIPART_UPLOAD, "b", "k")),
    ("PUT", "/b/k", "partNumber=1&uploadId=u", {}, Route(E.UPLOAD_PART, "b", "k")),
    ("PUT", "/b/k", "partNumber=1&uploadId=u", COPY, Route(E.UPLOAD_PART_COPY, "b", "k")),
    ("POST", "/b/k", "uploadId=u", {}, Route(E.COMPLETE_MULTIPART_UPLOAD, "b", "k")),
    ("DELETE", "/b/k", "uploadId=u", {}, Route(E.ABORT_MULTIPART_UPLOAD, "b", "k")),
    ("GET", "/b/k", "uploadId=u", {}, Route(E.LIST_PARTS, "b", "k")),
    ("GET", "/b/k", "attributes", {}, Route(E.GET_OBJECT_ATTRIBUTES, "b", "k")),
    ("GET", "/b/k", "attributes&versionId=v", {}, Route(E.GET_OBJECT_ATTRIBUTES, "b", "k")),
    # keys: decoded once, "+" stays a plus, "%2F" a slash, trailing slash kept
    ("GET", "/b/a%20b+c", "", {}, Route(E.GET_OBJECT, "b", "a b+c")),
    ("GET", "/b/dir/", "", {}, Route(E.GET_OBJECT, "b", "dir/")),
    ("GET", "/b/a%2Fb//c", "", {}, Route(E.GET_OBJECT, "b", "a/b//c")),
    ("GET", "/b/%E6%97%A5%E6%9C%AC", "", {}, Route(E.GET_OBJECT, "b", "日本")),
    ("GET", "/b/100%25", "", {}, Route(E.GET_OBJECT, "b", "100%")),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "query", "headers", "expected"), TABLE)
def test_route(
    method: str, path: str, query: str, headers: dict[str, str], expected: Route
) -> None:
    assert route(method, path.encode(), parse_query(query.encode()), headers) == expected


ERRORS: list[tuple[str, str, str, type[Exception]]] = [
    ("PUT", "/", "", MethodNotAllowed),
    ("GET", "/a:b:c:d/k", "", InvalidBucketName),
    ("GET", "/bad org:b/k", "", InvalidBucketName),
    ("DELETE", "/", "", MethodNotAllowed),
    ("POST", "/", "", MethodNotAllowed),
    ("PATCH", "/b", "", MethodNotAllowed),
    ("PATCH", "/b/k", "", MethodNotAllowed),
    ("POST", "/b/k", "", MethodNotAllowed),
    ("HEAD", "/b", "location", MethodNotAllowed),
    ("POST", "/b", "", InvalidRequest),
    ("GET", "/b", "logging", NotImplemented_),
    ("PUT", "/b", "notification", NotImplemented_),
    ("POST", "/b", "lifecycle", MethodNotAllowed),
    ("DELETE", "/b", "website", NotImplemented_),
    ("GET", "/b", "website", NotImplemented_),
    ("GET", "/b", "list-type=2&logging", NotImplemented_),
    ("GET", "/b", "versioning&tagging", NotImplemented_),
    ("POST", "/b/k", "acl", MethodNotAllowed),
    ("PUT", "/b/k", "acl&tagging", MethodNotAllowed),
    ("DELETE", "/b/k", "retention", MethodNotAllowed),
    ("POST", "/b/k", "legal-hold", MethodNotAllowed),
    ("PUT", "/b/k", "retention&tagging", MethodNotAllowed),
    ("POST", "/b/k", "restore", NotImplemented_),
    ("POST", "/b/k", "select&select-type=2", NotImplemented_),
    ("GET", "/b/k", "torrent", NotImplemented_),
    ("PUT", "/b/k", "attributes", MethodNotAllowed),
    ("HEAD", "/b/k", "attributes", MethodNotAllowed),
]


@pytest.mark.parametrize(("method", "path", "query", "error"), ERRORS)
def test_route_errors(method: str, path: str, query: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        route(method, path.encode(), parse_query(query.encode()), {})


def test_bad_path_encoding_is_invalid_uri() -> None:
    with pytest.raises(InvalidURI):
        route("GET", b"/b/%FF", {}, {})


VHOSTS = [
    ("photos.s3.example.com", "photos"),
    ("photos.s3.example.com:9000", "photos"),
    ("my.dotted.bucket.s3.example.com", "my.dotted.bucket"),
    ("PHOTOS.S3.Example.com.", "photos"),
    ("s3.example.com", ""),
    ("s3.example.com:9000", ""),
    ("127.0.0.1:9000", ""),
    ("photos.other.com", ""),
    ("[::1]:9000", ""),
]


@pytest.mark.parametrize(("host", "bucket"), VHOSTS)
def test_split_host(host: str, bucket: str) -> None:
    assert split_host(host, ["s3.example.com"]) == bucket


def test_virtual_hosted_style() -> None:
    roots = ["s3.example.com"]
    assert route("GET", b"/", {}, {}, host="photos.s3.example.com", root_domains=roots) == Route(
        E.LIST_OBJECTS, "photos"
    )
    assert route(
        "GET", b"/a/b.jpg", {}, {}, host="photos.s3.example.com", root_domains=roots
    ) == Route(E.GET_OBJECT, "photos", "a/b.jpg")
    # the root domain itself, and any host with no root domain configured: path style
    assert route("GET", b"/photos", {}, {}, host="s3.example.com", root_domains=roots) == Route(
        E.LIST_OBJECTS, "photos"
    )
    assert route("GET", b"/photos", {}, {}, host="photos.s3.example.com") == Route(
        E.LIST_OBJECTS, "photos"
    )


def test_query_parsing_keeps_plus_and_first_value() -> None:
    assert parse_query(b"prefix=a+b%20c&prefix=x&delete") == {"prefix": "a+b c", "delete": ""}


def test_every_endpoint_has_a_handler() -> None:
    assert set(HANDLERS) == set(Endpoint)
    covered = {expected.endpoint for *_, expected in TABLE}
    assert covered == set(Endpoint)
