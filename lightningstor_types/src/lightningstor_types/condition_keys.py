"""The condition keys a bucket policy may name: one place for their spelling (both frontends
fill them in, the access package tests them).

AWS compares key names case-insensitively; they are kept lower-cased here and in a request's
facts. A key of a namespace we serve (``aws:``, ``s3:``) that is not listed is refused
(``MalformedPolicy``), as AWS refuses an unknown ``s3:`` key; a key of another service's
namespace (``ec2:…``) is accepted and is simply never present in a request, as AWS ignores it.
"""

from __future__ import annotations

from typing import Final

SOURCE_IP: Final = "aws:sourceip"
SECURE_TRANSPORT: Final = "aws:securetransport"
CURRENT_TIME: Final = "aws:currenttime"
EPOCH_TIME: Final = "aws:epochtime"
USER_AGENT: Final = "aws:useragent"
REFERER: Final = "aws:referer"
PRINCIPAL_ARN: Final = "aws:principalarn"
USERNAME: Final = "aws:username"
USERID: Final = "aws:userid"
PREFIX: Final = "s3:prefix"
DELIMITER: Final = "s3:delimiter"
MAX_KEYS: Final = "s3:max-keys"
REQUEST_OBJECT_TAG_KEYS: Final = "s3:requestobjecttagkeys"
ACL: Final = "s3:x-amz-acl"
COPY_SOURCE: Final = "s3:x-amz-copy-source"
METADATA_DIRECTIVE: Final = "s3:x-amz-metadata-directive"
SERVER_SIDE_ENCRYPTION: Final = "s3:x-amz-server-side-encryption"
VERSION_ID: Final = "s3:versionid"
SIGNATURE_VERSION: Final = "s3:signatureversion"
AUTH_TYPE: Final = "s3:authtype"

EXISTING_OBJECT_TAG: Final = "s3:existingobjecttag/"
REQUEST_OBJECT_TAG: Final = "s3:requestobjecttag/"

KNOWN_KEYS: Final = frozenset({
    SOURCE_IP, SECURE_TRANSPORT, CURRENT_TIME, EPOCH_TIME, USER_AGENT, REFERER, PRINCIPAL_ARN,
    USERNAME, USERID, PREFIX, DELIMITER, MAX_KEYS, REQUEST_OBJECT_TAG_KEYS, ACL, COPY_SOURCE,
    METADATA_DIRECTIVE, SERVER_SIDE_ENCRYPTION, VERSION_ID, SIGNATURE_VERSION, AUTH_TYPE,
})  # fmt: skip
KEY_PREFIXES: Final = (EXISTING_OBJECT_TAG, REQUEST_OBJECT_TAG)
SERVED_NAMESPACES: Final = ("aws:", "s3:")


def known_key(name: str) -> bool:
    """Whether a policy may name ``name`` (lower-cased): ours and listed, or another service's."""
    if not name.startswith(SERVED_NAMESPACES):
        return ":" in name
    if name in KNOWN_KEYS:
        return True
    return any(name.startswith(p) and len(name) > len(p) for p in KEY_PREFIXES)
