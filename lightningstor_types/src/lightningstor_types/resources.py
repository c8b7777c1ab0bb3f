"""Resource paths: what an authorization decision is about (docs/architecture.md §7).

The forms, from the widest to the narrowest::

    org/{org}                                              an org (no project)
    org/{org}/project/{project}                            a project
    org/{org}/project/{project}/bucket/{bucket}            a project's bucket
    org/{org}/project/{project}/bucket/{bucket}/object/{key}
    org/{org}/bucket/{bucket}                              an org-level bucket (no project)
    org/{org}/bucket/{bucket}/object/{key}
    org/*                                                  the whole platform (operator calls)

``org/*`` is what platform-wide operator calls (GC, storage status, the consistency check) are
authorized on: a policy binding covers it only when it is itself at every org (``org = "*"``),
so an org's own admin never reaches the platform's operations. ``*`` is no valid org id.

A bucket without a project has no ``project/…`` segment at all (rather than a placeholder such
as ``project/_``), so a policy on ``org/acme/project/*`` can never match an org-level bucket by
accident, and no project id is reserved by the path syntax.

The object key is the verbatim tail after ``/object/``: it may hold ``/``, spaces, any unicode,
and is neither escaped nor normalized. Org and project ids and bucket names cannot hold ``/``
(see :mod:`lightningstor_types.naming`), which is what makes :func:`parse_resource` exact.
Wildcard patterns in policies are matched elsewhere; this module builds and parses exact paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightningstor_types.errors import InvalidArgument
from lightningstor_types.scope import Scope

PLATFORM_ORG = "*"
PLATFORM_RESOURCE = f"org/{PLATFORM_ORG}"
"""The resource of platform-wide operator calls."""


def scope_resource(scope: Scope) -> str:
    """``org/{org}`` or ``org/{org}/project/{project}``."""
    if scope.project_id is None:
        return f"org/{scope.org_id}"
    return f"org/{scope.org_id}/project/{scope.project_id}"


def bucket_resource(scope: Scope, bucket: str) -> str:
    """``…/bucket/{bucket}`` under :func:`scope_resource`."""
    return f"{scope_resource(scope)}/bucket/{bucket}"


def object_resource(scope: Scope, bucket: str, key: str) -> str:
    """``…/bucket/{bucket}/object/{key}``, the key verbatim."""
    return f"{bucket_resource(scope, bucket)}/object/{key}"


@dataclass(frozen=True, slots=True)
class Resource:
    """A parsed resource path; ``bucket`` and ``key`` are ``None`` above that level."""

    org: str
    project: str | None = None
    bucket: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if self.key is not None and self.bucket is None:
            raise ValueError("an object resource needs a bucket")

    @property
    def scope(self) -> Scope:
        """The org/project (InvalidArgument for the platform resource, which has none)."""
        return Scope(self.org, self.project)

    @property
    def path(self) -> str:
        """The resource path again: ``parse_resource(r.path) == r``."""
        if self.org == PLATFORM_ORG:
            return PLATFORM_RESOURCE
        if self.bucket is None:
            return scope_resource(self.scope)
        if self.key is None:
            return bucket_resource(self.scope, self.bucket)
        return object_resource(self.scope, self.bucket, self.key)

    def __str__(self) -> str:
        return self.path


def parse_resource(path: str) -> Resource:
    """Parse a path built by the functions above; :class:`InvalidArgument` if it is not one."""

    def fail(why: str) -> InvalidArgument:
        return InvalidArgument(
            f"Invalid resource path: {why}", ArgumentName="resource", ArgumentValue=path
        )

    if path == PLATFORM_RESOURCE:
        return Resource(PLATFORM_ORG)
    label, _, rest = path.partition("/")
    if label != "org":
        raise fail("it must begin with 'org/'")
    org, _, rest = rest.partition("/")
    project: str | None = None
    bucket: str | None = None
    key: str | None = None
    label, _, rest = rest.partition("/")
    if label == "project":
        project, _, rest = rest.partition("/")
        label, _, rest = rest.partition("/")
    if label == "bucket":
        bucket, _, rest = rest.partition("/")
        if not bucket:
            raise fail("the bucket name is empty")
        label, sep, rest = rest.partition("/")
        if label == "object" and sep:
            if not rest:
                raise fail("the object key is empty")
            key, label = rest, ""
    if label:
        raise fail(f"unexpected segment {label!r}")
    resource = Resource(org, project, bucket, key)
    try:
        resource.scope  # noqa: B018 - validates the org and project ids
    except InvalidArgument as exc:
        raise fail(exc.message) from None
    if resource.path != path:
        raise fail("it is not in canonical form")
    return resource
