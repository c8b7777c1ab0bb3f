"""The S3 headers that would change an object's or a bucket's protection or visibility, for
features not built yet: a request carrying one is refused (``501 NotImplemented``, naming the
header) before its handler runs, never served with the header dropped.

Dropping them silently would be worse than refusing: an SSE-C object would be readable without
its key, a GOVERNANCE-locked object deletable, a ``public-read`` object private. Only a value that
asks for exactly what the store already does passes:

- ``x-amz-object-lock-legal-hold: OFF``, ``x-amz-server-side-encryption-bucket-key-enabled:
  false``: the settings already in force;
- in a form upload, ``acl`` ``private`` or ``bucket-owner-full-control`` (what an object
  written without an ACL gets); any other ACL is refused there.

Object Lock, server-side encryption (SSE-S3, SSE-KMS, SSE-C) and ACLs are built: their
handlers read their headers (a form upload its SSE fields; ACL headers in ``acl_xml.py``). Form
uploads refuse Object Lock's fields and ACLs other than the above.

In a PutBucketVersioning document, ``<MfaDelete>Enabled</MfaDelete>`` is refused alike
(:func:`refuse_mfa_delete`); ``Disabled`` is the state in force.

The same names are refused as query parameters (some SDKs hoist ``x-amz-*`` headers into
presigned URLs). When a feature lands, its rows leave :data:`REFUSED` and its handler reads the
headers; the rule stays: no header that S3 defines as changing protection is ever ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from lightningstor_s3.router import Endpoint
from lightningstor_types.errors import NotImplemented_

E = Endpoint

# Object Lock headers are applied by PutObject, CopyObject and CreateMultipartUpload
# (objectlock_xml.apply_lock_headers), ACL headers by those and CreateBucket
# (acl_xml.from_headers); SSE, SSE-KMS (key id, context) and SSE-C by those and by UploadPart
# and UploadPartCopy (with the copy source's SSE-C key). Still refused there: bucket keys
# (BucketKeyEnabled true).
_BUCKET_KEY: Final = ("x-amz-server-side-encryption-bucket-key-enabled",)
_NEW_OBJECT: Final = _BUCKET_KEY
# A form upload reads the SSE, SSE-KMS, SSE-C, ACL and Object Lock fields (postobject/upload.py):
# only bucket keys are refused there, as for PutObject.
_FORM: Final = _NEW_OBJECT

REFUSED: Mapping[Endpoint, frozenset[str]] = MappingProxyType(
    {
        E.PUT_OBJECT: frozenset(_NEW_OBJECT),
        E.CREATE_MULTIPART_UPLOAD: frozenset(_NEW_OBJECT),
        E.COPY_OBJECT: frozenset(_NEW_OBJECT),
    }
)
"""Per endpoint, the headers (lower-case) refused unless their value is in :data:`HARMLESS`."""

HARMLESS: Mapping[tuple[Endpoint | None, str], frozenset[str]] = MappingProxyType(
    {
        (None, "x-amz-server-side-encryption-bucket-key-enabled"): frozenset({"false"}),
    }
)
"""Values that ask for what is already the case, per (endpoint or any, header)."""


def refuse_unsupported(
    endpoint: Endpoint, headers: Mapping[str, str], query: Mapping[str, str]
) -> None:
    """NotImplemented naming the first header (or query parameter) of :data:`REFUSED` that the
    request carries with a value that would change something."""
    refused = REFUSED.get(endpoint)
    if refused is not None:
        _refuse(refused, endpoint, headers, query)


def _refuse(
    refused: frozenset[str],
    endpoint: Endpoint,
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> None:
    given = {name.lower(): value for name, value in query.items() if name[:6].lower() == "x-amz-"}
    given.update(headers)  # header names are lower-case already
    for name in sorted(refused.intersection(given)):
        value = given[name].strip()
        harmless = HARMLESS.get((endpoint, name)) or HARMLESS.get((None, name), frozenset())
        if value not in harmless:
            raise NotImplemented_(Header=name)


def form_headers(fields: Mapping[str, str]) -> dict[str, str]:
    """The PutObject headers a browser form's fields stand for: the same names in lower case,
    except ``acl`` for ``x-amz-acl``."""
    return {("x-amz-acl" if n.lower() == "acl" else n.lower()): v for n, v in fields.items()}


def refuse_unsupported_form(fields: Mapping[str, str]) -> None:
    """The same rule for a browser form upload (POST Object), whose fields carry what
    PutObject's headers do (``acl`` for ``x-amz-acl``)."""
    _refuse(frozenset(_FORM), E.PUT_OBJECT, form_headers(fields), {})


def refuse_mfa_delete(value: str | None) -> None:
    """NotImplemented for a PutBucketVersioning ``MfaDelete`` other than ``Disabled``."""
    if value not in (None, "Disabled"):
        raise NotImplemented_("MFA delete is not implemented", Header="MfaDelete")
