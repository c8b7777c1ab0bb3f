"""The naming rules: buckets, object keys, scope ids, tags and user metadata."""

from __future__ import annotations

import pytest

from lightningstor_types import naming
from lightningstor_types.errors import (
    InvalidArgument,
    InvalidBucketName,
    InvalidTag,
    KeyTooLongError,
    MetadataTooLarge,
)
from lightningstor_types.naming import (
    _Accepted,
    validate_bucket_name,
    validate_object_key,
    validate_scope_id,
    validate_tags,
    validate_user_metadata,
)
from lightningstor_types.scope import Principal, Scope

# -- names already accepted -------------------------------------------------------------------


def test_accepted_names_are_remembered_within_a_bound() -> None:
    accepted = _Accepted(size=3)
    for name in ("a", "b", "c"):
        accepted.add(name)
    assert "b" in accepted and len(accepted) == 3
    accepted.add("d")  # full: emptied, then "d"
    assert len(accepted) == 1 and "d" in accepted and "a" not in accepted


def test_a_name_once_accepted_is_accepted_again_and_refusals_are_never_remembered() -> None:
    validate_bucket_name("remembered-bucket")
    assert "remembered-bucket" in naming._BUCKET_NAMES_ACCEPTED
    validate_bucket_name("remembered-bucket")
    for _ in range(2):  # a refused name is checked (and refused) every time
        with pytest.raises(InvalidBucketName):
            validate_bucket_name("Remembered-Bucket")
        with pytest.raises(InvalidArgument):
            validate_scope_id("_", "project_id")
    assert "Remembered-Bucket" not in naming._BUCKET_NAMES_ACCEPTED
    validate_scope_id("remembered-org", "org_id")
    assert "remembered-org" in naming._SCOPE_IDS_ACCEPTED


def test_a_principal_s_scope_is_one_shared_object() -> None:
    principal = Principal("alice", "acme", "web")
    assert principal.scope is principal.scope
    assert principal.scope == Scope("acme", "web")
    assert Principal("bob", "acme").scope == Scope("acme")


# -- buckets ----------------------------------------------------------------------------------

VALID_BUCKETS = [
    "abc",
    "a" * 63,
    "my.bucket.name",
    "a-b.c",
    "docexamplebucket1",
    "log-delivery-march-2020",
    "1bucket1",
    "192.168.5",  # three parts: not an IPv4 address
    "999.1.1.1a",
    "my-xn--bucket",  # reserved prefixes only count at the start
    "bucket-s3alias-not",  # reserved suffixes only count at the end
]

INVALID_BUCKETS = [
    ("ab", "3 to 63"),
    ("a" * 64, "3 to 63"),
    ("", "3 to 63"),
    ("Ab", "3 to 63"),  # too short, and not lowercase either
    ("Abc", "lowercase"),
    ("my_bucket", "lowercase"),
    ("my bucket", "lowercase"),
    ("bücket", "lowercase"),
    ("-ab", "begin and end"),
    ("ab-", "begin and end"),
    (".ab", "begin and end"),
    ("ab.", "begin and end"),
    ("a..b", "adjacent periods"),
    ("192.168.5.4", "IP address"),
    ("10.0.0.1", "IP address"),
    ("xn--abc", "xn--"),
    ("sthree-bucket", "sthree-"),
    ("sthree-configurator", "sthree-"),
    ("amzn-s3-demo-bucket", "amzn-s3-demo-"),
    ("bucket-s3alias", "-s3alias"),
    ("bucket--ol-s3", "--ol-s3"),
    ("bucket.mrap", ".mrap"),
    ("bucket--x-s3", "--x-s3"),
    ("bucket--table-s3", "--table-s3"),
]


@pytest.mark.parametrize("name", VALID_BUCKETS)
def test_valid_bucket_names(name: str) -> None:
    validate_bucket_name(name)


@pytest.mark.parametrize(("name", "rule"), INVALID_BUCKETS)
def test_invalid_bucket_names_say_which_rule(name: str, rule: str) -> None:
    with pytest.raises(InvalidBucketName) as info:
        validate_bucket_name(name)
    assert rule in info.value.message
    assert info.value.details == {"BucketName": name}


# -- object keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "a/b/c",
        "../../etc/passwd",  # keys are names in metadata, never paths
        "with space and ünïcödé 🎉",
        "trailing/",
        "x" * 1024,
        "é" * 512,  # 1024 bytes in 512 characters
        "€" * 341 + "a",  # 1024 bytes: 3-byte characters
    ],
)
def test_valid_object_keys(key: str) -> None:
    validate_object_key(key)


