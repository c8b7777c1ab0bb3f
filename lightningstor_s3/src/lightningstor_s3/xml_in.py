"""The XML documents clients send, parsed safely into API messages.

Parsing goes through defusedxml with DTDs, entities and external references forbidden: a
document that declares any (the XXE and "billion laughs" payloads) is ``MalformedXML``, like any
document that is not well-formed or does not have the expected shape. Element names are matched
without their namespace, since clients send the S3 namespace or none. A document declares UTF-8,
UTF-16, ASCII or Latin-1, or no encoding; any other declaration is ``MalformedXML``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml  # type: ignore[import-untyped]
import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import bucket_pb2, common_pb2, object_pb2
from lightningstor_s3.unsupported import refuse_mfa_delete
from lightningstor_types.errors import (
    IllegalVersioningConfigurationException,
    InvalidPart,
    MalformedXML,
)

_ENCODING_DECL = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']"
)
_ENCODINGS = frozenset({"utf-8", "utf-16", "utf-16-le", "utf-16-be", "ascii", "iso8859-1"})
"""Encodings a request document may declare (as :func:`codecs.lookup` names them)."""

MAX_XML_BYTES = 4 * 1024 * 1024
"""Largest request document accepted (a Complete of 10 000 parts fits; S3 caps similarly)."""


def parse(body: bytes, root: str) -> Element:
    """The root element of ``body``, which must be named ``root``; MalformedXML otherwise."""
    if not body.strip():
        raise MalformedXML()
    _check_encoding(body)
    try:
        element: Element = SafeET.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except (ParseError, defusedxml.DefusedXmlException, ValueError, LookupError) as exc:
        raise MalformedXML() from exc
    if _local(element.tag) != root:
        raise MalformedXML()
    return element


def _check_encoding(body: bytes) -> None:
    """MalformedXML for a declared encoding other than UTF-8, UTF-16, ASCII or Latin-1: Python
    offers the parser codecs that are no character sets (``unicode_escape``, ``rot13``) or
    that it does not know at all (``ebcdic``), and those fail in ways of their own."""
    declared = _ENCODING_DECL.match(body)
    if declared is None:
        return
    try:
        name = codecs.lookup(declared.group(1).decode("ascii")).name
    except (LookupError, ValueError):  # unknown; not ASCII; a NUL in the name
        raise MalformedXML() from None
    if name not in _ENCODINGS:
        raise MalformedXML()


def _decimal(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also admits ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if _local(child.tag) == name)


def local_name(tag: str) -> str:
    """An element's name without its namespace."""
    return _local(tag)


def child_elements(element: Element, name: str) -> Iterator[Element]:
    """The children of ``element`` named ``name`` (any namespace)."""
    return _children(element, name)


def child_text(element: Element, name: str, *, required: bool = False) -> str | None:
    """The text of the one child ``name`` (None when absent; MalformedXML when repeated, or
    absent and ``required``)."""
    return _child_text(element, name, required=required)


