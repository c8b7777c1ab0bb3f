"""S3 request headers in, API message fields out; object state out as S3 response headers.

Requests: user metadata (``x-amz-meta-*``), content headers (with
``x-amz-website-redirect-location``), conditional headers (also the
``x-amz-copy-source-if-*`` ones), ``Range``, ``x-amz-tagging`` (URL-encoded query form),
``x-amz-copy-source`` (URL-encoded, with ``?versionId=``), ``x-amz-copy-source-range``,
``x-amz-metadata-directive`` / ``x-amz-tagging-directive``, ``x-amz-checksum-*`` and the
algorithm a client asks for. Responses: the headers of an object (ETag, Last-Modified, content
headers and website redirect location, metadata, version, checksums, part and tag counts) and
the ``response-*`` overrides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, unquote

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_s3 import objectlock_xml
from lightningstor_s3.xml import http_date
from lightningstor_types.checksums import ChecksumAlgorithm
from lightningstor_types.errors import InvalidArgument, InvalidRequest
from lightningstor_types.header_values import validate_header_value
from lightningstor_types.scope import qualified_bucket

Headers = list[tuple[bytes, bytes]]

META_PREFIX = "x-amz-meta-"
_CONTENT_HEADERS = {
    "content-type": "content_type",
    "content-encoding": "content_encoding",
    "content-disposition": "content_disposition",
    "content-language": "content_language",
    "cache-control": "cache_control",
    "expires": "expires",
    # stored and returned, never acted on (no website endpoint); checked by the core
    "x-amz-website-redirect-location": "website_redirect_location",
}
_RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}
_ALGORITHMS = {
    ChecksumAlgorithm.CRC32: common_pb2.CHECKSUM_ALGORITHM_CRC32,
    ChecksumAlgorithm.CRC32C: common_pb2.CHECKSUM_ALGORITHM_CRC32C,
    ChecksumAlgorithm.SHA1: common_pb2.CHECKSUM_ALGORITHM_SHA1,
    ChecksumAlgorithm.SHA256: common_pb2.CHECKSUM_ALGORITHM_SHA256,
    ChecksumAlgorithm.CRC64NVME: common_pb2.CHECKSUM_ALGORITHM_CRC64NVME,
}
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_OFFSET_MAX = 2**63 - 1
"""The largest offset a ByteRange holds; any larger one is past the end of every object."""
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


def _utf8(value: str) -> str:
    """A header value decoded as latin-1 by the server, re-read as the UTF-8 it usually is."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def _header_bytes(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


# ---- request headers -----------------------------------------------------------------------


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-meta-*`` headers, names without the prefix."""
    return {
        name.removeprefix(META_PREFIX): _utf8(value)
        for name, value in headers.items()
        if name.startswith(META_PREFIX)
    }


def content_headers(headers: Mapping[str, str]) -> common_pb2.ContentHeaders:
    """Content-Type, -Encoding, -Disposition, -Language, Cache-Control, Expires and
    ``x-amz-website-redirect-location``.

    ``aws-chunked`` is framing, not a content coding of the object: it is dropped from
    Content-Encoding as S3 does.
    """
    msg = common_pb2.ContentHeaders()
    for header, attr in _CONTENT_HEADERS.items():
        if header in headers:
            setattr(msg, attr, _utf8(headers[header]))
    msg.content_encoding = without_aws_chunked(msg.content_encoding)
    return msg


def without_aws_chunked(content_encoding: str) -> str:
    """Content-Encoding without its ``aws-chunked`` token; the other codings stay as sent
    (``aws-chunked, deflate, gzip`` → ``deflate, gzip``), as S3 stores them."""
    codings = content_encoding.split(",")
    kept = [c for c in codings if c.strip().lower() != "aws-chunked"]
    return content_encoding if len(kept) == len(codings) else ",".join(kept).strip(" \t,")


def parse_http_date(value: str) -> Timestamp | None:
    """An HTTP-date as a Timestamp; None when it does not parse (HTTP: ignore the condition)."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(when)
    return ts


