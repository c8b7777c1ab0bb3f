"""Action names, and the action each API operation needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lightningstor_types.actions import (
    BYPASS_GOVERNANCE_ACTION,
    COPY_SOURCE_ACTION,
    KEY_FOR_OTHERS_ACTION,
    OPERATION_ACTIONS,
    REPAIR_ACTION,
    Action,
    action_for,
)

ACTION_NAME = re.compile(r"^lightningstor:[a-z]+(:[a-z]+)*$")
PROTO = Path(__file__).resolve().parents[2] / "proto" / "lightningstor" / "v1"

# S3 operations the facade serves that are not RPCs of the public API.
S3_ONLY = {"GetBucketLocation", "ListObjectsV2"}


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_action_names_have_the_platform_form(action: Action) -> None:
    assert ACTION_NAME.match(action.value)
    assert action == action.value  # a StrEnum compares and formats as its name
    assert f"{action}" == action.value


def test_every_action_is_used_by_some_operation() -> None:
    assert set(OPERATION_ACTIONS.values()) | {
        COPY_SOURCE_ACTION,
        REPAIR_ACTION,
        KEY_FOR_OTHERS_ACTION,
        BYPASS_GOVERNANCE_ACTION,
    } == set(Action)


def test_every_public_rpc_has_an_action() -> None:
    rpcs = set()
    for proto in PROTO.glob("*.proto"):
        rpcs |= set(re.findall(r"^\s*rpc\s+(\w+)\s*\(", proto.read_text(), re.MULTILINE))
    assert rpcs, "no RPCs found in the proto sources"
    assert set(OPERATION_ACTIONS) == rpcs | S3_ONLY


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("CreateBucket", "lightningstor:buckets:create"),
        ("HeadBucket", "lightningstor:buckets:get"),
        ("ListBuckets", "lightningstor:buckets:list"),
        ("PutBucketVersioning", "lightningstor:buckets:versioning:write"),
        ("DeleteBucketTagging", "lightningstor:buckets:tagging:write"),
        ("PutObject", "lightningstor:objects:put"),
        ("CopyObject", "lightningstor:objects:copy"),
        ("CompleteMultipartUpload", "lightningstor:uploads:complete"),
        ("HeadObject", "lightningstor:objects:get"),
        ("ListObjectVersions", "lightningstor:objects:list"),
        ("DeleteObjects", "lightningstor:objects:delete"),
        ("GetObjectTagging", "lightningstor:objects:tagging:read"),
        ("UploadPart", "lightningstor:uploads:write"),
        ("UploadPartCopy", "lightningstor:uploads:write"),
        ("ListParts", "lightningstor:uploads:list"),
        ("AbortMultipartUpload", "lightningstor:uploads:abort"),
        ("DeleteAccessKey", "lightningstor:credentials:delete"),
        ("GetGcStatus", "lightningstor:admin:read"),
        ("RunGc", "lightningstor:admin:gc"),
        ("CheckConsistency", "lightningstor:admin:read"),
    ],
)
def test_operation_actions(operation: str, action: str) -> None:
    assert action_for(operation) == action


def test_copy_source_needs_read() -> None:
    assert COPY_SOURCE_ACTION is Action.OBJECTS_GET


def test_a_repairing_check_needs_repair() -> None:
    assert REPAIR_ACTION == "lightningstor:admin:repair"


def test_unknown_operation() -> None:
    with pytest.raises(KeyError, match="RestoreObject"):
        action_for("RestoreObject")


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        OPERATION_ACTIONS["PutObject"] = Action.OBJECTS_GET  # type: ignore[index]


def test_the_specification_names_every_action_it_lists() -> None:
    names = {str(a) for a in Action}
    for resource, verbs in (
        ("buckets", ("create", "get", "delete", "list")),
        ("objects", ("put", "get", "delete", "list", "copy")),
        ("uploads", ("create", "complete", "abort")),
    ):
        for verb in verbs:
            assert f"lightningstor:{resource}:{verb}" in names
