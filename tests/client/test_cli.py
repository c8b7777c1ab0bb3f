"""The ``lightningstor`` command against a real server: start cost, paths, the transfer verbs,
listing verbs, presign, and how it ends (a closed pipe, Ctrl-C)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from lightningstor_client import LightningStorClient, Quota
from lightningstor_client.cli.progress import Tally
from lightningstor_types.errors import NoSuchKey, NoSuchUpload
from tests.integration.server import ServerProcess, clean_env
from tests.wait import wait_until

MiB = 1024 * 1024
CLI = str(Path(sys.executable).with_name("lightningstor"))
ADMIN_ORG = "default"  # the org of the first-start admin key

Run = Callable[..., subprocess.CompletedProcess[str]]


def _env(server: ServerProcess) -> dict[str, str]:
    keys = server.admin_keys()
    return clean_env({
        "LIGHTNINGSTOR_ENDPOINT": server.grpc_addr,
        "LIGHTNINGSTOR_ACCESS_KEY_ID": keys["access_key"],
        "LIGHTNINGSTOR_SECRET_ACCESS_KEY": keys["secret_key"],
        "LIGHTNINGSTOR_S3_ENDPOINT": f"http://{server.ports['s3']}",
    })  # fmt: skip


@pytest.fixture
def run(module_server: ServerProcess) -> Run:
    env = _env(module_server)

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env=env)
        assert (done.returncode == 0) == ok, done.stderr
        assert "Traceback" not in done.stderr
        return done

    return run


def _tree(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in files}


def test_the_cli_starts_without_grpc_protobuf_or_the_configuration_model() -> None:
    probe = (
        "import sys\n"
        "from lightningstor_client.cli import build_parser\n"
        "build_parser().parse_args(['ls'])\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = set(subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60,
        env=clean_env(),
    ).stdout.split())  # fmt: skip
    heavy = {"grpc", "google.protobuf", "pydantic", "pydantic_settings"}
    heavy.add("lightningstor_types.config")
    assert "lightningstor_client.cli" in loaded
    assert not heavy & loaded


def test_object_paths_take_the_s3_form_a_bucket_prefix_and_a_directory(
    run: Run, new_bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("remember the milk\n")
    run("put", str(src), f"s3://{new_bucket}/")
    run("put", str(src), f"{new_bucket}/docs/")
    listing = run("ls", "-r", f"s3://{new_bucket}").stdout
    assert " notes.txt" in listing
    assert " docs/notes.txt" in listing
    out = tmp_path / "out"
    run("get", f"s3://{new_bucket}/docs/notes.txt", f"{out}/")
    assert (out / "notes.txt").read_text() == "remember the milk\n"
    # An existing directory named without a slash is a directory too: never "Is a directory".
    (out / "again").mkdir()
    run("get", f"{new_bucket}/notes.txt", str(out / "again"))
    assert (out / "again" / "notes.txt").read_text() == "remember the milk\n"


def test_head_and_stat_print_iso_8601_times(run: Run, new_bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("a")
    run("put", str(src), f"{new_bucket}/a.txt")
    head = json.loads(run("head", f"s3://{new_bucket}/a.txt").stdout)
    when = datetime.fromisoformat(head["last_modified"])
    assert head["last_modified"] == when.isoformat()
    assert when.utcoffset() is not None
    stat = dict(
        line.split(":", 1) for line in run("stat", f"{new_bucket}/a.txt").stdout.splitlines()
    )
    assert stat["Size"].strip() == "1"
    assert datetime.fromisoformat(stat["Last modified"].strip()) == when


def test_recursive_cp_both_ways_and_sync_sends_only_what_changed(
    run: Run, client: LightningStorClient, new_bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "album"
    (src / "2024" / "summer").mkdir(parents=True)
    (src / "a.jpg").write_bytes(os.urandom(1000))
    (src / "2024" / "b.jpg").write_bytes(os.urandom(2000))
    (src / "2024" / "summer" / "c.jpg").write_bytes(os.urandom(3000))
    (src / "big.bin.lsupload").write_text("{}")  # the client's own resume record: not data
    run("cp", "-r", str(src), f"s3://{new_bucket}/photos")
    keys = sorted(i.key for i in client.iter_objects(new_bucket))
    assert keys == ["photos/2024/b.jpg", "photos/2024/summer/c.jpg", "photos/a.jpg"]

    back = tmp_path / "back"
    run("cp", "-r", f"s3://{new_bucket}/photos", str(back))
    expected = _tree(src)
    del expected["big.bin.lsupload"]
    assert _tree(back) == expected

    assert "nothing to do" in run("sync", str(src), f"s3://{new_bucket}/photos").stdout
    (src / "2024" / "b.jpg").write_bytes(os.urandom(2500))
    (src / "new.jpg").write_bytes(b"new")
    synced = run("sync", str(src), f"s3://{new_bucket}/photos").stdout
    assert sorted(line.split()[1] for line in synced.splitlines()) == [
        str(src / "2024" / "b.jpg"), str(src / "new.jpg"),
    ]  # fmt: skip
    down = run("sync", f"s3://{new_bucket}/photos", str(back)).stdout
    assert sorted(line.split()[1] for line in down.splitlines()) == [
        f"s3://{new_bucket}/photos/2024/b.jpg", f"s3://{new_bucket}/photos/new.jpg",
    ]  # fmt: skip
    assert _tree(back) == {k: v for k, v in _tree(src).items() if not k.endswith(".lsupload")}


def test_mv_copies_then_deletes_and_rm_r_empties_a_prefix(
    run: Run, client: LightningStorClient, new_bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "moving.txt"
    src.write_text("moving")
    run("mv", str(src), f"s3://{new_bucket}/in/")
    assert not src.exists()
    run("mv", f"s3://{new_bucket}/in/moving.txt", f"s3://{new_bucket}/out/moved.txt")
    with pytest.raises(NoSuchKey):
        client.head_object(new_bucket, "in/moving.txt")
    with client.get_object(new_bucket, "out/moved.txt") as stream:
        assert stream.read() == b"moving"
    client.put_object(new_bucket, "out/other.txt", b"x")
    client.put_object(new_bucket, "outside.txt", b"y")
    run("rm", "-r", f"s3://{new_bucket}/out")
    assert [i.key for i in client.iter_objects(new_bucket)] == ["outside.txt"]


def test_versions_and_unfinished_uploads(
    run: Run, client: LightningStorClient, new_bucket: str
) -> None:
    client.put_bucket_versioning(new_bucket, "Enabled")
    first = client.put_object(new_bucket, "doc", b"one")
    second = client.put_object(new_bucket, "doc", b"two!")
    lines = run("versions", f"s3://{new_bucket}").stdout.splitlines()
    assert len(lines) == 2
    assert second.version_id in lines[0] and "latest" in lines[0]
    assert first.version_id in lines[1] and "latest" not in lines[1]

    upload = client.create_multipart_upload(new_bucket, "half")
    listed = run("uploads", "ls", new_bucket).stdout
    assert f"{upload.upload_id} half" in listed
    run("uploads", "abort", f"s3://{new_bucket}/half", upload.upload_id)
    assert run("uploads", "ls", new_bucket).stdout == ""
    with pytest.raises(NoSuchUpload):
        client.list_parts(new_bucket, "half", upload.upload_id)


def test_presign_gives_a_url_that_reads_the_object(
    run: Run, client: LightningStorClient, new_bucket: str
) -> None:
    client.put_object(new_bucket, "shared/report.txt", b"quarterly")
    url = run("presign", f"s3://{new_bucket}/shared/report.txt", "--expires", "600").stdout.strip()
    assert "X-Amz-Expires=600" in url
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.read() == b"quarterly"
    assert run("presign", f"{new_bucket}/k", "--expires", "0", ok=False).returncode == 2


def test_a_reader_that_stops_early_is_no_error(
    module_server: ServerProcess, client: LightningStorClient, new_bucket: str
) -> None:
    client.put_object(new_bucket, "long", os.urandom(4 * MiB))
    proc = subprocess.Popen(
        [CLI, "get", f"{new_bucket}/long", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(module_server),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(10)) == 10
    proc.stdout.close()  # `| head -c 10`
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 128 + signal.SIGPIPE
    assert err == ""


@contextlib.contextmanager
def _throttled(client: LightningStorClient, **rates: int) -> Iterator[None]:
    """The admin's org paced to ``rates`` (bytes a second) for the block: a real server limit,
    so that an interrupt lands mid-transfer however fast the machine is."""
    client.set_quota(Quota(**rates), org=ADMIN_ORG)
    try:
        yield
    finally:
        client.delete_quota(org=ADMIN_ORG)


def _big_file(path: Path, mib: int) -> Path:
    block = os.urandom(MiB)
    with path.open("wb") as f:
        for i in range(mib):
            f.write(block[i:] + block[:i])
    return path


def test_ctrl_c_during_an_upload_says_how_to_resume_and_resuming_works(
    module_server: ServerProcess, client: LightningStorClient, new_bucket: str, tmp_path: Path
) -> None:
    big = _big_file(tmp_path / "big.bin", 24)  # three 8 MiB parts, about 3 s at 8 MiB/s
    state = tmp_path / "big.bin.lsupload"
    with _throttled(client, bytes_in_per_second=8 * MiB):
        proc = subprocess.Popen(
            [CLI, "put", str(big), f"s3://{new_bucket}/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(module_server),
        )  # fmt: skip
        # The record is written once the upload exists, before any part is sent.
        wait_until(lambda: state.exists() or proc.poll() is not None, message="the record")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "run the same command again to resume" in err
        assert "Traceback" not in err
        assert state.exists()

    done = subprocess.run(
        [CLI, "put", str(big), f"s3://{new_bucket}/"],
        capture_output=True, text=True, timeout=120, env=_env(module_server),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not state.exists()
    digest = hashlib.md5()
    with client.get_object(new_bucket, "big.bin") as stream:
        for piece in stream:
            digest.update(piece)
    assert digest.hexdigest() == hashlib.md5(big.read_bytes()).hexdigest()


def test_ctrl_c_during_a_download_leaves_no_partial_file(
    module_server: ServerProcess, client: LightningStorClient, new_bucket: str, tmp_path: Path
) -> None:
    client.upload_file(_big_file(tmp_path / "big.bin", 24), new_bucket, "big.bin")
    out = tmp_path / "out"
    out.mkdir()
    with _throttled(client, bytes_out_per_second=8 * MiB):
        proc = subprocess.Popen(
            [CLI, "get", f"s3://{new_bucket}/big.bin", str(out / "copy.bin")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(module_server),
        )  # fmt: skip
        # The temporary file exists from the first byte to the last: interrupt in between.
        wait_until(lambda: any(out.iterdir()) or proc.poll() is not None, message="the download")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again" in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []


def test_a_recursive_transfer_draws_one_bar_for_all_its_files() -> None:
    out = io.StringIO()
    tally = Tally("cp", 3 * MiB, out=out)
    for size in (MiB, 2 * MiB):
        report = tally.for_file()
        assert report is not None
        report(size // 2, size)
        report(size, size)
        tally.file_done(size)
    frames = out.getvalue().split("\r")[1:]
    assert all(frame.startswith("cp [") for frame in frames)
    assert out.getvalue().count("\n") == 1  # one line, ended once, when all bytes are done
    assert "3.0/3.0 MiB" in frames[-1]
