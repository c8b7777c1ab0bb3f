"""Per-tenant rate limits through a real server: boto3 and the gRPC client, TOML defaults and
overrides through the quota API, request and bandwidth limits.

Tenants: pat (project ``tp/p``, limited by the TOML default ``[quotas.project]``), and alice,
bob, carol, dave and erin (orgs of their own, unlimited until a test stores a quota).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from botocore.exceptions import ClientError

from lightningstor_client import AsyncLightningStorClient, LightningStorClient, Quota
from lightningstor_types.errors import InvalidArgument, SlowDown
from lightningstor_types.scope import Scope
from tests.integration.server import ServerProcess, running_server
from tests.integration.test_usage_server import run_cli
from tests.s3 import rawhttp
from tests.s3.conftest import make_client
from tests.wait import wait_for_value

pytestmark = pytest.mark.timeout(120)

DEADLINE = 30.0
CONFIG = """
[quotas.project]
requests_per_second = 1

[usage]
flush_interval_seconds = 0.2
fold_interval_seconds = 0.3

[[iam.bindings]]
principal = "pat"
role = "editor"
org = "tp"
project = "p"
"""
TENANTS = {
    "pat": Scope("tp", "p"),
    "alice": Scope("ta"),
    "bob": Scope("tb"),
    "carol": Scope("tc"),
    "dave": Scope("td"),
    "erin": Scope("te"),
    "rita": Scope("tr"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("ratelimit")
    bindings = "".join(
        f'[[iam.bindings]]\nprincipal = "{name}"\nrole = "editor"\norg = "{scope.org_id}"\n'
        for name, scope in TENANTS.items()
        if scope.project_id is None
    )
    config = root / "server.toml"
    config.write_text(CONFIG + bindings)
    with running_server(root / "srv", env={"LIGHTNINGSTOR_CONFIG": str(config)}) as proc:
        yield proc


@pytest.fixture(scope="module")
def keys(server: ServerProcess) -> dict[str, dict[str, str]]:
    """An access key per tenant, and one bucket each (made by the admin, in the tenant's
    scope, so that no tenant spends its own requests on it)."""
    made: dict[str, dict[str, str]] = {}
    for name, scope in TENANTS.items():
        with LightningStorClient(server.grpc_addr, scope=scope, **server.admin_keys()) as admin:
            key = admin.create_access_key(principal_id=name, scope=scope)
            admin.create_bucket(f"bkt-{name}")
        made[name] = {"access_key": key.access_key_id, "secret_key": key.secret_access_key}
    return made


def s3_of(server: ServerProcess, key: dict[str, str]) -> Any:
    # No retry at all: a held refusal would let botocore's retry find the next token.
    return make_client(
        "http://" + server.ports["s3"],
        key["access_key"],
        key["secret_key"],
        retries={"total_max_attempts": 1},
    )


def admin(server: ServerProcess) -> LightningStorClient:
    return LightningStorClient(server.grpc_addr, **server.admin_keys())


def until_refused(call: Callable[[], object], refused: type[BaseException]) -> BaseException:
    """Call ``call`` until it raises ``refused`` (a generous deadline guards against a hang)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            call()
        except refused as exc:
            return exc
    raise AssertionError(f"never refused with {refused.__name__}")


def test_toml_default_limits_a_project_over_s3_and_not_another_tenant(
    server: ServerProcess, keys: dict[str, dict[str, str]]
) -> None:
    pat, bob = s3_of(server, keys["pat"]), s3_of(server, keys["bob"])
    err = until_refused(lambda: pat.head_bucket(Bucket="bkt-pat"), ClientError)
    assert isinstance(err, ClientError)
    meta = err.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 503
    assert int(meta["HTTPHeaders"]["retry-after"]) >= 1
    # A HEAD's answer has no body: the code shows in a GET's error document.
    listed = until_refused(lambda: pat.list_objects_v2(Bucket="bkt-pat"), ClientError)
    assert isinstance(listed, ClientError)
    assert listed.response["Error"]["Code"] == "SlowDown"
    # Another tenant, same server, same moment: never refused (no limit of its own).
    for _ in range(20):
        bob.head_bucket(Bucket="bkt-bob")
    # Counted: in the project's usage and on the metrics page.
    with admin(server) as client:
        usage = wait_for_value(
            lambda: client.get_usage(org="tp", project="p").total, lambda u: u.throttled >= 2
        )
        assert usage.throttled >= 2
        assert client.get_usage(org="tb").total.throttled == 0
    with urllib.request.urlopen(f"http://{server.ports['s3']}/metrics", timeout=30) as page:
        text = page.read().decode()
    assert 'lightningstor_throttled_total{api="s3",limit="requests"}' in text


