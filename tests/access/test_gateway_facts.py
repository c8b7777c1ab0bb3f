"""The S3 client's facts reach the server's decision through the stand-alone gateway.

One server trusts one gateway address (``[server] trusted_gateways``); the real gateway process
reaches the server's gRPC port through a relay that connects from that address (127.0.0.3:
every 127/8 address is this host's). S3 clients connect from 127.0.0.1 (also a balancer both
trust, ``trusted_proxies``) or 127.0.0.6. A policy on ``aws:SourceIp`` (the peer's, or
X-Forwarded-For's), ``aws:SecureTransport``, ``aws:UserAgent``, ``aws:Referer`` or
``s3:authType`` answers through the gateway as it answers on the server's own S3 port, both
outcomes each; a direct gRPC caller that sends the gateway's metadata itself is not believed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from lightningstor.v1 import common_pb2, object_pb2, object_pb2_grpc
from lightningstor_client import LightningStorClient
from lightningstor_types import client_facts
from lightningstor_types import condition_keys as k
from lightningstor_types.signing import signed_metadata
from tests.access.cluster import BINDINGS, BOB_ARN, ORGA, ORGB
from tests.iam.iamproc import write_config
from tests.integration.server import ServerProcess, start_server
from tests.s3 import rawhttp
from tests.s3.test_gateway import _start_gateway

pytestmark = pytest.mark.timeout(180)

GATEWAY_SOURCE = "127.0.0.3"  # the only address the server trusts as a gateway
NEAR, FAR = "127.0.0.1", "127.0.0.6"  # S3 clients inside and outside 127.0.0.0/30
NEAR_NET = "127.0.0.0/30"  # holds NEAR and the gateway's address, not FAR
PROXY = NEAR  # a balancer both the server's S3 port and the gateway trust (trusted_proxies)
BUCKET = "gwfacts"
HEAD_OBJECT = "/lightningstor.v1.ObjectService/HeadObject"
PUT = "s3:PutObject"


class Relay:
    """Forwards each TCP connection to ``target`` from the local address ``source``, so that
    the server sees ``source`` as the peer of whoever connects to :attr:`address`."""

    def __init__(self, target: str, source: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target, self._source = (host, int(port)), source
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(
                    self._target, timeout=10, source_address=(self._source, 0)
                )
            except OSError:
                return  # closed
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=_pump, args=(a, b), daemon=True)
                self._threads.append(pump)
                pump.start()

    def close(self) -> None:
        # shutdown() wakes the threads blocked in accept() and recv(); close() alone may not.
        for sock in (self._listener, *self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(10)
        assert not any(t.is_alive() for t in self._threads), "a relay thread did not stop"


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


@dataclass
class Setup:
    server: ServerProcess
    gateway: str  # host:port of the gateway's S3 listener
    relay: Relay
    keys: dict[str, dict[str, str]]

    def audit_sources(self) -> list[str]:
        """The ``source`` of every whole audit line so far."""
        text = (self.server.workdir.parent / "audit.log").read_text()
        return [json.loads(x)["source"] for x in text[: text.rfind("\n") + 1].splitlines() if x]

    def s3(self, via: str) -> str:
        return self.gateway if via == "gateway" else self.server.ports["s3"]

    def send(
        self,
        via: str,
        source: str,
        *,
        who: str = "alice",
        headers: dict[str, str] | None = None,
        presigned: bool = False,
        method: str = "GET",
    ) -> int:
        """The status of GET k (or ``method``: a PUT writes "up") sent from
        ``source``: to the server's S3 port or to the gateway; any success counts as 200."""
        address = self.s3(via)
        keys = self.keys[who]
        signer = rawhttp.Signer(address, keys["access_key"], keys["secret_key"])
        key = "up" if method == "PUT" else "k"
        path = f"/orga%3A{BUCKET}/{key}" if who == "bob" else f"/{BUCKET}/{key}"
        if presigned:
            target, sent = signer.presign(method, path), {"Host": address, **(headers or {})}
        else:
            target = path
            sent, _ = signer.sign(method, path, headers=headers)
        body = b"x" if method == "PUT" else None
        status = rawhttp.request(address, method, target, sent, body, source=source).status
        return 200 if 200 <= status < 300 else status

    def grpc_head(self, address: str, spoofed: dict[str, str]) -> int:
        """bob's HeadObject of k over gRPC to ``address`` with ``spoofed`` client facts
        (condition key -> value) in its metadata, as a gateway would send them."""
        keys = self.keys["bob"]
        metadata = (
            *signed_metadata(keys["access_key"], keys["secret_key"], HEAD_OBJECT),
            *client_facts.to_metadata(spoofed),
        )
        request = object_pb2.HeadObjectRequest(
            scope=common_pb2.Scope(org_id=ORGA.org_id), bucket=BUCKET, key="k"
        )
        with grpc.insecure_channel(address) as channel:
            stub = object_pb2_grpc.ObjectServiceStub(channel)
            try:
                stub.HeadObject(request, metadata=metadata, timeout=20)
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err
                return 403
        return 200


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("gwfacts")
    trusted = (
        f'\n[server]\ntrusted_gateways = ["{GATEWAY_SOURCE}/32"]\n'
        f'trusted_proxies = ["{PROXY}/32"]\n'
    )
    config = write_config(root / "server.toml", BINDINGS + trusted)
    env = {"LIGHTNINGSTOR_CONFIG": str(config), "LIGHTNINGSTOR_AUDIT_FILE": str(root / "audit.log")}
    server = start_server(root / "server", env=env)
    relay: Relay | None = None
    try:
        keys = {"admin": server.admin_keys()}
        entries = []
        for who, scope in (("alice", ORGA), ("bob", ORGB)):
            with LightningStorClient(server.grpc_addr, scope=scope, **keys["admin"]) as c:
                made = c.create_access_key(principal_id=who)
            secret = made.secret_access_key or ""
            keys[who] = {"access_key": made.access_key_id, "secret_key": secret}
            entries.append({
                "access_key_id": made.access_key_id, "secret_access_key": secret,
                "principal_id": who, "org_id": scope.org_id,
            })  # fmt: skip
        with LightningStorClient(server.grpc_addr, scope=ORGA, **keys["alice"]) as c:
            c.create_bucket(BUCKET)
            c.put_object(BUCKET, "k", b"secret")
        credentials = root / "gateway-keys.json"
        credentials.write_text(json.dumps(entries))
        relay = Relay(server.grpc_addr, GATEWAY_SOURCE)
        for gateway in _start_gateway(
            server, root / "gateway", workers=1,
            upstream=("--grpc-endpoint", relay.address), credentials=credentials,
            env={"LIGHTNINGSTOR_SERVER__TRUSTED_PROXIES": f"{PROXY}/32"},
        ):  # fmt: skip
            yield Setup(server, gateway.removeprefix("http://"), relay, keys)
    finally:
        if relay is not None:
            relay.close()
        server.stop()