def conditions(headers: Mapping[str, str], prefix: str = "") -> common_pb2.Conditions | None:
    """If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since (``prefix`` for the
    ``x-amz-copy-source-`` variants); None when none is given."""
    msg = common_pb2.Conditions()
    found = False
    if (value := headers.get(prefix + "if-match")) is not None:
        msg.if_match, found = value, True
    if (value := headers.get(prefix + "if-none-match")) is not None:
        msg.if_none_match, found = value, True
    for name, attr in (("if-modified-since", "if_modified_since"),
                       ("if-unmodified-since", "if_unmodified_since")):  # fmt: skip
        if (value := headers.get(prefix + name)) is not None and (ts := parse_http_date(value)):
            getattr(msg, attr).CopyFrom(ts)
            found = True
    return msg if found else None


def delete_conditions(headers: Mapping[str, str]) -> common_pb2.DeleteConditions | None:
    """DeleteObject's If-Match, ``x-amz-if-match-last-modified-time`` (an HTTP date) and
    ``x-amz-if-match-size``; None when none is given. Protection is never dropped: a value
    that does not parse is InvalidArgument, not ignored."""
    msg = common_pb2.DeleteConditions()
    found = False
    if (value := headers.get("if-match")) is not None:
        msg.if_match, found = value, True
    if (value := headers.get("x-amz-if-match-last-modified-time")) is not None:
        ts = parse_http_date(value)
        if ts is None:
            raise InvalidArgument(
                "x-amz-if-match-last-modified-time must be an HTTP date",
                ArgumentName="x-amz-if-match-last-modified-time",
                ArgumentValue=value,
            )
        msg.if_match_last_modified_time.CopyFrom(ts)
        found = True
    if (value := headers.get("x-amz-if-match-size")) is not None:
        if not value.isascii() or not value.isdigit() or int(value) > _OFFSET_MAX:
            raise InvalidArgument(
                "x-amz-if-match-size must be a size in bytes",
                ArgumentName="x-amz-if-match-size",
                ArgumentValue=value,
            )
        msg.if_match_size, found = int(value), True
    return msg if found else None


def _offset(digits: str) -> int:
    """An offset of a range; one past int64 means the same as the largest int64 (beyond the end
    of any object: a first byte there is InvalidRange, a last byte or suffix there is the end)."""
    return min(int(digits), _OFFSET_MAX)


def byte_range(value: str | None) -> common_pb2.ByteRange | None:
    """A single ``bytes=`` range; None (the whole object) for anything S3 would ignore."""
    if not value:
        return None
    match = _RANGE_RE.fullmatch(value.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if first:
        return (
            common_pb2.ByteRange(first=_offset(first), last=_offset(last))
            if last
            else (common_pb2.ByteRange(first=_offset(first)))
        )
    if last:
        return common_pb2.ByteRange(suffix_length=_offset(last))
    return None


def copy_source_range(value: str) -> common_pb2.ByteRange:
    """``x-amz-copy-source-range: bytes=first-last`` (both required)."""
    match = _RANGE_RE.fullmatch(value.strip())
    if match is None or not match.group(1) or not match.group(2):
        raise InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last "
            "where first and last are the zero-based offsets of the first and last bytes to copy",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=value,
        )
    return common_pb2.ByteRange(first=_offset(match.group(1)), last=_offset(match.group(2)))