def iso_timestamp(text: str) -> Timestamp:
    """An ISO 8601 date or date-time of a document (UTC when it names no zone), or
    MalformedXML."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedXML() from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    ts = Timestamp()
    ts.FromDatetime(when.astimezone(UTC))
    return ts


def _child_text(element: Element, name: str, *, required: bool = False) -> str | None:
    found = [child for child in element if _local(child.tag) == name]
    if len(found) > 1:
        raise MalformedXML()
    if not found:
        if required:
            raise MalformedXML()
        return None
    return (found[0].text or "").strip() if name != "Key" else found[0].text or ""


def create_bucket_configuration(body: bytes) -> str:
    """The LocationConstraint of a CreateBucket body ("" when the body is empty or has none)."""
    if not body.strip():
        return ""
    return _child_text(parse(body, "CreateBucketConfiguration"), "LocationConstraint") or ""


def versioning_configuration(body: bytes) -> bucket_pb2.VersioningStatus.ValueType:
    """ENABLED or SUSPENDED from a VersioningConfiguration body (MfaDelete: Disabled or absent)."""
    config = parse(body, "VersioningConfiguration")
    refuse_mfa_delete(_child_text(config, "MfaDelete"))
    status = _child_text(config, "Status")
    match status:
        case "Enabled":
            return bucket_pb2.VERSIONING_STATUS_ENABLED
        case "Suspended":
            return bucket_pb2.VERSIONING_STATUS_SUSPENDED
    raise IllegalVersioningConfigurationException()


_PUBLIC_ACCESS_FLAGS = {
    "BlockPublicAcls": "block_public_acls",
    "IgnorePublicAcls": "ignore_public_acls",
    "BlockPublicPolicy": "block_public_policy",
    "RestrictPublicBuckets": "restrict_public_buckets",
}


def public_access_block(body: bytes) -> bucket_pb2.PublicAccessBlockConfiguration:
    """The four flags of a PublicAccessBlockConfiguration (absent: false; not a boolean:
    MalformedXML)."""
    root = parse(body, "PublicAccessBlockConfiguration")
    config = bucket_pb2.PublicAccessBlockConfiguration()
    for tag, field in _PUBLIC_ACCESS_FLAGS.items():
        text = _child_text(root, tag)
        if text is None:
            continue
        if text.strip().lower() not in ("true", "false"):
            raise MalformedXML()
        setattr(config, field, text.strip().lower() == "true")
    return config


def tagging(body: bytes) -> list[common_pb2.Tag]:
    """The tags of a Tagging body (``<Tagging><TagSet><Tag><Key/><Value/></Tag>…``)."""
    sets = list(_children(parse(body, "Tagging"), "TagSet"))
    if len(sets) != 1:
        raise MalformedXML()
    tags = []
    for tag in _children(sets[0], "Tag"):
        key = _child_text(tag, "Key", required=True) or ""
        value = _child_text(tag, "Value") or ""
        tags.append(common_pb2.Tag(key=key, value=value))
    return tags


def delete(body: bytes, limit: int) -> tuple[list[object_pb2.ObjectIdentifier], bool]:
    """The objects and the Quiet flag of a DeleteObjects body; at most ``limit`` objects."""
    root = parse(body, "Delete")
    objects = []
    for obj in _children(root, "Object"):
        key = _child_text(obj, "Key", required=True) or ""
        version = _child_text(obj, "VersionId") or ""
        objects.append(
            object_pb2.ObjectIdentifier(
                key=key, version_id=version, conditions=_delete_conditions(obj)
            )
        )
        if len(objects) > limit:
            raise MalformedXML()
    if not objects:
        raise MalformedXML()
    quiet = (_child_text(root, "Quiet") or "false").lower()
    if quiet not in ("true", "false"):
        raise MalformedXML()
    return objects, quiet == "true"


def _delete_conditions(obj: Element) -> common_pb2.DeleteConditions | None:
    """An Object entry's ETag, LastModifiedTime (ISO 8601) and Size: its delete's conditions."""
    msg = common_pb2.DeleteConditions()
    etag, modified, size = (_child_text(obj, n) for n in ("ETag", "LastModifiedTime", "Size"))
    if etag is None and modified is None and size is None:
        return None
    msg.if_match = etag or ""
    if modified is not None:
        try:
            msg.if_match_last_modified_time.FromJsonString(modified.strip())
        except ValueError:
            raise MalformedXML() from None
    if size is not None:
        if not (size.strip().isascii() and size.strip().isdigit()):
            raise MalformedXML()
        msg.if_match_size = int(size)
    return msg


_PART_CHECKSUMS = {
    "ChecksumCRC32": "crc32",
    "ChecksumCRC32C": "crc32c",
    "ChecksumCRC64NVME": "crc64nvme",
    "ChecksumSHA1": "sha1",
    "ChecksumSHA256": "sha256",
}


def complete_multipart_upload(body: bytes) -> list[object_pb2.CompletedPart]:
    """The parts of a CompleteMultipartUpload body, in the order given."""
    parts = []
    for part in _children(parse(body, "CompleteMultipartUpload"), "Part"):
        number_text = _child_text(part, "PartNumber", required=True) or ""
        etag = _child_text(part, "ETag", required=True) or ""
        if not _decimal(number_text) or not 0 < int(number_text) <= 10000:
            raise InvalidPart(PartNumber=number_text)
        checksums = common_pb2.Checksums()
        for element, attr in _PART_CHECKSUMS.items():
            value = _child_text(part, element)
            if value:
                setattr(checksums, attr, value)
        parts.append(
            object_pb2.CompletedPart(part_number=int(number_text), etag=etag, checksums=checksums)
        )
    if not parts:
        raise MalformedXML()
    return parts
