"""Current copies against versions, on a real server over a real etcd: concurrent PutObject and
DeleteObject(VersionId) from boto3 threads leave no phantom, and ``lightningstor admin check``
finds (and ``--repair`` rewrites) current copies that a test writes wrong through the store API.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lightningstor.meta.v1 import records_pb2
from lightningstor_api.core.keys import KeySchema
from lightningstor_api.metadata import open_store
from lightningstor_types.config import Settings
from lightningstor_types.scope import Scope
from tests.admin.cli import Run, run_cli
from tests.admin.conftest import CONFIG
from tests.fixtures.etcd import EtcdCluster, running_etcd
from tests.integration.server import ServerProcess, running_server
from tests.s3.conftest import make_client

pytestmark = pytest.mark.timeout(180)

THREADS = 4
ITERATIONS = 30
KEYS = KeySchema()


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    with running_etcd(tmp_path_factory.mktemp("etcd")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, etcd: EtcdCluster) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("copies")
    config = workdir / "server.toml"
    endpoints = ", ".join(f'"{e}"' for e in etcd.endpoints)
    config.write_text(f'[metadata]\nbackend = "etcd"\nendpoints = [{endpoints}]\n' + CONFIG)
    with running_server(workdir, env={"LIGHTNINGSTOR_CONFIG": str(config)}) as proc:
        yield proc


@pytest.fixture(scope="module")
def s3(server: ServerProcess) -> Any:
    keys = server.admin_keys()
    return make_client("http://" + server.ports["s3"], keys["access_key"], keys["secret_key"])


def versioned_bucket(s3: Any, name: str) -> str:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def test_threads_putting_and_deleting_versions_leave_no_phantom(s3: Any) -> None:
    """The report's reproduction: each thread puts the key, then all delete their own version
    by id at once; after each round the key must be gone from every listing."""
    bucket = versioned_bucket(s3, "races")
    barrier = threading.Barrier(THREADS, timeout=60)
    errors: list[BaseException] = []
    phantoms: list[int] = []

    def worker(n: int) -> None:
        try:
            for i in range(ITERATIONS):
                put = s3.put_object(Bucket=bucket, Key="k", Body=b"%d-%d" % (n, i) * 1000)
                barrier.wait()
                s3.delete_object(Bucket=bucket, Key="k", VersionId=put["VersionId"])
                barrier.wait()
                if n == 0 and s3.list_objects_v2(Bucket=bucket)["KeyCount"]:
                    phantoms.append(i)
                barrier.wait()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert phantoms == [], f"listed without a version after rounds {phantoms}"
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="k")
    assert exc.value.response["Error"]["Code"] == "404"
    s3.delete_bucket(Bucket=bucket)


def check(monkeypatch: pytest.MonkeyPatch, server: ServerProcess, *args: str) -> Run:
    return run_cli(monkeypatch, server, server.admin_keys(), "admin", "check", "--json", *args)


def current_copy_findings(run: Run) -> dict[str, str]:
    return {
        line["finding"]["object_path"]: line["finding"]["detail"]
        for line in run.json_lines()
        if "finding" in line and line["finding"]["kind"] == "current_copy"
    }


def summary(run: Run) -> dict[str, Any]:
    (last,) = [line["summary"] for line in run.json_lines() if "summary" in line]
    return dict(last)


class Damage:
    """Writes wrong current copies through the metadata store API, as a lost race would."""

    def __init__(self, etcd: EtcdCluster, scope: Scope, bucket: str) -> None:
        self.settings = Settings(metadata={"backend": "etcd", "endpoints": etcd.endpoints})
        self.scope = scope
        self.bucket = bucket

    def run(self, *steps: tuple[str, str, str]) -> None:
        asyncio.run(self._run(steps))

    async def _run(self, steps: tuple[tuple[str, str, str], ...]) -> None:
        store = await open_store(self.settings)
        try:
            for action, key, arg in steps:
                obj = KEYS.object(self.scope, self.bucket, key)
                prefix = KEYS.key_versions_prefix(self.scope, self.bucket, key)
                versions = (await store.range(prefix)).kvs
                if action == "drop_versions":  # the phantom: versions and data gone, copy kept
                    for kv in versions:
                        rec = records_pb2.ObjectRecord.FromString(kv.value)
                        await store.delete(kv.key)
                        await store.delete(KEYS.data(rec.data_id))
                elif action == "drop_copy":
                    await store.delete(obj)
                elif action == "copy_of":  # the current copy := version number ``arg``
                    await store.put(obj, versions[int(arg)].value)
        finally:
            await store.close()

    def state(self) -> dict[bytes, bytes]:
        async def read() -> dict[bytes, bytes]:
            store = await open_store(self.settings)
            try:
                page = await store.range(KEYS.root)
                return {
                    kv.key: kv.value
                    for kv in page.kvs
                    if kv.key.startswith((KEYS.all_objects_prefix(), KEYS.all_versions_prefix()))
                }
            finally:
                await store.close()

        return asyncio.run(read())


def test_check_finds_and_repairs_current_copies(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, etcd: EtcdCluster, s3: Any
) -> None:
    bucket = versioned_bucket(s3, "copies")
    small = b"s" * 100  # inline: the data record is the content
    for key in ("phantom", "hidden", "undead"):
        s3.put_object(Bucket=bucket, Key=key, Body=small)
    s3.put_object(Bucket=bucket, Key="stale", Body=b"old")
    s3.put_object(Bucket=bucket, Key="stale", Body=b"new")
    s3.delete_object(Bucket=bucket, Key="undead")  # a delete marker over it
    s3.put_object(Bucket=bucket, Key="fine", Body=small)
    assert check(monkeypatch, server).code == 0

    damage = Damage(etcd, Scope("default", None), bucket)
    damage.run(
        ("drop_versions", "phantom", ""),
        ("drop_copy", "hidden", ""),
        ("copy_of", "undead", "1"),  # the version under the marker
        ("copy_of", "stale", "1"),  # the older version
    )
    # what the report saw: listed, HEAD 200, but no version
    assert s3.head_object(Bucket=bucket, Key="phantom")["ContentLength"] == 100
    assert "Versions" not in s3.list_object_versions(Bucket=bucket, Prefix="phantom")
    before = damage.state()

    dry = check(monkeypatch, server)
    assert dry.code == 1, dry.out + dry.err
    path = f"default/_/{bucket}/"
    found = current_copy_findings(dry)
    assert set(found) == {path + k for k in ("phantom", "hidden", "undead", "stale")}
    assert found[path + "phantom"] == "a current copy but no version"
    assert found[path + "hidden"].startswith("no current copy of newest version")
    assert found[path + "undead"].startswith("a current copy under delete marker")
    assert found[path + "stale"].startswith("the current copy differs from newest version")
    s = summary(dry)
    assert (s["current_copy_mismatches"], s["remaining"], s["consistent"]) == (4, 4, False)
    assert s["object_keys"] == 5
    assert damage.state() == before  # a dry run changes nothing

    human = run_cli(monkeypatch, server, server.admin_keys(), "admin", "check")
    assert human.code == 1 and f"CURRENT_COPY      {path}phantom" in human.out

    repaired = check(monkeypatch, server, "--repair")
    assert repaired.code == 0, repaired.out + repaired.err
    s = summary(repaired)
    assert (s["current_copy_mismatches"], s["current_copies_repaired"], s["remaining"]) == (4, 4, 0)
    again = check(monkeypatch, server)
    assert again.code == 0 and summary(again)["consistent"], again.out

    for key in ("phantom", "undead"):
        with pytest.raises(ClientError) as exc:
            s3.head_object(Bucket=bucket, Key=key)
        assert exc.value.response["Error"]["Code"] == "404"
    assert s3.get_object(Bucket=bucket, Key="hidden")["Body"].read() == small
    assert s3.get_object(Bucket=bucket, Key="stale")["Body"].read() == b"new"
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["fine", "hidden", "stale"]
    for v in s3.list_object_versions(Bucket=bucket).get("Versions", []) + s3.list_object_versions(
        Bucket=bucket
    ).get("DeleteMarkers", []):
        s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=bucket)  # nothing is left behind