def tags(value: str) -> list[common_pb2.Tag]:
    """``x-amz-tagging``: ``k1=v1&k2=v2``, URL-encoded."""
    try:
        pairs = parse_qsl(value, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidArgument("Invalid x-amz-tagging header", ArgumentName="x-amz-tagging") from exc
    return [common_pb2.Tag(key=_utf8(k), value=_utf8(v)) for k, v in pairs]


def copy_source(headers: Mapping[str, str]) -> object_pb2.CopySource:
    """``x-amz-copy-source``: ``[/]bucket/key[?versionId=id]``, key URL-encoded; plus the
    ``x-amz-copy-source-if-*`` conditions."""
    value = headers.get("x-amz-copy-source", "")
    path, _, query = value.partition("?")
    version = ""
    if query:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if set(params) != {"versionId"}:
            raise InvalidArgument("Invalid copy source", ArgumentName="x-amz-copy-source")
        version = params["versionId"]
    try:
        decoded = unquote(path, errors="strict").removeprefix("/")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            "Invalid copy source encoding", ArgumentName="x-amz-copy-source"
        ) from exc
    bucket, _, key = decoded.partition("/")
    if not bucket or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=value,
        )
    scope, bucket = qualified_bucket(bucket)  # another scope's bucket, written org:bucket
    source = object_pb2.CopySource(bucket=bucket, key=key, version_id=version)
    if scope is not None:
        source.scope.CopyFrom(
            common_pb2.Scope(org_id=scope.org_id, project_id=scope.project_id or "")
        )
    if (cond := conditions(headers, "x-amz-copy-source-")) is not None:
        source.conditions.CopyFrom(cond)
    return source


def directive(headers: Mapping[str, str], name: str) -> object_pb2.MetadataDirective.ValueType:
    """``x-amz-metadata-directive`` / ``x-amz-tagging-directive``: COPY (default) or REPLACE."""
    value = headers.get(name, "COPY").upper()
    if value == "COPY":
        return object_pb2.METADATA_DIRECTIVE_COPY
    if value == "REPLACE":
        return object_pb2.METADATA_DIRECTIVE_REPLACE
    raise InvalidArgument(f"Unknown {name}.", ArgumentName=name, ArgumentValue=value)


def _algorithm(value: str) -> common_pb2.ChecksumAlgorithm.ValueType:
    try:
        return _ALGORITHMS[ChecksumAlgorithm(value.upper())]
    except ValueError:
        raise InvalidRequest(
            "Checksum algorithm must be one of CRC32, CRC32C, SHA1, SHA256, CRC64NVME"
        ) from None


def checksum_algorithm(headers: Mapping[str, str]) -> common_pb2.ChecksumAlgorithm.ValueType:
    """The checksum to compute and store: asked for by ``x-amz-checksum-algorithm`` (or the
    SDK's ``x-amz-sdk-checksum-algorithm``), or named by a trailer (``x-amz-trailer``)."""
    for name in ("x-amz-checksum-algorithm", "x-amz-sdk-checksum-algorithm"):
        if value := headers.get(name):
            return _algorithm(value)
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer.startswith("x-amz-checksum-"):
        return _algorithm(trailer.removeprefix("x-amz-checksum-"))
    return common_pb2.CHECKSUM_ALGORITHM_UNSPECIFIED


def expected_checksums(headers: Mapping[str, str]) -> common_pb2.Checksums:
    """The ``x-amz-checksum-*`` values sent as headers (verified by the core as it streams)."""
    msg = common_pb2.Checksums()
    for alg in ChecksumAlgorithm:
        if value := headers.get(alg.header_name):
            setattr(msg, alg.value.lower(), value)
    return msg


def checksum_type(headers: Mapping[str, str]) -> common_pb2.ChecksumType.ValueType:
    value = headers.get("x-amz-checksum-type", "").upper()
    if not value:
        return common_pb2.CHECKSUM_TYPE_UNSPECIFIED
    if value in ("FULL_OBJECT", "COMPOSITE"):
        return common_pb2.ChecksumType.Value(f"CHECKSUM_TYPE_{value}")
    raise InvalidRequest("The x-amz-checksum-type header must be FULL_OBJECT or COMPOSITE")


def checksum_mode(headers: Mapping[str, str]) -> bool:
    return headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"


# ---- response headers ----------------------------------------------------------------------


def checksum_headers(c: common_pb2.Checksums) -> Headers:
    """``x-amz-checksum-*`` and ``x-amz-checksum-type`` for the checksums that are set."""
    out: Headers = []
    for alg in ChecksumAlgorithm:
        if value := getattr(c, alg.value.lower()):
            out.append((alg.header_name.encode(), value.encode()))
    if out and c.type:
        kind = common_pb2.ChecksumType.Name(c.type).removeprefix("CHECKSUM_TYPE_")
        out.append((b"x-amz-checksum-type", kind.encode()))
    return out


