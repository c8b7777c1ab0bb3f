"""The HTTP side of the facade with hand-made requests: framing, trailers, control paths, vhosts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tests.s3.conftest import make_client
from tests.s3.rawhttp import (
    STREAMING_UNSIGNED_TRAILER,
    Signer,
    crc32_b64,
    request,
    unsigned_trailer_body,
)


def test_transfer_encoding_chunked_without_length(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    pieces = [b"x" * 70_000, b"y" * 5, b"z" * 200_000]
    headers, _ = signer.sign("PUT", f"/{bucket}/te")
    resp = request(address, "PUT", f"/{bucket}/te", headers, iter(pieces), chunked=True)
    assert resp.status == 200, resp.body
    got = s3.get_object(Bucket=bucket, Key="te")
    assert got["ContentLength"] == sum(map(len, pieces))
    assert got["Body"].read() == b"".join(pieces)


def test_unsigned_trailer_checksum_is_verified_and_stored(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    """What boto3 sends over HTTPS by default: STREAMING-UNSIGNED-PAYLOAD-TRAILER, CRC32."""
    chunks = [b"a" * 65536, b"b" * 1000]
    data = b"".join(chunks)
    headers, _ = signer.sign(
        "PUT",
        f"/{bucket}/trailer",
        headers={
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-sdk-checksum-algorithm": "CRC32",
        },
        payload_hash=STREAMING_UNSIGNED_TRAILER,
    )
    body = unsigned_trailer_body(chunks, f"x-amz-checksum-crc32:{crc32_b64(data)}")
    resp = request(address, "PUT", f"/{bucket}/trailer", headers, body)
    assert resp.status == 200, resp.body
    assert resp.headers["x-amz-checksum-crc32"] == crc32_b64(data)
    head = s3.head_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(data)
    assert head["ContentLength"] == len(data)
    assert "ContentEncoding" not in head  # aws-chunked is framing, not stored
    assert s3.get_object(Bucket=bucket, Key="trailer")["Body"].read() == data


def test_aws_chunked_with_unsigned_payload(
    signer: Signer, address: str, s3: Any, bucket: str
) -> None:
    data = b"framed but unsigned"
    headers, _ = signer.sign(
        "PUT",
        f"/{bucket}/framed",
        headers={
            "content-encoding": "aws-chunked,gzip",
            "x-amz-decoded-content-length": str(len(data)),
        },
    )
    resp = request(
        address, "PUT", f"/{bucket}/framed", headers, unsigned_trailer_body([data], None)
    )
    assert resp.status == 200, resp.body
    got = s3.get_object(Bucket=bucket, Key="framed")
    assert got["Body"].read() == data
    assert got["ContentEncoding"] == "gzip"


def test_signed_payload_mismatch(signer: Signer, address: str, s3: Any, bucket: str) -> None:
    headers, _ = signer.sign("PUT", f"/{bucket}/sha", payload_hash=hashlib.sha256(b"a").hexdigest())
    resp = request(address, "PUT", f"/{bucket}/sha", headers, b"b")
    assert (resp.status, resp.code) == (400, "XAmzContentSHA256Mismatch")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_control_paths_need_no_credentials(signer: Signer, address: str) -> None:
    resp = request(address, "GET", "/health", {"Host": address})
    assert resp.status == 200
    assert json.loads(resp.body) == {"status": "ok"}
    # a signed request for the same path is S3: the bucket "health"
    headers, _ = signer.sign("GET", "/health")
    assert request(address, "GET", "/health", headers).code == "NoSuchBucket"


def test_head_errors_have_no_body(signer: Signer, address: str, bucket: str) -> None:
    headers, _ = signer.sign("HEAD", f"/{bucket}/missing")
    resp = request(address, "HEAD", f"/{bucket}/missing", headers)
    assert resp.status == 404
    assert resp.body == b""
    assert resp.headers["x-amz-request-id"]


def test_virtual_hosted_style(tmp_path: Path) -> None:
    from tests.integration.server import running_server

    env = {"LIGHTNINGSTOR_S3__ROOT_DOMAINS": "s3.localtest"}
    with running_server(tmp_path / "vhost", env=env) as server:
        creds = json.loads((server.data_dir / "admin-credentials.json").read_text())
        address = server.ports["s3"]
        path_style = make_client(
            "http://" + address, creds["access_key_id"], creds["secret_access_key"]
        )
        path_style.create_bucket(Bucket="photos")
        path_style.put_object(Bucket="photos", Key="a b.jpg", Body=b"jpeg")
        port = address.rsplit(":", 1)[1]
        vhost = Signer(
            f"photos.s3.localtest:{port}", creds["access_key_id"], creds["secret_access_key"]
        )
        headers, _ = vhost.sign("GET", "/a%20b.jpg")
        resp = request(address, "GET", "/a%20b.jpg", headers)
        assert (resp.status, resp.body) == (200, b"jpeg")
        headers, _ = vhost.sign("GET", "/", query={"list-type": "2"})
        listing = request(address, "GET", "/?list-type=2", headers)
        assert listing.status == 200
        assert b"<Key>a b.jpg</Key>" in listing.body


def test_graceful_stop_finishes_an_upload_in_flight(tmp_path: Path) -> None:
    import http.client
    import time

    from tests.integration.server import running_server

    workdir = tmp_path / "graceful"
    with running_server(workdir) as server:
        creds = json.loads((server.data_dir / "admin-credentials.json").read_text())
        address = server.ports["s3"]
        signer = Signer(address, creds["access_key_id"], creds["secret_access_key"])
        make_client("http://" + address, signer.key_id, signer.secret).create_bucket(
            Bucket="graceful"
        )
        headers, _ = signer.sign("PUT", "/graceful/slow")
        host, port = address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.putrequest("PUT", "/graceful/slow", skip_host=True, skip_accept_encoding=True)
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(b"5\r\nfirst\r\n")
        time.sleep(0.3)
        server.terminate()  # SIGTERM while the body is still coming
        time.sleep(0.5)
        conn.send(b"7\r\n second\r\n0\r\n\r\n")
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        conn.close()
        assert server.wait() == 0
    with running_server(workdir) as again:
        client = make_client("http://" + again.ports["s3"], signer.key_id, signer.secret)
        assert client.get_object(Bucket="graceful", Key="slow")["Body"].read() == b"first second"
