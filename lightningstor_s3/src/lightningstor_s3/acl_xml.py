"""ACLs as S3 writes them: the ``x-amz-acl`` / ``x-amz-grant-*`` headers and the
AccessControlPolicy document, read into and written from
:class:`~lightningstor.v1.common_pb2.AccessControlList` (the core checks and expands them).

A grant header lists grantees as ``id="…"``, ``uri="…"`` or ``emailAddress="…"`` separated by
commas; a canned ACL with grant headers is refused (InvalidRequest, as S3). The document's
grantees carry ``xsi:type`` (``CanonicalUser`` / ``Group``; ``AmazonCustomerByEmail`` names
nobody here); without it the child element tells (``ID`` / ``URI``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from lightningstor.v1 import common_pb2
from lightningstor_s3 import xml_in
from lightningstor_s3.xml import S3_NAMESPACE
from lightningstor_types.errors import (
    InvalidArgument,
    InvalidRequest,
    MalformedACLError,
    MalformedXML,
    UnexpectedContent,
)
from lightningstor_types.scope import display_name

CANNED_HEADER: Final = "x-amz-acl"
GRANT_HEADERS: Final[Mapping[str, str]] = {
    "x-amz-grant-read": "READ",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-read-acp": "READ_ACP",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-full-control": "FULL_CONTROL",
}
_XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
_GRANTEE: Final = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"([^"]*)"\s*(?:,|$)', re.IGNORECASE)


def _given(headers: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
    # Some SDKs hoist x-amz-* headers into presigned URLs: they count as headers.
    given = {n.lower(): v for n, v in query.items() if n[:6].lower() == "x-amz-"}
    given.update(headers)
    return given


def from_headers(
    headers: Mapping[str, str], query: Mapping[str, str] | None = None
) -> common_pb2.AccessControlList:
    """The ACL a request's headers ask for (empty: none asked)."""
    given = _given(headers, query or {})
    acl = common_pb2.AccessControlList(canned=given.get(CANNED_HEADER, "").strip())
    for name, permission in GRANT_HEADERS.items():
        if name in given:
            acl.grants.extend(_grantees(given[name], permission, name))
    if acl.canned and acl.grants:
        raise InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    return acl


def _grantees(value: str, permission: str, header: str) -> list[common_pb2.Grant]:
    out: list[common_pb2.Grant] = []
    pos = 0
    text = value.strip()
    while pos < len(text):
        m = _GRANTEE.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidArgument(
                "Argument format not recognized", ArgumentName=header, ArgumentValue=value
            )
        kind, who = m[1].lower(), m[2]
        pos = m.end()
        if kind == "id":
            out.append(
                common_pb2.Grant(grantee_type="CanonicalUser", id=who, permission=permission)
            )
        elif kind == "uri":
            out.append(common_pb2.Grant(grantee_type="Group", uri=who, permission=permission))
        else:
            raise _no_email(who)
    if not out:
        raise InvalidArgument(
            "Argument format not recognized", ArgumentName=header, ArgumentValue=value
        )
    return out


def _no_email(address: str) -> InvalidArgument:
    # No principal has an email address here: such a grantee names nobody.
    return InvalidArgument("Invalid id", ArgumentName="emailAddress", ArgumentValue=address)


def from_request(
    headers: Mapping[str, str], query: Mapping[str, str], body: bytes
) -> common_pb2.AccessControlList:
    """PutBucketAcl / PutObjectAcl: the headers' ACL or the AccessControlPolicy ``body``."""
    acl = from_headers(headers, query)
    if not body.strip():
        return acl
    if acl.canned or acl.grants:
        raise UnexpectedContent("This request does not support content")
    return policy_document(body)


def policy_document(body: bytes) -> common_pb2.AccessControlList:
    """An AccessControlPolicy document; MalformedACLError when it is none."""
    try:
        root = xml_in.parse(body, "AccessControlPolicy")
    except MalformedXML:
        raise MalformedACLError() from None
    acl = common_pb2.AccessControlList()
    for owner in xml_in.child_elements(root, "Owner"):
        acl.owner_id = (xml_in.child_text(owner, "ID") or "").strip()
    lists = list(xml_in.child_elements(root, "AccessControlList"))
    if len(lists) != 1:
        raise MalformedACLError()
    for grant in xml_in.child_elements(lists[0], "Grant"):
        grantees = list(xml_in.child_elements(grant, "Grantee"))
        permission = (xml_in.child_text(grant, "Permission") or "").strip()
        if len(grantees) != 1 or not permission:
            raise MalformedACLError()
        acl.grants.append(_grantee(grantees[0], permission))
    return acl


def _grantee(element: Element, permission: str) -> common_pb2.Grant:
    kind = element.get(f"{{{_XSI}}}type", "")
    grant_id = (xml_in.child_text(element, "ID") or "").strip()
    uri = (xml_in.child_text(element, "URI") or "").strip()
    email = (xml_in.child_text(element, "EmailAddress") or "").strip()
    if not kind:
        kind = "CanonicalUser" if grant_id else "Group" if uri else "AmazonCustomerByEmail"
    if kind == "CanonicalUser" and grant_id:
        return common_pb2.Grant(grantee_type=kind, id=grant_id, permission=permission)
    if kind == "Group" and uri:
        return common_pb2.Grant(grantee_type=kind, uri=uri, permission=permission)
    if kind == "AmazonCustomerByEmail" and email:
        raise _no_email(email)
    raise MalformedACLError()


def render(acl: common_pb2.AccessControlList) -> bytes:
    """The AccessControlPolicy document of ``acl`` (GetBucketAcl / GetObjectAcl)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<AccessControlPolicy xmlns="{S3_NAMESPACE}">',
        _owner(acl.owner_id),
        "<AccessControlList>",
    ]
    for g in acl.grants:
        out.append(f'<Grant><Grantee xmlns:xsi="{_XSI}" xsi:type={quoteattr(g.grantee_type)}>')
        if g.grantee_type == "Group":
            out.append(f"<URI>{escape(g.uri)}</URI>")
        else:
            out.append(f"<ID>{escape(g.id)}</ID>")
            out.append(f"<DisplayName>{escape(display_name(g.id))}</DisplayName>")
        out.append(f"</Grantee><Permission>{escape(g.permission)}</Permission></Grant>")
    out.append("</AccessControlList></AccessControlPolicy>")
    return "".join(out).encode("utf-8")


def _owner(owner_id: str) -> str:
    name = escape(display_name(owner_id))
    return f"<Owner><ID>{escape(owner_id)}</ID><DisplayName>{name}</DisplayName></Owner>"