def test_a_stored_quota_replaces_the_default_and_limits_over_grpc(
    server: ServerProcess, keys: dict[str, dict[str, str]]
) -> None:
    with (
        LightningStorClient(server.grpc_addr, **keys["alice"]) as alice,
        LightningStorClient(server.grpc_addr, **keys["pat"]) as pat,
        admin(server) as client,
    ):
        for _ in range(20):  # no default for orgs: unlimited
            alice.head_bucket("bkt-alice")
        client.set_quota(Quota(requests_per_second=1), org="ta")
        err = until_refused(lambda: alice.head_bucket("bkt-alice"), SlowDown)
        cause = err.__cause__
        assert isinstance(cause, grpc.aio.AioRpcError)
        assert cause.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        trailers = dict(cause.trailing_metadata() or ())
        assert int(trailers["x-lightningstor-error-retry-after"]) >= 1
        # A stored quota without rates lifts the project's TOML default.
        client.set_quota(Quota(max_buckets=10), org="tp", project="p")
        for _ in range(20):
            pat.head_bucket("bkt-pat")
        client.delete_quota(org="ta")
        for _ in range(20):
            alice.head_bucket("bkt-alice")
        client.delete_quota(org="tp", project="p")
        until_refused(lambda: pat.head_bucket("bkt-pat"), SlowDown)


def test_a_refusal_is_answered_only_once_a_token_is_due(
    server: ServerProcess, keys: dict[str, dict[str, str]]
) -> None:
    """A refused request waits out (up to) its Retry-After before its answer, so a client that
    retries at once, without backing off, finds the token there instead of another refusal:
    it cannot turn its connection into a stream of refusals (each one a signature check)."""
    with (
        LightningStorClient(server.grpc_addr, **keys["rita"]) as rita,
        admin(server) as client,
    ):
        rita.head_bucket("bkt-rita")  # connected, before the limit
        client.set_quota(Quota(requests_per_second=1), org="tr")
        until_refused(lambda: rita.head_bucket("bkt-rita"), SlowDown)
        # Answered at once, the refusal would leave the bucket empty for this retry (1/s).
        rita.head_bucket("bkt-rita")
        client.delete_quota(org="tr")


def test_cli_sets_the_rates(server: ServerProcess) -> None:
    out = run_cli(
        server, "admin", "quota", "set", "--org", "cli-org", "--requests-per-second", "7",
        "--bytes-in-per-second", "1MiB", "--bytes-out-per-second", "2MiB",
    )  # fmt: skip
    assert json.loads(out)["requests_per_second"] == 7
    with admin(server) as client:
        info = client.get_quota(org="cli-org")
    assert info.quota == Quota(
        requests_per_second=7, bytes_in_per_second=2**20, bytes_out_per_second=2 * 2**20
    )


def test_rates_on_a_bucket_are_invalid(server: ServerProcess) -> None:
    with admin(server) as client:
        with pytest.raises(InvalidArgument):
            client.set_quota(Quota(requests_per_second=5), org="default", bucket="any-bucket")
        assert client.get_quota(org="default", bucket="any-bucket").quota is None