@pytest.mark.parametrize("key", ["x" * 1025, "é" * 512 + "a", "€" * 342, "🎉" * 257])
def test_keys_over_1024_bytes_are_too_long(key: str) -> None:
    assert len(key) <= 1025  # the limit is in UTF-8 bytes, not characters
    with pytest.raises(KeyTooLongError):
        validate_object_key(key)


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "empty"),
        ("a\x00b", "NUL"),
        ("\x00", "NUL"),
        ("bad\udcffsurrogate", "UTF-8"),
        ("\ud800", "UTF-8"),
    ],
)
def test_invalid_object_keys(key: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_object_key(key)
    assert why in info.value.message


# -- org and project ids ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["a", "acme", "Acme_Corp-1.0", "x" * 63, "__", "_a", "."])
def test_valid_scope_ids(value: str) -> None:
    validate_scope_id(value, "org_id")


@pytest.mark.parametrize(
    "value", ["", "_", "x" * 64, "a/b", "a b", "é", "a\x00", "a\n", "a:b", "a*"]
)
def test_invalid_scope_ids(value: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_scope_id(value, "project_id")
    assert "project_id" in info.value.message
    assert info.value.details["ArgumentName"] == "project_id"


# -- tags -------------------------------------------------------------------------------------


def _tags(n: int) -> list[tuple[str, str]]:
    return [(f"k{i}", f"v{i}") for i in range(n)]


@pytest.mark.parametrize(
    ("tags", "object_tags"),
    [
        ([], True),
        (_tags(10), True),
        (_tags(50), False),
        ([("k" * 128, "v" * 256)], True),
        ([("empty-value", "")], True),
        ([("Project Name", "Ünïcode 値 123")], True),
        ([("a_b.c:d/e=f+g-h@i", "a_b.c:d/e=f+g-h@i")], True),
        ([("notaws:x", "v")], True),
        ({"from": "mapping"}, True),
    ],
)
def test_valid_tags(tags: list[tuple[str, str]], object_tags: bool) -> None:
    validate_tags(tags, object_tags=object_tags)


@pytest.mark.parametrize(
    ("tags", "object_tags", "why"),
    [
        (_tags(11), True, "more than 10"),
        (_tags(51), False, "more than 50"),
        ([("", "v")], True, "TagKey"),
        ([("k" * 129, "v")], True, "TagKey"),
        ([("k", "v" * 257)], True, "TagValue"),
        ([("k", "v"), ("k", "w")], True, "same key"),
        ([("aws:cloudformation", "v")], True, "aws:"),
        ([("AWS:x", "v")], False, "aws:"),
        ([("k!", "v")], True, "TagKey"),
        ([("k", "a,b")], True, "TagValue"),
        ([("k", "line\nbreak")], True, "TagValue"),
    ],
)
def test_invalid_tags(tags: list[tuple[str, str]], object_tags: bool, why: str) -> None:
    with pytest.raises(InvalidTag) as info:
        validate_tags(tags, object_tags=object_tags)
    assert why in info.value.message


def test_ten_tags_are_too_many_only_on_objects() -> None:
    validate_tags(_tags(11), object_tags=False)


# -- user metadata ----------------------------------------------------------------------------


def test_metadata_up_to_2_kib() -> None:
    validate_user_metadata({})
    validate_user_metadata({"k": "v" * 2047})
    validate_user_metadata({"a": "x" * 1000, "b": "y" * 1046})


@pytest.mark.parametrize(
    "meta",
    [
        {"k": "v" * 2048},
        {"a": "x" * 1000, "b": "y" * 1047},
        {"k": "é" * 1024},  # 2048 bytes of value in 1024 characters
    ],
)
def test_metadata_over_2_kib(meta: dict[str, str]) -> None:
    with pytest.raises(MetadataTooLarge):
        validate_user_metadata(meta)


@pytest.mark.parametrize(
    "meta", [{"": "v"}, {"a b": "v"}, {"a:b": "v"}, {"k": "a\r\nb"}, {"k": "a\x00"}]
)
def test_metadata_must_fit_in_headers(meta: dict[str, str]) -> None:
    with pytest.raises(InvalidArgument):
        validate_user_metadata(meta)
