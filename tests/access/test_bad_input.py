"""Bad input of issue 13's list not covered in test_bucket_policy: a key gone from a bucket that
is readable by name only (public, or shared with another org) is AccessDenied, never NoSuchKey,
so that anonymous and presigned requests cannot probe which keys exist (S3 answers 404 only to
a caller that may list the bucket)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from lightningstor_types.errors import AccessDenied
from tests.access.cluster import ORGA, Cluster, anonymous
from tests.access.test_bucket_policy import doc, read_for_bob
from tests.s3 import rawhttp

pytestmark = pytest.mark.timeout(120)


def test_anonymous_and_presigned_reads_of_a_deleted_key_are_denied(
    cluster: Cluster, bucket: str
) -> None:
    public = doc({**read_for_bob(bucket), "Sid": "PublicRead", "Principal": "*"})
    cluster.s3("alice").put_bucket_policy(Bucket=bucket, Policy=public)
    target = f"/orga%3A{bucket}/k"
    bob = cluster.keys["bob"]
    url = rawhttp.Signer(cluster.server.ports["s3"], bob["access_key"], bob["secret_key"]).presign(
        "GET", target
    )
    assert anonymous(cluster, "GET", target).status == 200
    assert anonymous(cluster, "GET", url).status == 200  # bob's presigned URL, shared
    with cluster.grpc("alice") as c:
        c.delete_object(bucket, "k")
    for method in ("GET", "HEAD"):
        for how in (target, url, f"/orga%3A{bucket}/never-was"):
            got = anonymous(cluster, method, how)
            assert got.status == 403, (method, how, got.status)
            if method == "GET":
                assert got.code == "AccessDenied"
    with cluster.grpc("bob", scope=ORGA) as c, pytest.raises(AccessDenied):
        c.get_object(bucket, "k").read()  # gRPC answers the same
    # The owner, who may list the bucket, is told the truth.
    with pytest.raises(ClientError) as err:
        cluster.s3("alice").get_object(Bucket=bucket, Key="k")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"


def test_a_reader_who_may_also_list_learns_the_key_is_gone(cluster: Cluster, bucket: str) -> None:
    listing = {
        "Sid": "PublicList", "Effect": "Allow", "Principal": "*",
        "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
    }  # fmt: skip
    read = {**read_for_bob(bucket), "Sid": "PublicRead", "Principal": "*"}
    cluster.s3("alice").put_bucket_policy(Bucket=bucket, Policy=doc(read, listing))
    with cluster.grpc("alice") as c:
        c.delete_object(bucket, "k")
    got = anonymous(cluster, "GET", f"/orga%3A{bucket}/k")
    assert (got.status, got.code) == (404, "NoSuchKey")
