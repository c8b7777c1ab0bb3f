"""The IAM client against a real ``lightningstor-iam`` process: cache, coalescing, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from lightningstor.iam.v1 import iam_pb2, iam_pb2_grpc
from lightningstor_api.iam import IamClientAuthorizer
from lightningstor_types.actions import Action
from lightningstor_types.config import IamSettings
from lightningstor_types.errors import AccessDenied, IamUnavailable
from lightningstor_types.scope import Principal
from lightningstor_types.service import RequestContext
from tests.iam.iamproc import IamProcess, running_iam, start_iam, write_config
from tests.ports import PortHold
from tests.wait import alet_time_pass, await_until

CONFIG = """
[iam]
decision_cache_ttl_seconds = 60
[[iam.bindings]]
principal = "alice"
role = "editor"
org = "acme"
"""
ALICE = RequestContext(Principal("alice", "acme"), request_id="r1")
MALLORY = RequestContext(Principal("mallory", "evil"), request_id="r2")
READ = Action.OBJECTS_GET
OBJ = "org/acme/bucket/photos/object/a.jpg"


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "service-token"
    path.write_text("s3cr3t-service-token\n")
    return path


@pytest.fixture
def iam(tmp_path: Path, token_file: Path) -> Iterator[IamProcess]:
    config = write_config(tmp_path / "iam.toml", CONFIG)
    with running_iam(tmp_path / "iam", config, service_token_file=token_file) as proc:
        yield proc


def client(addr: str, token_file: Path | None, **iam: Any) -> IamClientAuthorizer:
    settings = IamSettings(mode="external", endpoint=addr, token_path=token_file, **iam)
    return IamClientAuthorizer(settings)


async def test_decisions_come_from_the_iam(iam: IamProcess, token_file: Path) -> None:
    authz = client(iam.addr, token_file)
    try:
        await authz.authorize(ALICE, READ, OBJ)
        with pytest.raises(AccessDenied):
            await authz.authorize(MALLORY, READ, OBJ)
        decision = await authz.decide(MALLORY, READ, OBJ)
        assert not decision.allowed and "no binding grants" in decision.reason
    finally:
        await authz.aclose()
    lines = iam.wait_audit_lines(1)
    assert lines[0]["request_id"] == "r1" and lines[0]["decision"] == "allow"


async def test_without_the_service_token_nothing_is_allowed(
    iam: IamProcess, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong-token"
    wrong.write_text("guess")
    for token in (wrong, None):
        authz = client(iam.addr, token)
        try:
            with pytest.raises(IamUnavailable, match="authorization is unavailable"):
                await authz.authorize(ALICE, READ, OBJ)
        finally:
            await authz.aclose()


async def test_decisions_are_cached_for_the_shorter_ttl(iam: IamProcess, token_file: Path) -> None:
    authz = client(iam.addr, token_file, decision_cache_ttl_seconds=0.5)
    try:
        for _ in range(5):
            await authz.authorize(ALICE, READ, OBJ)
        assert len(iam.wait_audit_lines(1)) == 1
        await alet_time_pass(0.6, "the 0.5 s decision ttl runs out")
        await authz.authorize(ALICE, READ, OBJ)
        assert len(iam.wait_audit_lines(2)) == 2
    finally:
        await authz.aclose()


async def test_concurrent_identical_misses_make_one_call(iam: IamProcess, token_file: Path) -> None:
    authz = client(iam.addr, token_file, decision_cache_ttl_seconds=0)  # no cache at all
    try:
        await authz.authorize(ALICE, READ, "org/acme")  # connect first
        before = len(iam.audit_lines())
        results = await asyncio.gather(
            *(authz.decide(ALICE, READ, OBJ) for _ in range(50)),
            *(authz.decide(MALLORY, READ, OBJ) for _ in range(50)),
        )
        assert [r.allowed for r in results] == [True] * 50 + [False] * 50
        assert len(iam.wait_audit_lines(before + 2)) - before == 2
        await alet_time_pass(0.2, "a third call, had there been one, would be audited by now")
        assert len(iam.audit_lines()) - before == 2
    finally:
        await authz.aclose()


async def test_iam_killed_mid_load_denies_everything_then_resumes(
    tmp_path: Path, token_file: Path
) -> None:
    config = write_config(tmp_path / "iam.toml", CONFIG)
    iam = start_iam(tmp_path / "iam", config, service_token_file=token_file)
    authz = client(iam.addr, token_file, decision_cache_ttl_seconds=0, timeout_seconds=1)
    outcomes: list[str] = []
    stop = asyncio.Event()
    hold = PortHold()

    async def load() -> None:
        while not stop.is_set():
            try:
                await authz.authorize(ALICE, READ, OBJ)
                outcomes.append("allow")
            except IamUnavailable:
                outcomes.append("unavailable")
            await asyncio.sleep(0.005)

    try:
        workers = [asyncio.create_task(load()) for _ in range(8)]
        await await_until(lambda: "allow" in outcomes, message="the first allow")
        port = int(iam.addr.rsplit(":", 1)[1])
        iam.kill()
        # Hold the port while the IAM is down: the restart must find it free, not taken by
        # another test process.
        hold.hold(port)
        killed_at = len(outcomes)
        # calls in flight at the kill may have finished: look past them, at 40 later ones
        await await_until(lambda: len(outcomes) >= killed_at + 48, message="calls after the kill")
        during = outcomes[killed_at + 8 :]
        assert during and set(during) == {"unavailable"}
        hold.release()
        iam = start_iam(tmp_path / "iam", config, addr=iam.addr, service_token_file=token_file)
        mark = len(outcomes)
        await await_until(
            lambda: "allow" in outcomes[mark:], timeout=10, message="service to resume"
        )
        stop.set()
        await asyncio.gather(*workers)
        assert outcomes[:killed_at].count("allow") > 0
    finally:
        stop.set()
        hold.release()
        await authz.aclose()
        iam.stop()


async def test_an_iam_slower_than_the_timeout_is_a_denial(
    iam: IamProcess, token_file: Path
) -> None:
    authz = client(iam.addr, token_file, decision_cache_ttl_seconds=0, timeout_seconds=0.3)
    try:
        await allowed_once_connected(authz)
        iam.pause()
        try:
            with pytest.raises(IamUnavailable, match="DEADLINE_EXCEEDED"):
                await authz.authorize(ALICE, READ, OBJ)
        finally:
            iam.resume()
        await allowed_once_connected(authz)
    finally:
        await authz.aclose()


async def allowed_once_connected(authz: IamClientAuthorizer) -> None:
    """Allowed, once a connection is up: with a 0.3 s deadline, a connection made on a busy
    machine may not finish its handshake within one call (UNAVAILABLE), so keep asking."""

    async def allowed() -> bool:
        try:
            await authz.authorize(ALICE, READ, OBJ)
        except IamUnavailable:
            return False
        return True

    await await_until(allowed, message="the IAM to answer")


class _Garbage(iam_pb2_grpc.IamServiceServicer):
    async def Authorize(  # noqa: N802
        self, request: iam_pb2.AuthorizeRequest, context: Any
    ) -> iam_pb2.AuthorizeResponse:
        # Two "allow" decisions for one check: garbage, must not be read as an allow.
        return iam_pb2.AuthorizeResponse(
            decisions=[iam_pb2.Decision(allowed=True), iam_pb2.Decision(allowed=True)]
        )


@pytest.fixture
async def garbage_iam() -> AsyncIterator[str]:
    server = grpc.aio.server()
    iam_pb2_grpc.add_IamServiceServicer_to_server(_Garbage(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def test_garbage_answers_are_a_denial(garbage_iam: str) -> None:
    authz = client(garbage_iam, None)
    try:
        with pytest.raises(IamUnavailable, match="2 decisions for 1 check"):
            await authz.authorize(ALICE, READ, OBJ)
    finally:
        await authz.aclose()


async def test_nothing_listens_is_a_denial() -> None:
    authz = client("127.0.0.1:1", None, timeout_seconds=1)
    try:
        with pytest.raises(IamUnavailable) as exc:
            await authz.authorize(ALICE, READ, OBJ)
        assert exc.value.grpc_status == grpc.StatusCode.UNAVAILABLE
        assert exc.value.http_status == 503
    finally:
        await authz.aclose()


async def test_every_decision_is_counted(iam: IamProcess, token_file: Path) -> None:
    from lightningstor_api.metrics import METRICS
    from lightningstor_api.telemetry import Telemetry
    from tests.ops.test_observability import sample

    METRICS.reset()
    authz = client(iam.addr, token_file)
    try:
        await authz.authorize(ALICE, READ, OBJ)  # asked
        await authz.authorize(ALICE, READ, OBJ)  # cached
        with pytest.raises(AccessDenied):
            await authz.authorize(MALLORY, READ, OBJ)
    finally:
        await authz.aclose()
    assert METRICS.iam_decisions == {("miss", "allow"): 1, ("hit", "allow"): 1, ("miss", "deny"): 1}
    page = Telemetry(METRICS).page_bytes().decode()
    assert sample(page, "lightningstor_iam_decisions_total", cache="hit", decision="allow") == 1
    assert sample(page, "lightningstor_iam_decision_duration_seconds_count") == 2
