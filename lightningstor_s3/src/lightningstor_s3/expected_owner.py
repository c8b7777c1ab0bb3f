"""``x-amz-expected-bucket-owner`` and ``x-amz-source-expected-bucket-owner``: the account a
request expects to own its bucket (and its copy source's bucket), checked as S3 checks it.

S3 names the owner by account id; here the account is the org that owns the bucket, so the
value is an org id (``arn:aws:iam::{org}:root``, the org's principal ARN, is accepted as well).
A bucket of another org, or a value naming no org, fails with ``AccessDenied`` before the
request does anything: a client that names the owner it expects never writes into, or copies
from, a bucket of the same name in another tenancy.
"""

from __future__ import annotations

from collections.abc import Mapping

from lightningstor_s3.headers import copy_source
from lightningstor_types.errors import AccessDenied
from lightningstor_types.scope import Scope

EXPECTED = "x-amz-expected-bucket-owner"
SOURCE_EXPECTED = "x-amz-source-expected-bucket-owner"


def check_expected_owners(headers: Mapping[str, str], bucket_scope: Scope | None) -> None:
    """AccessDenied when the request's bucket (``bucket_scope``: the scope its name resolves
    in; None when the request names no bucket) or its copy source belongs to another org than
    the headers expect."""
    expected = headers.get(EXPECTED)
    if expected is not None and bucket_scope is not None:
        _check(expected, bucket_scope.org_id)
    source_expected = headers.get(SOURCE_EXPECTED)
    if source_expected is not None and "x-amz-copy-source" in headers:
        source = copy_source(headers)
        if source.scope.org_id:
            _check(source_expected, source.scope.org_id)
        elif bucket_scope is not None:
            _check(source_expected, bucket_scope.org_id)


def _check(expected: str, org: str) -> None:
    value = expected.strip()
    if value not in (org, f"arn:aws:iam::{org}:root"):
        raise AccessDenied()
