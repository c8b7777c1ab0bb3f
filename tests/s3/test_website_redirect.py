"""``x-amz-website-redirect-location``: stored and returned as S3 does (there is no website
endpoint, so it is never acted on), never silently dropped.

PutObject, CreateMultipartUpload (the completed object), CopyObject and POST Object forms store
it; GET and HEAD return it. A value that does not start with ``/``, ``http://`` or ``https://``,
or passes 2 KiB, is ``400 InvalidRedirectLocation`` and nothing is written. A copy never takes
the source's value, under either metadata directive: only the copy request's own (AWS's
CopyObject reference; aws-sdk-go issue 1671, aws-cli issue 2483). The core checks, so the gRPC
API (``ContentHeaders.website_redirect_location``) answers alike. Real server, real boto3, the
AWS CLI and raw gRPC.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from botocore.exceptions import ClientError

from lightningstor.v1 import common_pb2, object_pb2
from lightningstor_types.errors import GRPC_ERROR_CODE_KEY, InvalidRedirectLocation
from tests.awscli import AWS, aws_env
from tests.s3.test_post_object import post, presigned
from tests.s3.test_tools import run

if TYPE_CHECKING:
    from lightningstor_client import LightningStorClient
    from tests.integration.server import ServerProcess

HEADER = "x-amz-website-redirect-location"
VALID = ["/other.html", "http://example.com/", "https://example.com/a?b=c", "/" + "x" * 2047]
INVALID = ["abc", "other.html", "ftp://example.com/", "HTTP:/x", "/" + "x" * 2048]


def _redirect(s3: Any, bucket: str, key: str) -> str | None:
    """The value HEAD and GET both answer (they must agree); None when absent."""
    head = s3.head_object(Bucket=bucket, Key=key)
    got = s3.get_object(Bucket=bucket, Key=key)
    got["Body"].read()
    assert head.get("WebsiteRedirectLocation") == got.get("WebsiteRedirectLocation")
    value: str | None = head.get("WebsiteRedirectLocation")
    return value


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _refused(call: Callable[[], Any]) -> None:
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert resp["Error"]["Code"] == "InvalidRedirectLocation"
    assert resp["Error"]["Message"] == (
        "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."
    )


@pytest.mark.parametrize("value", VALID, ids=["path", "http", "https", "2KiB"])
def test_put_object_stores_it_and_head_and_get_return_it(s3: Any, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<html/>", WebsiteRedirectLocation=value)
    assert _redirect(s3, bucket, "page.html") == value
    got = s3.get_object(Bucket=bucket, Key="page.html")  # served, not redirected
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == b"<html/>"
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert _redirect(s3, bucket, "plain") is None
    assert (
        HEADER not in s3.head_object(Bucket=bucket, Key="plain")["ResponseMetadata"]["HTTPHeaders"]
    )


def test_multipart_upload_keeps_it_for_the_completed_object(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", WebsiteRedirectLocation="/to/mp")
    part = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p" * 1024
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert _redirect(s3, bucket, "mp") == "/to/mp"


def test_copy_takes_the_requests_value_never_the_sources(s3: Any, bucket: str) -> None:
    """AWS: the value is unique to each object and not copied with x-amz-metadata-directive
    (COPY or REPLACE); a copy request may give its own, and with COPY the rest of the metadata
    is still copied."""
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=b"data",
        ContentType="text/html",
        Metadata={"m": "v"},
        WebsiteRedirectLocation="/from-source",
    )
    source = {"Bucket": bucket, "Key": "src"}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=source)
    assert _redirect(s3, bucket, "copy") is None
    head = s3.head_object(Bucket=bucket, Key="copy")
    assert (head["ContentType"], head["Metadata"]) == ("text/html", {"m": "v"})

    s3.copy_object(
        Bucket=bucket, Key="copy-given", CopySource=source, WebsiteRedirectLocation="/given"
    )
    assert _redirect(s3, bucket, "copy-given") == "/given"
    head = s3.head_object(Bucket=bucket, Key="copy-given")
    assert (head["ContentType"], head["Metadata"]) == ("text/html", {"m": "v"})

    s3.copy_object(Bucket=bucket, Key="replaced", CopySource=source, MetadataDirective="REPLACE")
    assert _redirect(s3, bucket, "replaced") is None

    s3.copy_object(
        Bucket=bucket,
        Key="replaced-given",
        CopySource=source,
        MetadataDirective="REPLACE",
        ContentType="text/plain",
        WebsiteRedirectLocation="https://example.com/r",
    )
    assert _redirect(s3, bucket, "replaced-given") == "https://example.com/r"
    head = s3.head_object(Bucket=bucket, Key="replaced-given")
    assert (head["ContentType"], head["Metadata"]) == ("text/plain", {})
    assert _redirect(s3, bucket, "src") == "/from-source"


def test_a_copy_onto_itself_may_set_it(s3: Any, bucket: str) -> None:
    """AWS's self-copy refusal names the website redirect location among the changes that make
    such a copy legal."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", Metadata={"m": "v"})
    source = {"Bucket": bucket, "Key": "k"}
    with pytest.raises(ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="k", CopySource=source)
    assert info.value.response["Error"]["Code"] == "InvalidRequest"
    s3.copy_object(Bucket=bucket, Key="k", CopySource=source, WebsiteRedirectLocation="/self")
    assert _redirect(s3, bucket, "k") == "/self"
    assert s3.head_object(Bucket=bucket, Key="k")["Metadata"] == {"m": "v"}


