"""XML out in S3's exact shapes, XML in parsed safely (XXE and entity bombs are MalformedXML)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.v1 import bucket_pb2, common_pb2
from lightningstor_s3 import xml, xml_in
from lightningstor_s3.handlers import listing
from lightningstor_types.errors import (
    IllegalVersioningConfigurationException,
    InvalidPart,
    MalformedXML,
    NoSuchKey,
)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _ts(year: int = 2024, ms: int = 0) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime(year, 1, 2, 3, 4, 5, ms * 1000, tzinfo=UTC))
    return ts


def test_times_have_milliseconds() -> None:
    assert xml.iso_time(_ts(ms=7)) == "2024-01-02T03:04:05.007Z"
    assert xml.iso_time(_ts()) == "2024-01-02T03:04:05.000Z"
    assert xml.http_date(_ts()) == "Tue, 02 Jan 2024 03:04:05 GMT"


def test_list_all_my_buckets() -> None:
    doc = xml.ListAllMyBucketsResult(
        owner=xml.Owner("admin", "admin"), buckets=[xml.Bucket("a", _ts()), xml.Bucket("b", _ts())]
    )
    body = xml.render(doc)
    assert body.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns='
    )
    root = ET.fromstring(body)
    assert root.tag == NS + "ListAllMyBucketsResult"
    assert root.findtext(f"{NS}Owner/{NS}ID") == "admin"
    assert root.findtext(f"{NS}Owner/{NS}DisplayName") == "admin"
    names = [b.findtext(NS + "Name") for b in root.iterfind(f"{NS}Buckets/{NS}Bucket")]
    assert names == ["a", "b"]
    assert root.findtext(f"{NS}Buckets/{NS}Bucket/{NS}CreationDate") == "2024-01-02T03:04:05.000Z"
    assert root.find(NS + "ContinuationToken") is None


def test_list_bucket_result_v2_escapes_and_repeats() -> None:
    doc = xml.ListBucketResultV2(
        name="b",
        prefix="",
        delimiter="/",
        max_keys=1000,
        key_count=2,
        is_truncated=False,
        contents=[xml.Contents("a&<b>", _ts(), '"abc"', size=3)],
        common_prefixes=[xml.CommonPrefixes("d/")],
    )
    body = xml.render(doc)
    assert b"<Key>a&amp;&lt;b&gt;</Key>" in body
    assert b"<ETag>&quot;abc&quot;</ETag>" in body or b'<ETag>"abc"</ETag>' in body
    root = ET.fromstring(body)
    assert root.tag == NS + "ListBucketResult"
    assert root.findtext(NS + "IsTruncated") == "false"
    assert root.findtext(NS + "Prefix") == ""
    assert root.findtext(f"{NS}Contents/{NS}ETag") == '"abc"'
    assert root.findtext(f"{NS}Contents/{NS}StorageClass") == "STANDARD"
    assert root.findtext(f"{NS}CommonPrefixes/{NS}Prefix") == "d/"
    assert root.find(NS + "NextContinuationToken") is None


def _variants() -> list[xml.Contents]:
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    untyped: Any = None  # values the typed fields do not promise, written by the generic walk
    return [
        xml.Contents("a&<b>", _ts(ms=7), '"abc"', size=3),
        xml.Contents("k", _ts(), '"e"', "CRC32", "FULL_OBJECT", 10, xml.Owner("o&", "O<")),
        xml.Contents("k", _ts(), '"e"', None, "COMPOSITE", 0, None, "GLACIER"),
        xml.Contents("k", _ts(), '"e"', owner=xml.Owner("id", "")),
        xml.Contents("k", _ts(), untyped),
        xml.Contents("k", when, '"e"', size=1),  # type: ignore[arg-type]
        xml.Contents("k", _ts(), '"e"', size=True),
        xml.Contents("k", _ts(), '"e"', owner=xml.Owner("id", untyped)),
        xml.Contents("k", _ts(), '"e"', storage_class=untyped),
    ]


@pytest.mark.parametrize("contents", _variants(), ids=range(len(_variants())))
def test_contents_written_as_the_generic_walk_writes_them(
    contents: xml.Contents, monkeypatch: pytest.MonkeyPatch
) -> None:
    # <Contents> has a writer of its own (listing pages write 1,000): the same bytes.
    doc = xml.ListBucketResultV2(
        name="b", prefix="", delimiter=None, max_keys=1000, key_count=2, is_truncated=False,
        contents=[contents, contents],
    )  # fmt: skip
    fast = xml.render(doc)
    monkeypatch.setattr(xml, "_WRITERS", {})
    assert fast == xml.render(doc)


def test_versions_interleave_in_order() -> None:
    doc = xml.ListVersionsResult(
        name="b", prefix="", key_marker="", version_id_marker="", next_key_marker=None,
        next_version_id_marker=None, max_keys=1000, delimiter=None, is_truncated=False,
        entries=[
            xml.DeleteMarker("k", "v3", True, _ts(), xml.Owner("o", "o")),
            xml.Version("k", "v2", False, _ts(), '"e"', size=1),
        ],
    )  # fmt: skip
    root = ET.fromstring(xml.render(doc))
    tags = [
        child.tag.removeprefix(NS) for child in root if child.tag.endswith(("Version", "Marker"))
    ]
    assert tags[-2:] == ["DeleteMarker", "Version"]


def test_location_constraint_is_empty_for_us_east_1() -> None:
    assert ET.fromstring(xml.render(xml.LocationConstraint("us-east-1"))).text is None
    assert ET.fromstring(xml.render(xml.LocationConstraint("eu-west-1"))).text == "eu-west-1"


def test_checksums_inline() -> None:
    checks = xml.Checksums.of(
        common_pb2.Checksums(crc32="AAAAAA==", type=common_pb2.CHECKSUM_TYPE_FULL_OBJECT)
    )
    doc = xml.CopyObjectResult(etag='"e"', last_modified=_ts(), checksums=checks)
    root = ET.fromstring(xml.render(doc))
    assert root.findtext(NS + "ChecksumCRC32") == "AAAAAA=="
    assert root.findtext(NS + "ChecksumType") == "FULL_OBJECT"
    assert xml.Checksums.of(common_pb2.Checksums()) is None


def test_error_document_has_no_namespace() -> None:
    from lightningstor_s3.errors import error_document

    body = error_document(NoSuchKey(Key="a/b"), resource="/b/a/b", request_id="R", host_id="H")
    root = ET.fromstring(body)
    assert root.tag == "Error"
    assert [c.tag for c in root] == ["Code", "Message", "Key", "Resource", "RequestId", "HostId"]
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Key") == "a/b"


# ---- parsing ----


def test_parse_delete() -> None:
    body = (
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>'
        b"<Object><Key> spaced </Key></Object><Object><Key>b</Key><VersionId>v</VersionId></Object>"
        b"</Delete>"
    )
    objects, quiet = xml_in.delete(body, 1000)
    assert quiet
    assert [(o.key, o.version_id) for o in objects] == [(" spaced ", ""), ("b", "v")]


def test_delete_limit_and_empty() -> None:
    many = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>"
    with pytest.raises(MalformedXML):
        xml_in.delete(many, 1000)
    with pytest.raises(MalformedXML):
        xml_in.delete(b"<Delete></Delete>", 1000)


def test_parse_complete() -> None:
    body = (
        b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag>'
        b"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
        b"<Part><ETag>b</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"
    )
    parts = xml_in.complete_multipart_upload(body)
    assert [(p.part_number, p.etag, p.checksums.crc32) for p in parts] == [
        (1, '"a"', "AAAAAA=="),
        (2, "b", ""),
    ]
    with pytest.raises(InvalidPart):
        xml_in.complete_multipart_upload(
            b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part>"
            b"</CompleteMultipartUpload>"
        )


def test_parse_tagging_and_versioning() -> None:
    tags = xml_in.tagging(
        b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>"
        b"<Tag><Key>e</Key><Value></Value></Tag></TagSet></Tagging>"
    )
    assert [(t.key, t.value) for t in tags] == [("k", "v"), ("e", "")]
    assert xml_in.tagging(b"<Tagging><TagSet/></Tagging>") == []
    enabled = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert xml_in.versioning_configuration(enabled) == bucket_pb2.VERSIONING_STATUS_ENABLED
    with pytest.raises(IllegalVersioningConfigurationException):
        xml_in.versioning_configuration(
            b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>"
        )
    assert xml_in.create_bucket_configuration(b"") == ""
    assert (
        xml_in.create_bucket_configuration(
            b"<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
            b"</CreateBucketConfiguration>"
        )
        == "eu-west-1"
    )


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Delete [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Delete><Object><Key>&xxe;</Key></Object></Delete>"""

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Tagging><TagSet><Tag><Key>&lol2;</Key><Value>v</Value></Tag></TagSet></Tagging>"""

DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE Delete SYSTEM "http://127.0.0.1:1/evil.dtd">
<Delete><Object><Key>k</Key></Object></Delete>"""