def expiration(date: Timestamp, rule_id: str) -> Headers:
    """``x-amz-expiration: expiry-date="…", rule-id="…"`` when a lifecycle rule expires the
    object (nothing otherwise)."""
    if not rule_id:
        return []
    rule = rule_id.replace("\\", "\\\\").replace('"', '\\"')
    value = f'expiry-date="{http_date(date)}", rule-id="{rule}"'
    return [(b"x-amz-expiration", _header_bytes(value))]


def encryption(sse: str, kms_key_id: str = "", kms_context: str = "") -> Headers:
    """``x-amz-server-side-encryption`` when the content is stored encrypted (and the SSE-KMS
    key's id, and its encryption context where S3 reports it: PUT, copy, create upload)."""
    out = [(b"x-amz-server-side-encryption", sse.encode())] if sse else []
    if kms_key_id:
        out.append((b"x-amz-server-side-encryption-aws-kms-key-id", _header_bytes(kms_key_id)))
    if kms_context:
        out.append((b"x-amz-server-side-encryption-context", _header_bytes(kms_context)))
    return out


def object_headers(info: common_pb2.ObjectInfo) -> Headers:
    """The headers of a GET or HEAD for one version of an object."""
    h = info.headers
    out: Headers = [
        (b"etag", info.etag.encode()),
        (b"last-modified", http_date(info.last_modified).encode()),
        (b"accept-ranges", b"bytes"),
        (b"content-type", _header_bytes(h.content_type or DEFAULT_CONTENT_TYPE)),
    ]
    for header, attr in _CONTENT_HEADERS.items():
        if header != "content-type" and (value := getattr(h, attr)):
            out.append((header.encode(), _header_bytes(value)))
    for name, value in sorted(info.user_metadata.items()):
        out.append(((META_PREFIX + name).encode(), _header_bytes(value)))
    if info.version_id:
        out.append((b"x-amz-version-id", info.version_id.encode()))
    if info.storage_class and info.storage_class != "STANDARD":
        out.append((b"x-amz-storage-class", info.storage_class.encode()))
    if info.tag_count:
        out.append((b"x-amz-tagging-count", str(info.tag_count).encode()))
    out.extend(checksum_headers(info.checksums))
    out.extend(objectlock_xml.lock_response_headers(info))
    out.extend(encryption(info.server_side_encryption, info.kms_key_id))
    if info.sse_customer_algorithm:  # SSE-C: the algorithm and the key's MD5, never the key
        out.append(
            (
                b"x-amz-server-side-encryption-customer-algorithm",
                info.sse_customer_algorithm.encode(),
            )
        )
        out.append(
            (b"x-amz-server-side-encryption-customer-key-md5", info.sse_customer_key_md5.encode())
        )
    return out


def check_overrides(query: Mapping[str, str]) -> None:
    """InvalidArgument for a ``response-*`` value that no response header may carry (checked
    before the object is opened)."""
    for param in _RESPONSE_OVERRIDES:
        if (value := query.get(param)) is not None:
            validate_header_value(param, value)


def override(headers: Headers, query: Mapping[str, str]) -> Headers:
    """Apply the ``response-*`` query parameters of a GET (they replace the stored headers)."""
    replace = {
        header: value for param, header in _RESPONSE_OVERRIDES.items()
        if (value := query.get(param)) is not None
    }  # fmt: skip
    if not replace:
        return headers
    kept = [(n, v) for n, v in headers if n.decode() not in replace]
    return kept + [(n.encode(), _header_bytes(v)) for n, v in replace.items()]


def written_version_headers(version_id: str) -> Headers:
    """``x-amz-version-id`` of the version a write created. S3 leaves it out for the ``null``
    version a write makes while versioning is suspended (its PutObject examples), as it does in
    a bucket never versioned; GET and HEAD of that version still answer ``null``."""
    if not version_id or version_id == "null":
        return []
    return [(b"x-amz-version-id", version_id.encode())]
