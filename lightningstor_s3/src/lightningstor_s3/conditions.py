"""The condition facts of an S3 request (user agent, referer, scheme, listing parameters,
``x-amz-…`` headers, how it was signed) for ``RequestContext.attributes``, under the key names
of :mod:`lightningstor_types.condition_keys`."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from lightningstor_s3.auth.request import AuthResult
from lightningstor_s3.exchange import Exchange
from lightningstor_types import condition_keys as k

_HEADERS = {
    "user-agent": k.USER_AGENT,
    "referer": k.REFERER,
    "x-amz-acl": k.ACL,
    "x-amz-copy-source": k.COPY_SOURCE,
    "x-amz-metadata-directive": k.METADATA_DIRECTIVE,
    "x-amz-server-side-encryption": k.SERVER_SIDE_ENCRYPTION,
}
_QUERY = {
    "prefix": k.PREFIX,
    "delimiter": k.DELIMITER,
    "max-keys": k.MAX_KEYS,
    "versionId": k.VERSION_ID,
}


def condition_facts(ex: Exchange, query: Mapping[str, str], auth: AuthResult) -> dict[str, str]:
    facts = {key: ex.headers[h] for h, key in _HEADERS.items() if h in ex.headers}
    facts.update({key: query[q] for q, key in _QUERY.items() if q in query})
    facts[k.SECURE_TRANSPORT] = "true" if ex.scope.get("scheme") == "https" else "false"
    if auth.principal is not None:
        facts[k.SIGNATURE_VERSION] = "AWS4-HMAC-SHA256"
        facts[k.AUTH_TYPE] = "REST-QUERY-STRING" if auth.presigned else "REST-HEADER"
    tagging = ex.headers.get("x-amz-tagging")
    if tagging:
        tags = parse_qsl(tagging, keep_blank_values=True)
        facts[k.REQUEST_OBJECT_TAG_KEYS] = ",".join(t for t, _ in tags)
        facts.update({k.REQUEST_OBJECT_TAG + t.lower(): v for t, v in tags})
    return facts