@pytest.mark.parametrize(
    "body",
    [XXE, BOMB, DTD_ONLY, b"<Delete><Object>", b"not xml", b"<Other/>", b"   "],
)
def test_hostile_or_broken_xml_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        if b"Tagging" in body:
            xml_in.tagging(body)
        else:
            xml_in.delete(body, 1000)


@pytest.mark.parametrize(
    ("checksums", "algorithm", "kind"),
    [
        (common_pb2.Checksums(), None, None),
        (common_pb2.Checksums(type=common_pb2.CHECKSUM_TYPE_FULL_OBJECT), None, None),
        (
            common_pb2.Checksums(crc32="AAAAAA==", type=common_pb2.CHECKSUM_TYPE_FULL_OBJECT),
            "CRC32",
            "FULL_OBJECT",
        ),
        (
            common_pb2.Checksums(crc32c="AAAAAA==", type=common_pb2.CHECKSUM_TYPE_COMPOSITE),
            "CRC32C",
            "COMPOSITE",
        ),
        (common_pb2.Checksums(sha256="x"), "SHA256", None),
    ],
)
def test_listed_checksum_algorithm_and_type(
    checksums: common_pb2.Checksums, algorithm: str | None, kind: str | None
) -> None:
    # The type shows only beside an algorithm (as S3 lists them).
    info = common_pb2.ObjectInfo(key="k", etag='"e"', size=1, checksums=checksums)
    info.owner.id = "o"
    contents = listing._contents(info, lambda s: s, owner=False)
    assert (contents.checksum_algorithm, contents.checksum_type) == (algorithm, kind)
    assert (contents.key, contents.etag, contents.size) == ("k", '"e"', 1)
    assert contents.owner is None and contents.storage_class == "STANDARD"
    with_owner = listing._contents(info, lambda s: s, owner=True)
    assert with_owner.owner == xml.Owner("o", "o")
