"""x-amz-expected-bucket-owner / x-amz-source-expected-bucket-owner (boto3's
ExpectedBucketOwner / ExpectedSourceBucketOwner): the bucket's org, or AccessDenied before
anything is done."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def _org(s3: Any) -> str:
    owner = s3.list_buckets()["Owner"]["ID"]  # arn:aws:iam::{org}:user/...
    return str(owner.split(":")[4])


def _denied(call: Any, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    code = err.value.response["Error"]["Code"]
    assert code in ("AccessDenied", "403")  # HEAD answers without a body


def test_the_owning_org_passes_another_is_denied_and_nothing_is_written(
    s3: Any, bucket: str
) -> None:
    org = _org(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"v1", ExpectedBucketOwner=org)
    s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=f"arn:aws:iam::{org}:root")
    assert s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=org)["Body"].read() == b"v1"
    for other in ("111122223333", f"{org}x"):
        _denied(s3.put_object, Bucket=bucket, Key="k", Body=b"v2", ExpectedBucketOwner=other)
        _denied(s3.head_bucket, Bucket=bucket, ExpectedBucketOwner=other)
        _denied(s3.delete_object, Bucket=bucket, Key="k", ExpectedBucketOwner=other)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"  # unchanged


def test_a_copy_checks_its_source_bucket_owner(s3: Any, bucket: str) -> None:
    org = _org(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    source = {"Bucket": bucket, "Key": "src"}
    _denied(
        s3.copy_object, Bucket=bucket, Key="dst", CopySource=source,
        ExpectedSourceBucketOwner="111122223333",
    )  # fmt: skip
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dst")
    s3.copy_object(
        Bucket=bucket, Key="dst", CopySource=source,
        ExpectedSourceBucketOwner=org, ExpectedBucketOwner=org,
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"data"
