"""Issue 12, item 4: a value stored to come back as a header (content headers, user metadata)
holds no control character, whichever API and write path brought it; refused as InvalidArgument,
nothing stored. Values with tabs and non-ASCII stay servable over S3. (Over S3 the server's
HTTP parser already refuses such request headers.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from lightningstor_types.errors import InvalidArgument

if TYPE_CHECKING:
    from lightningstor_client import LightningStorClient

CONTROLS = ["\x01", "\x08", "\x0b", "\x1b", "\x1f", "\x7f", "\r", "\n", "\x00"]
FIELDS = [
    "content_type",
    "content_encoding",
    "content_disposition",
    "content_language",
    "cache_control",
    "expires",
    "metadata",
]


def _args(field: str, value: str) -> dict[str, Any]:
    return {"metadata": {"m": value}} if field == "metadata" else {field: value}


@pytest.mark.parametrize("field", FIELDS)
def test_grpc_write_paths_refuse_control_characters(
    client: LightningStorClient, s3: Any, bucket: str, field: str
) -> None:
    client.put_object(bucket, "src", b"data")
    for char in CONTROLS:
        bad = _args(field, f"a{char}b")
        with pytest.raises(InvalidArgument):
            client.put_object(bucket, "put", b"data", **bad)
        with pytest.raises(InvalidArgument):
            client.create_multipart_upload(bucket, "mp", **bad)
        with pytest.raises(InvalidArgument):
            client.copy_object(bucket, "copy", source_bucket=bucket, source_key="src", **bad)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src"]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    # tabs and non-ASCII are header content: stored, and served over S3
    value = "a\tb é ü"
    client.put_object(bucket, "put", b"data", **_args(field, value))
    got = s3.get_object(Bucket=bucket, Key="put")
    assert got["Body"].read() == b"data"
    if field == "expires":  # not a date: botocore moves it aside
        assert got["ExpiresString"] == value
    else:
        header = "x-amz-meta-m" if field == "metadata" else field.replace("_", "-")
        assert got["ResponseMetadata"]["HTTPHeaders"][header] == value  # sent as latin-1
