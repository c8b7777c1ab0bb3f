# ruff: noqa: RUF009 - el() is dataclasses.field with XML metadata, evaluated once per class
"""The XML documents the facade sends: one dataclass per document, named like its root element.

:func:`render` writes any of them in S3's exact shape: the ``2006-03-01`` namespace on the root
(the error document has none, as in S3), times as ISO-8601 UTC with milliseconds
(``2024-01-01T00:00:00.000Z``), ETags as given (quoted by the core). A field's element name is
its name in PascalCase unless the field says otherwise (``el("ETag")``); ``None`` leaves the
element out, ``""`` writes it empty. A list repeats its element (``<Contents>`` …), or with
``wrap`` nests its items in one element (``<Buckets><Bucket>`` …); a field named ``"*"`` names each
item by its class (``Version`` / ``DeleteMarker`` interleaved, in order); ``inline`` writes a nested
dataclass's elements into the parent (the ``Checksum*`` fields).

Request documents are parsed in :mod:`lightningstor_s3.xml_in`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar
from xml.sax.saxutils import escape

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import common_pb2

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def el(
    name: str | None = None, *, wrap: str | None = None, inline: bool = False, text: bool = False
) -> Any:
    """A field with an explicit element name, list wrapper, inlining or text; default None."""
    return field(default=None, metadata={"xml": name, "wrap": wrap, "inline": inline, "text": text})


_HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"


def iso_time(ts: Timestamp | datetime) -> str:
    """``2024-01-01T00:00:00.000Z``: S3's timestamp form in XML."""
    if isinstance(ts, datetime):
        when = ts.astimezone(UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return _iso_second(ts.seconds) + f"{ts.nanos // 1_000_000:03d}Z"


@lru_cache(maxsize=4096)  # a listing page formats 1,000 times, often of the same seconds
def _iso_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def http_date(ts: Timestamp | datetime) -> str:
    """``Mon, 01 Jan 2024 00:00:00 GMT``: the form of Last-Modified and Date headers."""
    if isinstance(ts, datetime):
        return ts.astimezone(UTC).strftime(_HTTP_DATE)
    return _http_date_of(ts.seconds)  # the form has whole seconds only


@lru_cache(maxsize=4096)  # every GET/HEAD writes Last-Modified; objects share a few seconds
def _http_date_of(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(_HTTP_DATE)


def render(doc: object) -> bytes:
    """The document as UTF-8 bytes, with the XML declaration."""
    out = [_DECLARATION]
    root = getattr(doc, "root", type(doc).__name__)
    namespace = getattr(doc, "namespace", S3_NAMESPACE)
    _element(out, root, doc, f' xmlns="{namespace}"' if namespace else "")
    return "".join(out).encode("utf-8")


def _pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


@dataclass(frozen=True, slots=True)
class _Field:
    """How one dataclass field is written (worked out once per class, not per element)."""

    name: str
    tag: str
    text: bool
    inline: bool
    wrap: str | None


_PLANS: dict[type, tuple[_Field, ...] | None] = {}


def _plan(value: object) -> tuple[_Field, ...] | None:
    """The fields of a document's class in order, or None for a value written as text."""
    cls = type(value)
    try:
        return _PLANS[cls]
    except KeyError:
        pass
    plan = None
    if dataclasses.is_dataclass(cls):
        plan = tuple(
            _Field(
                f.name,
                f.metadata.get("xml") or _pascal(f.name),
                bool(f.metadata.get("text")),
                bool(f.metadata.get("inline")),
                f.metadata.get("wrap"),
            )
            for f in dataclasses.fields(cls)
        )
    _PLANS[cls] = plan  # one entry per class ever rendered: documents and scalar types
    return plan


def _element(out: list[str], tag: str, value: object, attrs: str = "") -> None:
    if value is None:
        return
    writer = _WRITERS.get(type(value))
    if writer is not None and not attrs:
        writer(out, tag, value)
        return
    _generic(out, tag, value, attrs)


def _generic(out: list[str], tag: str, value: object, attrs: str = "") -> None:
    if _plan(value) is not None:
        out.append(f"<{tag}{attrs}>")
        _children(out, value)
        out.append(f"</{tag}>")
        return
    out.append(f"<{tag}{attrs}>{_escaped(_text(value))}</{tag}>")


def _children(out: list[str], obj: object) -> None:
    for f in _plan(obj) or ():
        value = getattr(obj, f.name)
        if value is None:
            continue
        tag = f.tag
        kind = type(value)
        if f.text:
            out.append(_escaped(_text(value)))
        elif kind is str:  # the common cases first: a listing page writes ~8,000 elements
            out.append(f"<{tag}>{_escaped(value)}</{tag}>")
        elif kind is int:
            out.append(f"<{tag}>{value}</{tag}>")
        elif f.inline:
            _children(out, value)
        elif isinstance(value, Mapping):
            for name, item in value.items():
                _element(out, name, item)
        elif isinstance(value, list):
            wrap = f.wrap
            if wrap:
                out.append(f"<{tag}>")
            for item in value:
                _element(out, wrap or (type(item).__name__ if tag == "*" else tag), item)
            if wrap:
                out.append(f"</{tag}>")
        else:
            _element(out, tag, value)


def _escaped(text: str) -> str:
    # Most values (sizes, ETags, dates, plain keys) have nothing to escape: skip the replaces.
    if "&" in text or "<" in text or ">" in text:
        return escape(text)
    return text


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Timestamp | datetime):
        return iso_time(value)
    return str(value)


# ---- pieces shared by several documents ----------------------------------------------------


@dataclass(slots=True)
class Owner:
    id: str = el("ID")
    display_name: str = el("DisplayName")

    @classmethod
    def of(cls, owner: common_pb2.Owner) -> Owner:
        return cls(owner.id, owner.display_name or owner.id)


@dataclass(slots=True)
class Checksums:
    """The ``Checksum*`` elements of a document, written inline into it."""

    checksum_crc32: str | None = el("ChecksumCRC32")
    checksum_crc32c: str | None = el("ChecksumCRC32C")
    checksum_crc64nvme: str | None = el("ChecksumCRC64NVME")
    checksum_sha1: str | None = el("ChecksumSHA1")
    checksum_sha256: str | None = el("ChecksumSHA256")
    checksum_type: str | None = el("ChecksumType")

    @classmethod
    def of(cls, c: common_pb2.Checksums) -> Checksums | None:
        if not any((c.crc32, c.crc32c, c.crc64nvme, c.sha1, c.sha256)):
            return None
        type_name = common_pb2.ChecksumType.Name(c.type).removeprefix("CHECKSUM_TYPE_")
        return cls(
            checksum_crc32=c.crc32 or None,
            checksum_crc32c=c.crc32c or None,
            checksum_crc64nvme=c.crc64nvme or None,
            checksum_sha1=c.sha1 or None,
            checksum_sha256=c.sha256 or None,
            checksum_type=None if type_name == "UNSPECIFIED" else type_name,
        )


@dataclass(slots=True)
class CommonPrefixes:
    prefix: str


@dataclass(slots=True)
class Tag:
    key: str
    value: str


# ---- buckets ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Bucket:
    name: str
    creation_date: Timestamp
    bucket_region: str | None = None


@dataclass(slots=True)
class ListAllMyBucketsResult:
    owner: Owner
    buckets: list[Bucket] = el(wrap="Bucket")
    continuation_token: str | None = None
    prefix: str | None = None


@dataclass(slots=True)
class LocationConstraint:
    """Root element with text only; empty for us-east-1, as S3 answers."""

    region: str = el(text=True)

    def __post_init__(self) -> None:
        self.region = self.region if self.region != "us-east-1" else ""


@dataclass(slots=True)
class VersioningConfiguration:
    status: str | None = None


@dataclass(slots=True)
class Tagging:
    tag_set: list[Tag] = el(wrap="Tag")


# ---- listings ------------------------------------------------------------------------------


@dataclass(slots=True)
class Contents:
    key: str
    last_modified: Timestamp
    etag: str = el("ETag")
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    size: int = 0
    owner: Owner | None = None
    storage_class: str = "STANDARD"


def _write_contents(out: list[str], tag: str, value: object) -> None:
    """A listing's ``<Contents>`` as :func:`_generic` writes it, in one string: a page writes
    1,000 of them, and the generic walk was half of a ListObjectsV2 page's CPU."""
    c = value if type(value) is Contents else None
    if (
        c is None
        or type(c.key) is not str
        or type(c.last_modified) is not Timestamp
        or type(c.etag) is not str
        or type(c.size) is not int
        or type(c.storage_class) is not str
        or not (c.checksum_algorithm is None or type(c.checksum_algorithm) is str)
        or not (c.checksum_type is None or type(c.checksum_type) is str)
        or not (c.owner is None or _plain_owner(c.owner))
    ):  # a value the typed fields do not promise (None where a str is due): the generic walk
        _generic(out, tag, value)
        return
    alg, kind, owner, when = c.checksum_algorithm, c.checksum_type, c.owner, c.last_modified
    out.append(
        f"<{tag}><Key>{_escaped(c.key)}</Key>"  # the time as iso_time writes a Timestamp
        f"<LastModified>{_iso_second(when.seconds)}{when.nanos // 1_000_000:03d}Z</LastModified>"
        f"<ETag>{_escaped(c.etag)}</ETag>"
        + ("" if alg is None else f"<ChecksumAlgorithm>{_escaped(alg)}</ChecksumAlgorithm>")
        + ("" if kind is None else f"<ChecksumType>{_escaped(kind)}</ChecksumType>")
        + f"<Size>{c.size}</Size>"
        + (
            ""
            if owner is None
            else f"<Owner><ID>{_escaped(owner.id)}</ID>"
            f"<DisplayName>{_escaped(owner.display_name)}</DisplayName></Owner>"
        )
        + f"<StorageClass>{_escaped(c.storage_class)}</StorageClass></{tag}>"
    )


def _plain_owner(owner: object) -> bool:
    return type(owner) is Owner and type(owner.id) is str and type(owner.display_name) is str


_WRITERS: dict[type, Callable[[list[str], str, object], None]] = {Contents: _write_contents}
"""Classes written by a function of their own instead of the generic walk (same bytes)."""


@dataclass(slots=True)
class ListBucketResult:
    """ListObjects (v1)."""

    name: str
    prefix: str
    marker: str
    next_marker: str | None
    max_keys: int
    delimiter: str | None
    is_truncated: bool
    encoding_type: str | None = None
    contents: list[Contents] = el("Contents")
    common_prefixes: list[CommonPrefixes] = el("CommonPrefixes")


@dataclass(slots=True)
class ListBucketResultV2:
    root: ClassVar[str] = "ListBucketResult"

    name: str
    prefix: str
    delimiter: str | None
    max_keys: int
    key_count: int
    is_truncated: bool
    continuation_token: str | None = None
    next_continuation_token: str | None = None
    start_after: str | None = None
    encoding_type: str | None = None
    contents: list[Contents] = el("Contents")
    common_prefixes: list[CommonPrefixes] = el("CommonPrefixes")


@dataclass(slots=True)
class Version:
    key: str
    version_id: str = el("VersionId")
    is_latest: bool = False
    last_modified: Timestamp | None = None
    etag: str = el("ETag")
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    size: int = 0
    storage_class: str = "STANDARD"
    owner: Owner | None = None


@dataclass(slots=True)
class DeleteMarker:
    key: str
    version_id: str = el("VersionId")
    is_latest: bool = False
    last_modified: Timestamp | None = None
    owner: Owner | None = None


@dataclass(slots=True)
class ListVersionsResult:
    name: str
    prefix: str
    key_marker: str
    version_id_marker: str
    next_key_marker: str | None
    next_version_id_marker: str | None
    max_keys: int
    delimiter: str | None
    is_truncated: bool
    encoding_type: str | None = None
    entries: list[Version | DeleteMarker] = el("*")
    common_prefixes: list[CommonPrefixes] = el("CommonPrefixes")


# ---- multipart -------------------------------------------------------------------------------


@dataclass(slots=True)
class InitiateMultipartUploadResult:
    bucket: str
    key: str
    upload_id: str = el("UploadId")


@dataclass(slots=True)
class CompleteMultipartUploadResult:
    location: str
    bucket: str
    key: str
    etag: str = el("ETag")
    checksums: Checksums | None = el(inline=True)


@dataclass(slots=True)
class Upload:
    key: str
    upload_id: str = el("UploadId")
    initiator: Owner | None = None
    owner: Owner | None = None
    storage_class: str = "STANDARD"
    initiated: Timestamp | None = None
    checksum_algorithm: str | None = None
    checksum_type: str | None = None


@dataclass(slots=True)
class ListMultipartUploadsResult:
    bucket: str
    key_marker: str
    upload_id_marker: str
    next_key_marker: str
    next_upload_id_marker: str
    prefix: str
    delimiter: str | None
    max_uploads: int
    is_truncated: bool
    encoding_type: str | None = None
    uploads: list[Upload] = el("Upload")
    common_prefixes: list[CommonPrefixes] = el("CommonPrefixes")


@dataclass(slots=True)
class Part:
    part_number: int
    last_modified: Timestamp
    etag: str = el("ETag")
    size: int = 0
    checksums: Checksums | None = el(inline=True)


@dataclass(slots=True)
class ListPartsResult:
    bucket: str
    key: str
    upload_id: str = el("UploadId")
    part_number_marker: int = 0
    next_part_number_marker: int = 0
    max_parts: int = 1000
    is_truncated: bool = False
    parts: list[Part] = el("Part")
    initiator: Owner | None = None
    owner: Owner | None = None
    storage_class: str = "STANDARD"
    checksum_algorithm: str | None = None
    checksum_type: str | None = None


@dataclass(slots=True)
class ObjectPart:
    checksums: Checksums | None = el(inline=True)
    part_number: int = 0
    size: int = 0


@dataclass(slots=True)
class ObjectParts:
    """``ObjectParts`` of GetObjectAttributes: only ``PartsCount`` when the parts carry no
    checksums (as S3 answers for an upload made without a checksum algorithm)."""

    is_truncated: bool | None = None
    max_parts: int | None = None
    next_part_number_marker: int | None = None
    part_number_marker: int | None = None
    parts: list[ObjectPart] = el("Part")
    parts_count: int = 0


@dataclass(slots=True)
class GetObjectAttributesResponse:
    """Only the attributes asked for; the ETag unquoted, as S3 writes it here."""

    etag: str | None = el("ETag")
    checksum: Checksums | None = None
    object_parts: ObjectParts | None = None
    storage_class: str | None = None
    object_size: int | None = None


# ---- copy and delete -------------------------------------------------------------------------


@dataclass(slots=True)
class CopyObjectResult:
    etag: str = el("ETag")
    last_modified: Timestamp | None = None
    checksums: Checksums | None = el(inline=True)


@dataclass(slots=True)
class CopyPartResult:
    etag: str = el("ETag")
    last_modified: Timestamp | None = None
    checksums: Checksums | None = el(inline=True)


@dataclass(slots=True)
class Deleted:
    key: str
    version_id: str | None = el("VersionId")
    delete_marker: bool | None = None
    delete_marker_version_id: str | None = None


@dataclass(slots=True)
class DeleteError:
    key: str
    version_id: str | None = el("VersionId")
    code: str = ""
    message: str = ""


@dataclass(slots=True)
class DeleteResult:
    deleted: list[Deleted] = el("Deleted")
    errors: list[DeleteError] = el("Error")


# ---- errors ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Error:
    """The S3 error document (no namespace, as S3 sends it)."""

    namespace: ClassVar[str] = ""

    code: str
    message: str
    details: dict[str, str] = field(default_factory=dict)
    resource: str | None = None
    request_id: str | None = None
    host_id: str | None = None
