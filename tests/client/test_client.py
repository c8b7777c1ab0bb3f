"""LightningStorClient against a real server: every call, both flavours, files, resume, CLI."""

from __future__ import annotations

import base64
import hashlib
import inspect
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import lightningstor_client
from lightningstor.v1 import lifecycle_pb2
from lightningstor_client import AsyncLightningStorClient, LightningStorClient, Part
from lightningstor_client.cli import ProgressBar
from lightningstor_types.errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidArgument,
    LightningStorError,
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    NotModified,
    PreconditionFailed,
    ServiceUnavailable,
)
from tests.integration.server import ServerProcess, clean_env

MiB = 1024 * 1024


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _file_md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        while piece := f.read(MiB):
            h.update(piece)
    return h.hexdigest()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~40 MiB of random bytes, not a multiple of the part size."""
    path = tmp_path_factory.mktemp("files") / "big.bin"
    with path.open("wb") as f:
        for _ in range(40):
            f.write(os.urandom(MiB))
        f.write(os.urandom(12345))
    return path


# -- the public surface --------------------------------------------------------------------


def test_public_names_are_exactly_the_intended_ones() -> None:
    assert set(lightningstor_client.__all__) == {
        "DEFAULT_ENDPOINT", "AccessKey", "AsyncLightningStorClient", "AsyncObjectStream",
        "Bucket", "Checksums", "CopyResult", "CorsRule", "DeleteFailure", "DeleteObjectsResult",
        "DeleteResult", "Encryption", "LightningStorClient", "LightningStorError", "ListPage",
        "ObjectInfo",
        "ObjectAttributes", "ObjectStream", "Part", "PartsPage", "PutResult", "Scope", "Upload",
        "UploadPage",
        "VersionPage", "Quota", "QuotaInfo", "Usage", "UsageReport",
        # access decisions explained
        "AccessExplanation", "ExplainedRule",
        # operator calls
        "ConsistencyFinding", "ConsistencySummary", "GcRunResult", "GcStatus", "RepairStatus",
        "RewrapProgress", "StorageNodeStatus", "StorageStatus",
        # tenants (IamAdminService)
        "IamBinding", "IamGroup", "IamPrincipal", "IamRole",
    }  # fmt: skip
    for name in lightningstor_client.__all__:
        assert hasattr(lightningstor_client, name)


def test_the_blocking_client_has_every_call_of_the_async_one() -> None:
    def calls(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls, callable) if not n.startswith("_")}

    assert calls(AsyncLightningStorClient) == calls(LightningStorClient)


def test_an_unreachable_server_is_service_unavailable(tmp_path: Path) -> None:
    with LightningStorClient(f"unix:{tmp_path}/nobody-listens", timeout=5) as c:
        with pytest.raises(ServiceUnavailable):
            c.list_buckets()
        c.close()  # closing twice is harmless


# -- buckets -------------------------------------------------------------------------------


def test_buckets_round_trip(client: LightningStorClient) -> None:
    created = client.create_bucket("rt-bucket", tags={"team": "storage"})
    assert created.name == "rt-bucket"
    assert created.created_at.tzinfo is not None
    assert abs(created.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert client.head_bucket("rt-bucket") == created
    assert "rt-bucket" in [b.name for b in client.list_buckets(prefix="rt-")]
    with pytest.raises(BucketAlreadyOwnedByYou):
        client.create_bucket("rt-bucket")

    assert client.get_bucket_versioning("rt-bucket") is None
    client.put_bucket_versioning("rt-bucket", "Enabled")
    assert client.get_bucket_versioning("rt-bucket") == "Enabled"
    client.put_bucket_versioning("rt-bucket", "Suspended")
    assert client.head_bucket("rt-bucket").versioning == "Suspended"

    assert client.get_bucket_tagging("rt-bucket") == {"team": "storage"}
    client.put_bucket_tagging("rt-bucket", {"a": "1", "b": "2"})
    assert client.get_bucket_tagging("rt-bucket") == {"a": "1", "b": "2"}
    client.delete_bucket_tagging("rt-bucket")
    with pytest.raises(LightningStorError) as info:
        client.get_bucket_tagging("rt-bucket")
    assert info.value.code == "NoSuchTagSet"

    rule = lifecycle_pb2.LifecycleRule(id="r", enabled=True, expiration_days=3)
    rule.filter.prefix = "logs/"
    client.put_bucket_lifecycle("rt-bucket", [rule])
    assert client.get_bucket_lifecycle("rt-bucket") == [rule]
    with pytest.raises(InvalidArgument):
        client.put_bucket_lifecycle("rt-bucket", [lifecycle_pb2.LifecycleRule(
            id="zero", enabled=True, expiration_days=0
        )])  # fmt: skip
    # found by the fuzzer: midnight of 10000-01-01 was stored, then every S3 read of the rules
    # was a 500 (no year past 9999 can be written); it is refused and changes nothing
    year_10000 = lifecycle_pb2.LifecycleRule(id="far", enabled=True)
    year_10000.expiration_date.seconds = 253402300800
    with pytest.raises(InvalidArgument):
        client.put_bucket_lifecycle("rt-bucket", [year_10000])
    assert client.get_bucket_lifecycle("rt-bucket") == [rule]
    client.delete_bucket_lifecycle("rt-bucket")
    with pytest.raises(LightningStorError) as no_rules:
        client.get_bucket_lifecycle("rt-bucket")
    assert no_rules.value.code == "NoSuchLifecycleConfiguration"

    client.put_object("rt-bucket", "x", b"x")
    with pytest.raises(BucketNotEmpty):
        client.delete_bucket("rt-bucket")
    client.delete_object("rt-bucket", "x", version_id="null")
    client.delete_bucket("rt-bucket")
    with pytest.raises(NoSuchBucket):
        client.head_bucket("rt-bucket")


# -- objects -------------------------------------------------------------------------------


def test_put_get_head_delete_round_trip(client: LightningStorClient, new_bucket: str) -> None:
    data = os.urandom(3 * MiB + 17)
    put = client.put_object(
        new_bucket,
        "dir/obj.bin",
        data,
        content_type="application/x-test",
        cache_control="no-cache",
        metadata={"owner": "tests"},
        tags={"k": "v"},
    )
    assert put.etag == f'"{_md5(data)}"'
    assert put.size == len(data)

    info = client.head_object(new_bucket, "dir/obj.bin")
    assert (info.etag, info.size, info.content_type) == (put.etag, len(data), "application/x-test")
    assert info.cache_control == "no-cache"
    assert info.metadata == {"owner": "tests"}
    assert info.tag_count == 1
    assert info.last_modified.tzinfo is not None

    with client.get_object(new_bucket, "dir/obj.bin") as stream:
        assert stream.info.etag == put.etag
        assert stream.content_length == len(data)
        pieces = list(stream)
    assert all(len(p) <= MiB for p in pieces)
    assert b"".join(pieces) == data

    ranged = client.get_object(new_bucket, "dir/obj.bin", range=(10, 19))
    assert (ranged.content_range, ranged.read()) == ((10, 19), data[10:20])
    assert client.get_object(new_bucket, "dir/obj.bin", range=(-5, None)).read() == data[-5:]
    assert (
        client.get_object(new_bucket, "dir/obj.bin", range=(len(data) - 3, None)).read()
        == data[-3:]
    )

    with pytest.raises(NotModified):
        client.get_object(new_bucket, "dir/obj.bin", if_none_match=put.etag)
    with pytest.raises(PreconditionFailed):
        client.put_object(new_bucket, "dir/obj.bin", b"again", if_none_match="*")

    deleted = client.delete_object(new_bucket, "dir/obj.bin")
    assert deleted.key == "dir/obj.bin"
    with pytest.raises(NoSuchKey) as missing:
        client.head_object(new_bucket, "dir/obj.bin")
    assert missing.value.details.get("Key") in (None, "dir/obj.bin")


def test_checksums_and_time_conditions(client: LightningStorClient, new_bucket: str) -> None:
    data = b"checked" * 1000
    put = client.put_object(new_bucket, "sum", data, checksum_algorithm="SHA256")
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert put.checksums.sha256 == expected
    with client.get_object(new_bucket, "sum", checksum_mode=True) as stream:
        assert stream.info.checksums.sha256 == expected
    modified = client.head_object(new_bucket, "sum").last_modified
    with pytest.raises(NotModified):
        client.head_object(new_bucket, "sum", if_modified_since=modified + timedelta(hours=1))
    with pytest.raises(PreconditionFailed):
        client.get_object(new_bucket, "sum", if_unmodified_since=modified - timedelta(hours=1))
    with pytest.raises(PreconditionFailed):
        client.get_object(new_bucket, "sum", if_match='"0000"')


def test_bodies_of_every_kind(client: LightningStorClient, new_bucket: str, tmp_path: Path) -> None:
    path = tmp_path / "body"
    path.write_bytes(b"from a file" * 1000)
    with path.open("rb") as f:
        client.put_object(new_bucket, "file", f)
    assert client.get_object(new_bucket, "file").read() == path.read_bytes()

    pieces = [b"a" * (2 * MiB + 1), b"", b"b" * 10]
    client.put_object(new_bucket, "iterable", iter(pieces))
    assert client.get_object(new_bucket, "iterable").read() == b"".join(pieces)

    client.put_object(new_bucket, "empty", b"")
    assert client.head_object(new_bucket, "empty").size == 0
    assert client.get_object(new_bucket, "empty").read() == b""


async def test_the_async_client_streams_both_ways(
    aclient: AsyncLightningStorClient, new_bucket: str
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i]) * (MiB + 1)

    put = await aclient.put_object(new_bucket, "async", body())
    assert put.size == 5 * (MiB + 1)
    stream = await aclient.get_object(new_bucket, "async")
    got = [piece async for piece in stream]
    assert max(len(p) for p in got) <= MiB
    assert b"".join(got) == b"".join(bytes([i]) * (MiB + 1) for i in range(5))
    assert (await aclient.head_object(new_bucket, "async")).etag == put.etag
    assert [o.key async for o in aclient.iter_objects(new_bucket)] == ["async"]


def test_listing_pages_prefixes_and_iteration(client: LightningStorClient, new_bucket: str) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d", "e"]
    for key in keys:
        client.put_object(new_bucket, key, key.encode())

    first = client.list_objects(new_bucket, max_keys=3)
    assert [o.key for o in first.objects] == keys[:3]
    assert first.next_token is not None
    second = client.list_objects(new_bucket, max_keys=3, continuation_token=first.next_token)
    assert [o.key for o in second.objects] == keys[3:6]

    grouped = client.list_objects(new_bucket, delimiter="/")
    assert grouped.common_prefixes == ("a/", "b/")
    assert [o.key for o in grouped.objects] == ["c", "d", "e"]
    assert grouped.next_token is None
    nested = client.list_objects(new_bucket, prefix="a/", delimiter="/")
    assert ([o.key for o in nested.objects], nested.common_prefixes) == (["a/1", "a/2"], ("a/b/",))

    assert [o.key for o in client.iter_objects(new_bucket, page_size=2)] == keys
    assert [o.key for o in client.iter_objects(new_bucket, prefix="a/")] == keys[:3]


def test_versions(client: LightningStorClient, new_bucket: str) -> None:
    client.put_bucket_versioning(new_bucket, "Enabled")
    v1 = client.put_object(new_bucket, "doc", b"one")
    v2 = client.put_object(new_bucket, "doc", b"two")
    assert v1.version_id and v2.version_id and v1.version_id != v2.version_id
    page = client.list_object_versions(new_bucket)
    assert [(v.key, v.version_id, v.is_latest) for v in page.versions] == [
        ("doc", v2.version_id, True),
        ("doc", v1.version_id, False),
    ]
    assert page.next_key_marker is None
    assert client.get_object(new_bucket, "doc", version_id=v1.version_id).read() == b"one"
    marker = client.delete_object(new_bucket, "doc")
    assert marker.delete_marker
    with pytest.raises(NoSuchKey):
        client.head_object(new_bucket, "doc")
    assert client.head_object(new_bucket, "doc", version_id=v2.version_id).size == 3


def test_copy_tagging_and_batch_delete(client: LightningStorClient, new_bucket: str) -> None:
    client.put_object(new_bucket, "src", b"payload", content_type="text/plain", tags={"t": "1"})
    copied = client.copy_object(new_bucket, "dst", source_bucket=new_bucket, source_key="src")
    assert copied.etag == client.head_object(new_bucket, "src").etag
    dst = client.head_object(new_bucket, "dst")
    assert dst.content_type == "text/plain"
    assert client.get_object_tagging(new_bucket, "dst") == {"t": "1"}
    client.copy_object(
        new_bucket, "dst2", source_bucket=new_bucket, source_key="src",
        metadata={"m": "x"}, content_type="application/json", tags={},
    )  # fmt: skip
    dst2 = client.head_object(new_bucket, "dst2")
    assert (dst2.content_type, dst2.metadata, dst2.tag_count) == ("application/json", {"m": "x"}, 0)

    client.put_object_tagging(new_bucket, "src", {"x": "y", "z": "w"})
    assert client.get_object_tagging(new_bucket, "src") == {"x": "y", "z": "w"}
    client.delete_object_tagging(new_bucket, "src")
    assert client.get_object_tagging(new_bucket, "src") == {}

    result = client.delete_objects(new_bucket, ["src", ("dst", None), "dst2", "never-was"])
    assert sorted(d.key for d in result.deleted) == ["dst", "dst2", "never-was", "src"]
    assert result.errors == ()
    assert list(client.iter_objects(new_bucket)) == []


def test_multipart_round_trip(client: LightningStorClient, new_bucket: str) -> None:
    source = os.urandom(6 * MiB)
    client.put_object(new_bucket, "source", source)
    upload = client.create_multipart_upload(new_bucket, "joined", content_type="video/mp4")
    part1 = os.urandom(5 * MiB)
    p1 = client.upload_part(new_bucket, "joined", upload.upload_id, 1, part1)
    assert (p1.part_number, p1.size, p1.etag) == (1, len(part1), f'"{_md5(part1)}"')
    p2 = client.upload_part_copy(
        new_bucket, "joined", upload.upload_id, 2,
        source_bucket=new_bucket, source_key="source", source_range=(MiB, 6 * MiB - 1),
    )  # fmt: skip
    p3 = client.upload_part(new_bucket, "joined", upload.upload_id, 3, iter([b"tail"]))

    uploads = client.list_multipart_uploads(new_bucket)
    assert [(u.key, u.upload_id) for u in uploads.uploads] == [("joined", upload.upload_id)]
    listed = client.list_parts(new_bucket, "joined", upload.upload_id)
    assert [(p.part_number, p.etag) for p in listed.parts] == [
        (1, p1.etag),
        (2, p2.etag),
        (3, p3.etag),
    ]
    assert listed.parts[1].size == 5 * MiB

    done = client.complete_multipart_upload(
        new_bucket, "joined", upload.upload_id, [p1, p2, (3, p3.etag)]
    )
    assert done.etag.endswith('-3"')
    info = client.head_object(new_bucket, "joined")
    assert (info.size, info.parts_count, info.content_type) == (10 * MiB + 4, 3, "video/mp4")
    assert client.get_object(new_bucket, "joined").read() == part1 + source[MiB:] + b"tail"
    assert client.get_object(new_bucket, "joined", part_number=3).read() == b"tail"

    other = client.create_multipart_upload(new_bucket, "dropped")
    client.abort_multipart_upload(new_bucket, "dropped", other.upload_id)
    with pytest.raises(NoSuchUpload):
        client.list_parts(new_bucket, "dropped", other.upload_id)
    assert client.list_multipart_uploads(new_bucket).uploads == ()


def test_access_keys_round_trip(client: LightningStorClient) -> None:
    key = client.create_access_key(description="ci")
    assert key.secret_access_key
    assert "secret" not in repr(key)
    assert key.created_at.tzinfo is not None
    listed = {k.access_key_id: k for k in client.list_access_keys()}
    assert listed[key.access_key_id].description == "ci"
    assert listed[key.access_key_id].secret_access_key is None
    client.delete_access_key(key.access_key_id)
    assert key.access_key_id not in [k.access_key_id for k in client.list_access_keys()]
    with pytest.raises(LightningStorError) as info:
        client.delete_access_key(key.access_key_id)
    assert info.value.code == "NoSuchAccessKey"


# -- files ---------------------------------------------------------------------------------


def test_upload_file_below_the_threshold_is_one_put(
    client: LightningStorClient, new_bucket: str, tmp_path: Path
) -> None:
    path = tmp_path / "small.txt"
    path.write_bytes(b"0123456789" * 1000)
    seen: list[tuple[int, int]] = []
    result = client.upload_file(
        path, new_bucket, "small.txt", progress=lambda d, t: seen.append((d, t))
    )
    assert result.etag == f'"{_md5(path.read_bytes())}"'
    assert seen[-1] == (10000, 10000)
    out = tmp_path / "back.txt"
    client.download_file(new_bucket, "small.txt", out)
    assert out.read_bytes() == path.read_bytes()


def test_upload_and_download_a_large_file_in_parallel_parts(
    client: LightningStorClient, new_bucket: str, big_file: Path, tmp_path: Path
) -> None:
    size = big_file.stat().st_size
    up: list[int] = []
    result = client.upload_file(big_file, new_bucket, "big", progress=lambda d, t: up.append(d))
    assert result.etag.endswith('-6"')  # 40 MiB + 12345 bytes in 8 MiB parts
    assert result.size == size
    assert up[-1] == size
    assert up == sorted(up)
    assert not Path(f"{big_file}.lsupload").exists()

    out = tmp_path / "big.out"
    down: list[tuple[int, int]] = []
    info = client.download_file(new_bucket, "big", out, progress=lambda d, t: down.append((d, t)))
    assert info.size == size
    assert down[-1] == (size, size)
    assert _file_md5(out) == _file_md5(big_file)
    assert [p.name for p in tmp_path.iterdir()] == ["big.out"]  # no temporary file left


class CountingClient(AsyncLightningStorClient):
    """The real client, recording which parts it uploads."""

    def __init__(self, endpoint: str, **keys: str) -> None:
        super().__init__(endpoint, **keys)
        self.parts_sent: list[int] = []

    async def upload_part(self, *args: Any, **kwargs: Any) -> Part:
        self.parts_sent.append(args[3])  # (bucket, key, upload_id, part_number, data)
        return await super().upload_part(*args, **kwargs)


class CutShortError(Exception):
    """Raised by a progress callback to cut an upload short."""


async def test_an_interrupted_upload_resumes_with_only_the_missing_parts(
    module_server: ServerProcess, new_bucket: str, big_file: Path, tmp_path: Path
) -> None:
    def stop_after_20_mib(done: int, total: int) -> None:
        if done >= 20 * MiB:
            raise CutShortError

    first = CountingClient(module_server.grpc_addr, **module_server.admin_keys())
    with pytest.raises(CutShortError):
        await first.upload_file(
            big_file, new_bucket, "resumed", concurrency=1, progress=stop_after_20_mib
        )
    await first.close()
    assert first.parts_sent == [1, 2, 3]  # parts 1 and 2 finished, part 3 was cut off
    assert Path(f"{big_file}.lsupload").exists()
    second = CountingClient(module_server.grpc_addr, **module_server.admin_keys())
    [upload] = (await second.list_multipart_uploads(new_bucket)).uploads
    before = await second.list_parts(new_bucket, "resumed", upload.upload_id)
    assert [p.part_number for p in before.parts] == [1, 2]

    progress: list[int] = []
    result = await second.upload_file(
        big_file, new_bucket, "resumed", progress=lambda d, t: progress.append(d)
    )
    assert sorted(second.parts_sent) == [3, 4, 5, 6]
    assert progress[0] >= 16 * MiB  # the parts already there count as done
    assert progress[-1] == big_file.stat().st_size
    assert result.etag.endswith('-6"')
    assert not Path(f"{big_file}.lsupload").exists()
    assert (await second.list_multipart_uploads(new_bucket)).uploads == ()

    out = tmp_path / "resumed.out"
    await second.download_file(new_bucket, "resumed", out, concurrency=3)
    assert _file_md5(out) == _file_md5(big_file)
    await second.close()


# -- the CLI ---------------------------------------------------------------------------------


def test_the_progress_bar_ends_its_line() -> None:
    out = io.StringIO()
    bar = ProgressBar("put big", out)
    bar(0, 4 * MiB)
    bar(4 * MiB, 4 * MiB)
    last = out.getvalue().rsplit("\r", 1)[-1]
    assert last.startswith("put big [" + "#" * 30 + "]")
    assert last.endswith("\n")


def test_the_cli(module_server: ServerProcess, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("lightningstor")
    keys = module_server.admin_keys()

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(script), *args], capture_output=True, text=True, timeout=60,
            env=clean_env({"LIGHTNINGSTOR_ENDPOINT": module_server.grpc_addr,
                           "LIGHTNINGSTOR_ACCESS_KEY_ID": keys["access_key"],
                           "LIGHTNINGSTOR_SECRET_ACCESS_KEY": keys["secret_key"]}),
        )  # fmt: skip
        assert (done.returncode == 0) == ok, done.stderr
        return done

    src = tmp_path / "hello.txt"
    src.write_text("hello, cli\n")
    run("mb", "cli-bucket")
    run("put", str(src), "cli-bucket/docs/hello.txt")
    assert "cli-bucket" in run("ls").stdout
    assert "PRE docs/" in run("ls", "cli-bucket").stdout
    assert "docs/hello.txt" in run("ls", "cli-bucket/docs/").stdout
    assert '"size": 11' in run("head", "cli-bucket/docs/hello.txt").stdout
    run("get", "cli-bucket/docs/hello.txt", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_text() == "hello, cli\n"
    assert run("get", "cli-bucket/docs/hello.txt", "-").stdout == "hello, cli\n"
    run("rm", "cli-bucket/docs/hello.txt")
    failed = run("get", "cli-bucket/docs/hello.txt", "-", ok=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: NoSuchKey: ")
    assert "Traceback" not in failed.stderr
    run("rb", "cli-bucket")
    assert run("rb", "cli-bucket", ok=False).stderr.startswith("error: NoSuchBucket: ")
