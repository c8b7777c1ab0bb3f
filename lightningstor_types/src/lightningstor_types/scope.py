"""Who owns a bucket (a :class:`Scope`) and who is calling (a :class:`Principal`).

A bucket belongs to an organization and optionally to one of its projects
(docs/architecture.md §3); a
principal belongs to one org and usually one project, and that is the scope its calls act in
unless a request names another.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lightningstor_types.errors import InvalidArgument, InvalidBucketName
from lightningstor_types.naming import NO_PROJECT, validate_scope_id


@dataclass(frozen=True, slots=True)
class Scope:
    """An org, or a project of an org: the namespace bucket names live in.

    Both ids are checked on construction (:func:`validate_scope_id`), so a ``Scope`` in hand is
    always safe to put in a metadata key or a resource path.
    """

    org_id: str
    project_id: str | None = None

    def __post_init__(self) -> None:
        validate_scope_id(self.org_id, "org_id")
        if self.project_id is not None:
            validate_scope_id(self.project_id, "project_id")

    def key_segment(self) -> str:
        """``"{org}/{project}"``, or ``"{org}/_"`` without a project: the scope in metadata keys."""
        return f"{self.org_id}/{self.project_id or NO_PROJECT}"

    def __str__(self) -> str:
        return self.org_id if self.project_id is None else f"{self.org_id}/{self.project_id}"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user or service of an org and, usually, one of its projects."""

    principal_id: str
    org_id: str
    project_id: str | None = None

    def __post_init__(self) -> None:
        if not self.principal_id:
            raise InvalidArgument("principal_id must not be empty", ArgumentName="principal_id")
        Scope(self.org_id, self.project_id)  # validates both ids

    @property
    def scope(self) -> Scope:
        """The scope the principal belongs to, and acts in by default."""
        return _scope_of(self.org_id, self.project_id)


# A request asks for its caller's scope several times; a Scope is immutable, so callers of one
# scope share one (a frozen dataclass costs ~1 us to build and check).
@lru_cache(maxsize=1024)
def _scope_of(org_id: str, project_id: str | None) -> Scope:
    return Scope(org_id, project_id)


def parse_identity(spelled: str, home: Scope) -> Principal:
    """The principal ``spelled`` names, as policy bindings write identities: ``"id"`` is id
    whose home is ``home``, ``"org/id"`` the org-level id of org, ``"org/project/id"`` the id of
    that project. InvalidArgument for anything else (an empty part, more parts)."""
    parts = spelled.split("/")
    if len(parts) > 3 or "" in parts:
        raise InvalidArgument(
            f"Invalid principal {spelled!r}: write id, org/id or org/project/id",
            ArgumentName="principal_id",
        )
    if len(parts) == 1:
        return Principal(parts[0], home.org_id, home.project_id)
    return Principal(parts[-1], parts[0], parts[1] if len(parts) == 3 else None)


ANONYMOUS_ID = "*"
"""The principal id of an unsigned request: ``Principal(ANONYMOUS_ID, org, project)`` stands for
anyone calling a bucket of that scope (its requests are limited and counted as that tenant's)."""


def qualified_bucket(spelled: str) -> tuple[Scope | None, str]:
    """A bucket name as an S3 request may write it: ``bucket`` (the caller's own scope: None),
    ``org:bucket`` (the org-level bucket of another org) or ``org:project:bucket`` (a project's
    bucket), as Ceph RGW writes ``tenant:bucket``. InvalidBucketName for a bad org or project."""
    if ":" not in spelled:
        return None, spelled
    parts = spelled.split(":")
    if len(parts) > 3:
        raise InvalidBucketName(BucketName=spelled)
    try:
        scope = Scope(parts[0], parts[1] if len(parts) == 3 else None)
    except InvalidArgument:
        raise InvalidBucketName(BucketName=spelled) from None
    return scope, parts[-1]


def principal_arn(principal: Principal) -> str:
    """The canonical identity of ``principal``: ``arn:aws:iam::{org}:user/[{project}/]{id}``.

    What S3 responses show as an Owner's ID and bucket policies name as a Principal (two orgs'
    ``alice`` differ); the display name is the bare id (:func:`display_name`)."""
    where = f"{principal.project_id}/" if principal.project_id else ""
    return f"arn:aws:iam::{principal.org_id}:user/{where}{principal.principal_id}"


def display_name(owner_id: str) -> str:
    """The bare id of a canonical identity (an owner recorded before identities were canonical
    is its bare id already)."""
    if owner_id.startswith("arn:aws:iam::"):
        return owner_id.rsplit("/", 1)[-1]
    return owner_id