def test_bytes_out_limit_paces_a_get_and_refuses_more_while_over(
    server: ServerProcess, keys: dict[str, dict[str, str]]
) -> None:
    body = bytes(range(256)) * 1024  # 256 KiB: one piece, four seconds' worth at 64 KiB/s
    with admin(server) as client:
        for name in ("carol", "bob"):
            with LightningStorClient(
                server.grpc_addr, scope=TENANTS[name], **server.admin_keys()
            ) as scoped:
                scoped.put_object(f"bkt-{name}", "big", body)
        client.set_quota(Quota(bytes_out_per_second=64 * 1024), org="tc")
    carol, bob = s3_of(server, keys["carol"]), s3_of(server, keys["bob"])
    first = carol.get_object(Bucket="bkt-carol", Key="big")  # the head: its body is paced
    opened = [first]

    def another_get() -> None:
        opened.append(carol.get_object(Bucket="bkt-carol", Key="big"))

    err = until_refused(another_get, ClientError)
    assert isinstance(err, ClientError)
    assert err.response["Error"]["Code"] == "SlowDown"
    assert err.response["Error"]["Limit"] == "bytes_out_per_second"
    assert int(err.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1
    carol.head_object(Bucket="bkt-carol", Key="big")  # no body: not refused by bytes out
    assert bob.get_object(Bucket="bkt-bob", Key="big")["Body"].read() == body
    assert first["Body"].read() == body  # paced, whole
    for extra in opened[1:]:
        extra["Body"].close()


def test_bytes_in_limit_refuses_a_put_while_another_is_paced_over_grpc(
    server: ServerProcess, keys: dict[str, dict[str, str]]
) -> None:
    body = b"d" * (256 * 1024)  # one message: four seconds' worth at 64 KiB/s
    with admin(server) as client:
        client.set_quota(Quota(bytes_in_per_second=64 * 1024), org="td")

    async def scenario() -> SlowDown:
        async with AsyncLightningStorClient(server.grpc_addr, **keys["dave"]) as dave:
            big = asyncio.create_task(dave.put_object("bkt-dave", "big", body))
            # Small PUTs, each its own call: one admitted before the big body arrived waits
            # behind it, so a new one starts while the others are still waiting.
            probes: set[asyncio.Task[object]] = set()
            refused: SlowDown | None = None
            deadline = time.monotonic() + DEADLINE
            while refused is None and time.monotonic() < deadline:
                probes.add(asyncio.create_task(dave.put_object("bkt-dave", "small", b"s")))
                done, probes = await asyncio.wait(probes, timeout=0.1)
                for task in done:
                    exc = task.exception()
                    if isinstance(exc, SlowDown):
                        refused = exc
            await asyncio.gather(big, *probes, return_exceptions=True)
            assert big.exception() is None, big.exception()
            assert refused is not None, "never refused"
            async with await dave.get_object("bkt-dave", "big") as stream:
                assert await stream.read() == body
            return refused

    err = asyncio.run(scenario())
    assert err.details["Limit"] == "bytes_in_per_second"
    assert int(err.details["RetryAfter"]) >= 1


def test_anonymous_readers_of_a_public_bucket_are_the_owners_tenant(
    server: ServerProcess, keys: dict[str, dict[str, str]]
) -> None:
    """Anonymous callers are limited by, and counted in, the bucket owner's org (its quota,
    its usage): otherwise a public bucket would be an unmetered, unlimited endpoint."""
    body = b"p" * 5000
    s3_of(server, keys["erin"]).put_object(
        Bucket="bkt-erin", Key="pub", Body=body, ACL="public-read"
    )
    address = server.ports["s3"]

    def anonymous_get() -> rawhttp.Response:
        return rawhttp.request(address, "GET", "/te%3Abkt-erin/pub", {"Host": address})

    with admin(server) as client:
        start = client.get_usage(org="te").total
        reads = 5
        for _ in range(reads):  # no quota yet: never refused
            got = anonymous_get()
            assert (got.status, got.body) == (200, body)
        client.set_quota(Quota(requests_per_second=1), org="te")
        try:
            deadline = time.monotonic() + DEADLINE
            refused = anonymous_get()
            while refused.status == 200 and time.monotonic() < deadline:
                reads += 1
                refused = anonymous_get()
            assert (refused.status, refused.code) == (503, "SlowDown")
            assert int(refused.headers["retry-after"]) >= 1
            # Every anonymous read is in the owner's usage: requests, bytes out, the refusal.
            usage = wait_for_value(
                lambda: client.get_usage(org="te").total,
                lambda u: (
                    u.requests >= start.requests + reads + 1
                    and u.bytes_out >= start.bytes_out + reads * len(body)
                    and u.throttled >= start.throttled + 1
                ),
            )
            assert usage.requests >= start.requests + reads + 1
            assert usage.bytes_out >= start.bytes_out + reads * len(body)
            assert usage.throttled >= start.throttled + 1
        finally:
            client.delete_quota(org="te")
