"""Scopes, principals and resource paths; and the package's public names."""

from __future__ import annotations

import dataclasses

import pytest

import lightningstor_types
from lightningstor_types.errors import InvalidArgument
from lightningstor_types.resources import (
    PLATFORM_RESOURCE,
    Resource,
    bucket_resource,
    object_resource,
    parse_resource,
    scope_resource,
)
from lightningstor_types.scope import Principal, Scope

ORG = Scope("acme")
PROJECT = Scope("acme", "web")

# -- scope and principal ----------------------------------------------------------------------


def test_scope_key_segment() -> None:
    assert PROJECT.key_segment() == "acme/web"
    assert ORG.key_segment() == "acme/_"


@pytest.mark.parametrize(("org", "project"), [("", None), ("a/b", None), ("acme", "_"), ("_", "p")])
def test_scope_validates_its_ids(org: str, project: str | None) -> None:
    with pytest.raises(InvalidArgument):
        Scope(org, project)


def test_scope_is_frozen_and_hashable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROJECT.org_id = "other"  # type: ignore[misc]
    assert {Scope("acme", "web"), PROJECT} == {PROJECT}


def test_principal_scope() -> None:
    assert Principal("alice", "acme", "web").scope == PROJECT
    assert Principal("svc", "acme", None).scope == ORG
    with pytest.raises(InvalidArgument):
        Principal("", "acme", None)
    with pytest.raises(InvalidArgument):
        Principal("alice", "acme", "_")


# -- resource paths ---------------------------------------------------------------------------


def test_resource_forms() -> None:
    assert scope_resource(PROJECT) == "org/acme/project/web"
    assert scope_resource(ORG) == "org/acme"
    assert bucket_resource(PROJECT, "photos") == "org/acme/project/web/bucket/photos"
    assert bucket_resource(ORG, "photos") == "org/acme/bucket/photos"
    assert object_resource(PROJECT, "photos", "a/b.jpg") == (
        "org/acme/project/web/bucket/photos/object/a/b.jpg"
    )
    assert object_resource(ORG, "photos", "k") == "org/acme/bucket/photos/object/k"


KEYS = [
    "k",
    "a/b/c",
    "/leading/slash",
    "trailing/",
    "double//slash",
    "with spaces  and\ttabs",
    "ünïcödé/日本語/🎉",
    "object/inside/key",
    "bucket/x/object/y",
    "project/p",
    "..",
    "%2F not decoded",
]


@pytest.mark.parametrize("scope", [ORG, PROJECT], ids=str)
@pytest.mark.parametrize("key", KEYS)
def test_object_paths_round_trip(scope: Scope, key: str) -> None:
    path = object_resource(scope, "photos", key)
    resource = parse_resource(path)
    assert resource == Resource(scope.org_id, scope.project_id, "photos", key)
    assert resource.scope == scope
    assert resource.path == path == str(resource)


@pytest.mark.parametrize("scope", [ORG, PROJECT], ids=str)
def test_bucket_and_scope_paths_round_trip(scope: Scope) -> None:
    bucket = parse_resource(bucket_resource(scope, "my.bucket"))
    assert bucket == Resource(scope.org_id, scope.project_id, "my.bucket")
    assert bucket.path == bucket_resource(scope, "my.bucket")
    top = parse_resource(scope_resource(scope))
    assert top == Resource(scope.org_id, scope.project_id)
    assert top.path == scope_resource(scope)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "acme",
        "org",
        "org/",
        "org/acme/",
        "orgs/acme",
        "org//bucket/b",
        "org/_/bucket/b",
        "org/acme/project/_/bucket/b",
        "org/acme/project/",
        "org/acme/project//bucket/b",
        "org/acme/bucket/",
        "org/acme/bucket/b/",
        "org/acme/bucket/b/object",
        "org/acme/bucket/b/object/",
        "org/acme/bucket/b/objects/k",
        "org/acme/folder/b",
        "org/acme/project/web/extra",
        "org/acme/bucket/b/project/web",
    ],
)
def test_malformed_paths(path: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_resource(path)


def test_the_platform_resource_round_trips_and_nothing_else_names_org_star() -> None:
    platform = parse_resource(PLATFORM_RESOURCE)
    assert platform == Resource("*")
    assert platform.path == PLATFORM_RESOURCE == "org/*"
    for path in ("org/*/bucket/b", "org/*/project/p", "org/**"):
        with pytest.raises(InvalidArgument):
            parse_resource(path)


def test_an_object_resource_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="bucket"):
        Resource("acme", None, None, "k")


# -- the package ------------------------------------------------------------------------------


def test_public_names() -> None:
    exported = set(lightningstor_types.__all__)
    assert len(exported) == len(lightningstor_types.__all__)
    for name in exported:
        assert getattr(lightningstor_types, name) is not None
    assert {
        "Action",
        "OPERATION_ACTIONS",
        "LightningStorError",
        "error_for_code",
        "validate_bucket_name",
        "validate_object_key",
        "Scope",
        "Principal",
        "parse_resource",
    } <= exported