@pytest.mark.parametrize("value", INVALID, ids=["abc", "relative", "ftp", "case", "long"])
def test_an_invalid_value_is_refused_and_nothing_is_written(
    s3: Any, bucket: str, value: str
) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"data")
    source = {"Bucket": bucket, "Key": "src"}
    _refused(
        lambda: s3.put_object(Bucket=bucket, Key="put", Body=b"x", WebsiteRedirectLocation=value)
    )
    _refused(
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", WebsiteRedirectLocation=value)
    )
    for directive in ("COPY", "REPLACE"):
        _refused(
            partial(
                s3.copy_object,
                Bucket=bucket,
                Key="copy",
                CopySource=source,
                MetadataDirective=directive,
                WebsiteRedirectLocation=value,
            )
        )
    assert _keys(s3, bucket) == ["src"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_post_object_form_field(s3v4: Any, s3_endpoint: str, bucket: str) -> None:
    for key, value in (("posted", "/to/posted"), ("refused", "abc")):
        fields = presigned(
            s3v4,
            bucket,
            key,
            Fields={HEADER: value},
            Conditions=[{HEADER: value}],
        )
        resp = post(s3_endpoint, bucket, fields)
        if value.startswith("/"):
            assert resp.status == 204, resp.body
            assert _redirect(s3v4, bucket, key) == value
        else:
            assert (resp.status, resp.code) == (400, "InvalidRedirectLocation"), resp.body
    assert _keys(s3v4, bucket) == ["posted"]


def test_grpc_sets_and_reads_it_back(client: LightningStorClient, s3: Any, new_bucket: str) -> None:
    client.put_object(new_bucket, "g", b"data", website_redirect_location="/to/g")
    assert client.head_object(new_bucket, "g").website_redirect_location == "/to/g"
    assert _redirect(s3, new_bucket, "g") == "/to/g"  # the same object seen over S3
    s3.put_object(Bucket=new_bucket, Key="s", Body=b"x", WebsiteRedirectLocation="http://e.test/")
    assert client.head_object(new_bucket, "s").website_redirect_location == "http://e.test/"
    with client.get_object(new_bucket, "s") as stream:
        assert stream.info.website_redirect_location == "http://e.test/"
    assert client.head_object(new_bucket, "s").metadata == {}

    up = client.create_multipart_upload(new_bucket, "mp", website_redirect_location="/to/mp")
    part = client.upload_part(new_bucket, "mp", up.upload_id, 1, b"p" * 1024)
    client.complete_multipart_upload(new_bucket, "mp", up.upload_id, [part])
    assert client.head_object(new_bucket, "mp").website_redirect_location == "/to/mp"

    client.put_object(new_bucket, "src", b"d", metadata={"m": "v"}, website_redirect_location="/s")
    client.copy_object(new_bucket, "c1", source_bucket=new_bucket, source_key="src")
    assert client.head_object(new_bucket, "c1").website_redirect_location is None
    client.copy_object(
        new_bucket, "c2", source_bucket=new_bucket, source_key="src", website_redirect_location="/n"
    )
    c2 = client.head_object(new_bucket, "c2")
    assert (c2.website_redirect_location, c2.metadata) == ("/n", {"m": "v"})  # still COPY

    for value in ("abc", "/" + "x" * 2048):
        with pytest.raises(InvalidRedirectLocation):
            client.put_object(new_bucket, "bad", b"x", website_redirect_location=value)
        with pytest.raises(InvalidRedirectLocation):
            client.create_multipart_upload(new_bucket, "bad", website_redirect_location=value)
        with pytest.raises(InvalidRedirectLocation):
            client.copy_object(
                new_bucket,
                "bad",
                source_bucket=new_bucket,
                source_key="src",
                website_redirect_location=value,
            )
    assert sorted(o.key for o in client.iter_objects(new_bucket)) == [
        "c1", "c2", "g", "mp", "s", "src"
    ]  # fmt: skip


def test_grpc_status_of_an_invalid_value(
    module_server: ServerProcess, client: LightningStorClient, new_bucket: str
) -> None:
    """A 400 of the catalog is INVALID_ARGUMENT over gRPC, with the S3 code in the trailer."""
    from tests.integration.server import AdminSigner

    header = object_pb2.PutObjectHeader(
        bucket=new_bucket,
        key="k",
        headers=common_pb2.ContentHeaders(website_redirect_location="abc"),
    )
    messages = [
        object_pb2.PutObjectRequest(header=header),
        object_pb2.PutObjectRequest(content=b"x"),
    ]
    with grpc.insecure_channel(module_server.grpc_addr) as ch:
        channel = grpc.intercept_channel(ch, AdminSigner(**module_server.admin_keys()))
        call = channel.stream_unary(
            "/lightningstor.v1.ObjectService/PutObject",
            object_pb2.PutObjectRequest.SerializeToString,
            object_pb2.PutObjectResponse.FromString,
        )
        with pytest.raises(grpc.RpcError) as info:
            call(iter(messages), timeout=10)
    err: Any = info.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.trailing_metadata())[GRPC_ERROR_CODE_KEY] == "InvalidRedirectLocation"
    assert list(client.iter_objects(new_bucket)) == []


def test_aws_cli_website_redirect(
    s3_endpoint: str, admin_keys: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    env = aws_env(admin_keys["id"], admin_keys["secret"], tmp_path)
    aws_bin = AWS
    page = tmp_path / "index.html"
    page.write_bytes(b"<html/>")
    run(aws_bin, "--endpoint-url", s3_endpoint, "s3", "cp", "--website-redirect", "/x",
        str(page), f"s3://{bucket}/index.html", env=env)  # fmt: skip
    assert _redirect(s3, bucket, "index.html") == "/x"
    shown = run(aws_bin, "--endpoint-url", s3_endpoint, "s3api", "head-object",
                "--bucket", bucket, "--key", "index.html", env=env)  # fmt: skip
    assert '"WebsiteRedirectLocation": "/x"' in shown
