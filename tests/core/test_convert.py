"""Records as the API shows them: every field of a version carried into its ObjectInfo."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from lightningstor.meta.v1 import records_pb2
from lightningstor.v1 import common_pb2
from lightningstor_api.core.convert import object_info


def _full_record() -> records_pb2.ObjectRecord:
    rec = records_pb2.ObjectRecord(
        key="k",
        version_id="v1",
        etag='"e"',
        size=5,
        last_modified=Timestamp(seconds=1_700_000_000, nanos=5_000_000),
        headers=common_pb2.ContentHeaders(content_type="text/plain"),
        user_metadata={"a": "b"},
        storage_class="GLACIER",
        checksums=common_pb2.Checksums(crc32="AAAAAA==", type=common_pb2.CHECKSUM_TYPE_FULL_OBJECT),
        tags=[common_pb2.Tag(key="t", value="1")],
        owner_id="arn:aws:iam::acme:user/alice",
        part_count=3,
        retention=common_pb2.ObjectRetention(mode=common_pb2.OBJECT_LOCK_MODE_GOVERNANCE),
        legal_hold=True,
        server_side_encryption="aws:kms",
        sse_customer_algorithm="AES256",
        sse_customer_key_md5="md5",
        kms_key_id="key",
        kms_context="ctx",
    )
    return rec


def test_every_field_is_carried() -> None:
    info = object_info("b", _full_record(), version="v1", is_latest=True)
    expected = common_pb2.ObjectInfo(
        bucket="b",
        key="k",
        version_id="v1",
        is_latest=True,
        etag='"e"',
        size=5,
        last_modified=Timestamp(seconds=1_700_000_000, nanos=5_000_000),
        headers=common_pb2.ContentHeaders(content_type="text/plain"),
        user_metadata={"a": "b"},
        storage_class="GLACIER",
        checksums=common_pb2.Checksums(crc32="AAAAAA==", type=common_pb2.CHECKSUM_TYPE_FULL_OBJECT),
        parts_count=3,
        tag_count=1,
        owner=common_pb2.Owner(id="arn:aws:iam::acme:user/alice", display_name="alice"),
        retention=common_pb2.ObjectRetention(mode=common_pb2.OBJECT_LOCK_MODE_GOVERNANCE),
        legal_hold=True,
        server_side_encryption="aws:kms",
        sse_customer_algorithm="AES256",
        sse_customer_key_md5="md5",
        kms_key_id="key",
        kms_context="ctx",
    )
    assert info == expected
    assert info.SerializeToString(deterministic=True) == expected.SerializeToString(
        deterministic=True
    )


def test_a_bare_record_sets_only_what_it_always_did() -> None:
    # Scalars at their default are skipped (proto3 keeps none); the sub-messages a listing
    # always had stay present, so the message and its bytes are unchanged.
    info = object_info("b", records_pb2.ObjectRecord(key="k"), version="", is_latest=False)
    assert [field.name for field, _ in info.ListFields()] == [
        "bucket",
        "key",
        "last_modified",
        "headers",
        "storage_class",
        "checksums",
        "owner",
    ]
    assert info.storage_class == "STANDARD"


def test_a_delete_marker_stops_after_the_owner() -> None:
    rec = records_pb2.ObjectRecord(key="k", is_delete_marker=True, owner_id="o", etag='"e"')
    info = object_info("b", rec, version="v", is_latest=True)
    assert info.is_delete_marker and info.owner.id == "o"
    assert not info.etag and not info.HasField("headers")