def _policy(setup: Setup, *statements: dict[str, Any]) -> None:
    with LightningStorClient(setup.server.grpc_addr, scope=ORGA, **setup.keys["alice"]) as c:
        if statements:
            c.put_bucket_policy(BUCKET, json.dumps({"Statement": list(statements)}))
        else:
            c.delete_bucket_policy(BUCKET)


def _statement(effect: str, condition: dict[str, Any], principal: Any = "*") -> dict[str, Any]:
    statement = {
        "Sid": effect, "Effect": effect, "Principal": principal, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }  # fmt: skip
    return {**statement, "Condition": condition} if condition else statement


@dataclass(frozen=True)
class Case:
    statement: dict[str, Any]
    carries: Callable[[Setup, str], int]
    """The request with the value, through ``via``."""
    lacks: Callable[[Setup, str], int]
    outcomes: tuple[int, int]
    """(carries, lacks) under the statement."""


CASES = {
    # bob (another org) may read only from 127.0.0.0/30, which holds the gateway's own
    # address: before the gateway forwarded its client's, every client of it passed.
    "aws:SourceIp": Case(
        _statement("Allow", {"IpAddress": {"aws:SourceIp": NEAR_NET}}, {"AWS": BOB_ARN}),
        lambda s, via: s.send(via, NEAR, who="bob"),
        lambda s, via: s.send(via, FAR, who="bob"),
        (200, 403),
    ),
    # Behind a balancer the gateway trusts, the client is what X-Forwarded-For names, and the
    # scheme what X-Forwarded-Proto says: the gateway forwards its own reading of them.
    "aws:SourceIp from X-Forwarded-For": Case(
        _statement("Allow", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"AWS": BOB_ARN}),
        lambda s, via: s.send(via, PROXY, who="bob", headers={"X-Forwarded-For": "203.0.113.7"}),
        lambda s, via: s.send(via, PROXY, who="bob", headers={"X-Forwarded-For": "198.51.100.9"}),
        (200, 403),
    ),
    "aws:SecureTransport": Case(
        _statement("Deny", {"Bool": {"aws:SecureTransport": "false"}}),
        lambda s, via: s.send(via, PROXY, headers={"X-Forwarded-Proto": "https"}),
        lambda s, via: s.send(via, PROXY, headers={"X-Forwarded-Proto": "http"}),
        (200, 403),
    ),
    "aws:UserAgent": Case(
        _statement("Deny", {"StringLike": {"aws:UserAgent": "*evilbot*"}}),
        lambda s, via: s.send(via, NEAR, headers={"User-Agent": "evilbot/1.0"}),
        lambda s, via: s.send(via, NEAR, headers={"User-Agent": "goodbot/1.0"}),
        (403, 200),
    ),
    # A streamed upload (PutObject) carries them as a unary call does.
    "aws:UserAgent on PutObject": Case(
        {**_statement("Deny", {"StringLike": {"aws:UserAgent": "*evilbot*"}}), "Action": PUT},
        lambda s, via: s.send(via, NEAR, headers={"User-Agent": "evilbot/1"}, method="PUT"),
        lambda s, via: s.send(via, NEAR, headers={"User-Agent": "goodbot/1"}, method="PUT"),
        (403, 200),
    ),
    "aws:Referer": Case(
        _statement("Deny", {"StringLike": {"aws:Referer": "https://evil.example/*"}}),
        lambda s, via: s.send(via, NEAR, headers={"Referer": "https://evil.example/x"}),
        lambda s, via: s.send(via, NEAR, headers={"Referer": "https://shop.example/x"}),
        (403, 200),
    ),
    "s3:authType": Case(
        _statement("Deny", {"StringEquals": {"s3:authType": "REST-QUERY-STRING"}}),
        lambda s, via: s.send(via, NEAR, presigned=True),
        lambda s, via: s.send(via, NEAR),
        (403, 200),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("via", ["server", "gateway"])
def test_the_gateway_decides_as_the_server_s3_port(setup: Setup, name: str, via: str) -> None:
    case = CASES[name]
    _policy(setup)
    try:
        # bob reads nothing of orga's without the Allow; alice reads everything without a Deny.
        without = (403, 403) if case.statement["Effect"] == "Allow" else (200, 200)
        assert (case.carries(setup, via), case.lacks(setup, via)) == without
        _policy(setup, case.statement)
        assert (case.carries(setup, via), case.lacks(setup, via)) == case.outcomes
    finally:
        _policy(setup)


def test_a_direct_grpc_caller_cannot_claim_another_address(setup: Setup) -> None:
    """bob calls the gRPC port himself (from 127.0.0.1, not a trusted gateway) with the
    gateway's metadata: his own address decides. The same call through the relay, from the
    trusted address, is believed, so the metadata is what the server would read."""
    direct, trusted = setup.server.grpc_addr, setup.relay.address
    far = {k.SOURCE_IP: "203.0.113.7", k.USER_AGENT: "evilbot/1.0"}
    _policy(setup, _statement("Allow", {"IpAddress": {"aws:SourceIp": NEAR_NET}}, {"AWS": BOB_ARN}))
    try:
        assert setup.grpc_head(direct, {}) == 200  # 127.0.0.1 is in the /30
        assert setup.grpc_head(direct, far) == 200  # the claim of 203.0.113.7 is ignored
        assert setup.grpc_head(trusted, far) == 403  # believed from the gateway's address
        assert setup.grpc_head(trusted, {}) == 200  # a gateway forwarding nothing: its own
        office = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
        _policy(setup, _statement("Allow", office, {"AWS": BOB_ARN}))
        assert setup.grpc_head(direct, far) == 403
        assert setup.grpc_head(trusted, far) == 200
        # The audit names the forwarded client, and the direct caller by its own address.
        assert "203.0.113.7" in setup.audit_sources()
        assert [a for a in setup.audit_sources() if a.startswith("ipv4:127.0.0.1:")]
        # The other facts are ignored from an untrusted peer too.
        _policy(
            setup,
            _statement("Allow", {}, {"AWS": BOB_ARN}),
            _statement("Deny", {"StringLike": {"aws:UserAgent": "*evilbot*"}}),
        )
        assert setup.grpc_head(direct, far) == 200
        assert setup.grpc_head(trusted, far) == 403
    finally:
        _policy(setup)


def test_long_client_facts_are_forwarded_whole_or_refused(setup: Setup) -> None:
    """A 4 KiB User-Agent is decided whole through the gateway (a Deny on its end holds);
    past what gRPC metadata carries, the gateway refuses the request (400, as S3 refuses a
    header section over 8 KiB) rather than cutting it or answering SlowDown."""
    _policy(setup, _statement("Deny", {"StringLike": {"aws:UserAgent": "*evilbot"}}))
    try:
        for via in ("server", "gateway"):
            assert setup.send(via, NEAR, headers={"User-Agent": "x" * 4096 + "evilbot"}) == 403
            assert setup.send(via, NEAR, headers={"User-Agent": "x" * 4096 + "goodbot"}) == 200
        huge = {"User-Agent": "x" * 16384 + "goodbot"}
        assert setup.send("gateway", NEAR, headers=huge) == 400
    finally:
        _policy(setup)


def test_client_facts_round_trip_in_printable_metadata() -> None:
    facts = {k.USER_AGENT: "bot/1 (ü; 100%)", k.SOURCE_IP: "::1", k.PREFIX: "not forwarded"}
    entries = client_facts.to_metadata(facts)
    assert all(v.isascii() and v.isprintable() for _, v in entries)
    assert dict(entries)[client_facts.CLIENT_IP] == "::1"
    assert client_facts.from_metadata(entries) == {
        k.USER_AGENT: "bot/1 (ü; 100%)", k.SOURCE_IP: "::1"
    }  # fmt: skip
    assert client_facts.from_metadata([("x-request-id", "1")]) is None


def test_forwarded_client_only_from_a_trusted_gateway() -> None:
    from ipaddress import ip_network

    from lightningstor_api.grpc.forwarded import PEER, Client, forwarded_client

    gateways = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]
    sent = client_facts.to_metadata({k.SOURCE_IP: "203.0.113.7", k.AUTH_TYPE: "REST-HEADER"})
    assert forwarded_client("ipv4:10.1.2.3:4000", sent, gateways) == Client(
        "203.0.113.7", {k.AUTH_TYPE: "REST-HEADER"}
    )
    assert forwarded_client("ipv6:[fd00::5]:4000", sent, gateways).address == "203.0.113.7"
    assert forwarded_client("ipv6:[::ffff:10.1.2.3]:4000", sent, gateways).address == "203.0.113.7"
    assert forwarded_client("ipv4:192.0.2.1:4000", sent, gateways) == PEER  # not trusted
    assert forwarded_client("ipv4:10.1.2.3:4000", sent, []) == PEER  # nothing trusted
    assert forwarded_client("unix:/run/x.sock", sent, gateways) == PEER
    assert forwarded_client("ipv4:10.1.2.3:4000", [("x-request-id", "1")], gateways) == PEER
    # Forwarded, but without a readable address: none, never the gateway's own.
    bad = ((client_facts.CLIENT_IP, "not-an-ip"),)
    assert forwarded_client("ipv4:10.1.2.3:4000", bad, gateways) == Client("", {})


def test_an_ipv4_mapped_address_is_its_ipv4_address() -> None:
    """A dual-stack listener on [::] reports IPv4 callers as ::ffff:a.b.c.d: their
    aws:SourceIp is a.b.c.d, so that IPv4 ranges in conditions match them."""
    from lightningstor_api.access.facts import source_ip

    assert source_ip("ipv6:[::ffff:192.0.2.7]:4000") == "192.0.2.7"
    assert source_ip("[::ffff:192.0.2.7]:4000") == "192.0.2.7"
    assert source_ip("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_ip("ipv6:[2001:db8::7]:4000") == "2001:db8::7"
    assert source_ip("ipv4:192.0.2.7:4000") == "192.0.2.7"
    assert source_ip("unix:/run/x.sock") is None
