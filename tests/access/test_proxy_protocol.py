"""PROXY protocol (v1 and v2) on the S3 listener (issue 13 §1): the client address a trusted
balancer's header carries is ``aws:SourceIp`` and the access log's address; a peer outside
``trusted_proxies``, a malformed header, or none at all, and the connection is closed.

The parser on its own first, then a real server: raw sockets send the headers, a bucket policy
allows anonymous reads from 203.0.113.0/24 only.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from lightningstor_client import LightningStorClient
from lightningstor_s3.connections.proxy_header import (
    V2_SIGNATURE,
    MalformedProxyHeaderError,
    ProxyHeader,
    parse_proxy_header,
)
from lightningstor_types.config import Settings
from lightningstor_types.scope import Scope
from tests.iam.iamproc import write_config
from tests.integration.server import ServerProcess, start_server
from tests.wait import wait_until

pytestmark = pytest.mark.timeout(120)

OFFICE, ELSEWHERE = "203.0.113.7", "198.51.100.9"


def v1(source: str, family: str = "TCP4", dest: str = "127.0.0.1") -> bytes:
    return f"PROXY {family} {source} {dest} 40000 9000\r\n".encode()


def v2(source: str, *, command: int = 1, tlv: bytes = b"") -> bytes:
    packed = socket.inet_pton(socket.AF_INET6 if ":" in source else socket.AF_INET, source)
    family = 0x21 if len(packed) == 16 else 0x11
    block = packed + bytes(len(packed)) + struct.pack("!HH", 40000, 9000) + tlv
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


# ---- the parser ----


@pytest.mark.parametrize(
    ("header", "source"),
    [
        (v1(OFFICE), (OFFICE, 40000)),
        (v1("2001:db8::1", "TCP6", "::1"), ("2001:db8::1", 40000)),
        (b"PROXY UNKNOWN\r\n", None),
        (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None),
        (v2(OFFICE), (OFFICE, 40000)),
        (v2("2001:db8::1"), ("2001:db8::1", 40000)),
        (v2(OFFICE, tlv=b"\x04\x00\x03abc"), (OFFICE, 40000)),  # a TLV: skipped
        (v2(OFFICE, command=0), None),  # LOCAL: the balancer's own health check
    ],
)
def test_headers_are_read_whole_and_byte_by_byte(
    header: bytes, source: tuple[str, int] | None
) -> None:
    request = b"GET / HTTP/1.1\r\n"
    assert parse_proxy_header(header + request) == ProxyHeader(source, len(header))
    for cut in range(len(header)):  # any prefix: more is needed, never a wrong answer
        assert parse_proxy_header(header[:cut]) is None


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n",  # no header at all
        b"PROXY TCP4 203.0.113.7 127.0.0.1 40000\r\n",  # a field missing
        b"PROXY TCP4 2001:db8::1 127.0.0.1 40000 9000\r\n",  # address not of the family
        b"PROXY TCP4 203.0.113.777 127.0.0.1 40000 9000\r\n",
        b"PROXY TCP4 203.0.113.7 127.0.0.1 70000 9000\r\n",  # port out of range
        b"PROXY TCP4 203.0.113.7 127.0.0.1 040000 9000\r\n",  # leading zero
        b"PROXY TCP5 203.0.113.7 127.0.0.1 40000 9000\r\n",
        b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 9000\n",  # no CR: runs past 107 bytes below
        b"PROXY " + b"x" * 120,  # longer than a v1 line may be
        b"proxy TCP4 203.0.113.7 127.0.0.1 40000 9000\r\n",
        V2_SIGNATURE[:-1] + b"X" + bytes(8),  # a wrong signature byte
        V2_SIGNATURE + b"\x11\x11\x00\x0c" + bytes(12),  # version 1 in a v2 header
        V2_SIGNATURE + b"\x22\x11\x00\x0c" + bytes(12),  # command 2
        V2_SIGNATURE + b"\x21\x11\x00\x04" + bytes(4),  # TCP4 with a 4-byte block
    ],
)
def test_malformed_headers_are_refused(data: bytes) -> None:
    padded = data if not data.endswith(b"9000\n") else data + b"x" * 120
    with pytest.raises(MalformedProxyHeaderError):
        parse_proxy_header(padded)


def test_proxy_protocol_needs_trusted_proxies_and_no_tls(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(server={"proxy_protocol": True})  # type: ignore[arg-type]
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    with pytest.raises(ValidationError, match=r"\[server\.tls\]"):
        Settings(server={  # type: ignore[arg-type]
            "proxy_protocol": True, "trusted_proxies": ["127.0.0.1/32"],
            "tls": {"cert_file": str(cert), "key_file": str(key)},
        })  # fmt: skip
    assert Settings().server.proxy_protocol is False


# ---- a real server ----

BINDINGS = """
[iam]
[[iam.bindings]]
principal = "alice"
role = "admin"
org = "orga"

[server]
trusted_proxies = ["127.0.0.1/32"]
proxy_protocol = true
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("proxyproto")
    config = write_config(root / "server.toml", BINDINGS)
    server = start_server(root / "server", env={"LIGHTNINGSTOR_CONFIG": str(config)})
    try:
        with LightningStorClient(server.grpc_addr, scope=Scope("orga"), **server.admin_keys()) as c:
            c.create_bucket("office")
            c.put_object("office", "k", b"secret")
            c.put_bucket_policy("office", json.dumps({"Version": "2012-10-17", "Statement": [{
                "Sid": "OfficeOnly", "Effect": "Allow", "Principal": "*",
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::office/*",
                "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
            }]}))  # fmt: skip
        yield server
    finally:
        server.stop()


def exchange(server: ServerProcess, *pieces: bytes, source: str = "127.0.0.1") -> bytes:
    """Send ``pieces`` (one send each) then a GET of the shared object; all the server answers
    until it closes (b"" when it closed without a word)."""
    host, port = server.ports["s3"].rsplit(":", 1)
    request = f"GET /orga%3Aoffice/k HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=30, source_address=(source, 0)) as s:
        try:
            for piece in pieces:
                s.sendall(piece)
            s.sendall(request.encode())
            got = b""
            while chunk := s.recv(65536):
                got += chunk
            return got
        except (ConnectionResetError, BrokenPipeError):
            return b""


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer else 0


def test_the_client_address_of_a_trusted_header_is_the_source_ip(server: ServerProcess) -> None:
    assert status(exchange(server, v1(OFFICE))) == 200
    assert status(exchange(server, v2(OFFICE))) == 200
    assert status(exchange(server, *(bytes([b]) for b in v2(OFFICE)))) == 200  # a byte a send
    assert status(exchange(server, v1(ELSEWHERE))) == 403
    assert status(exchange(server, v2(ELSEWHERE))) == 403
    # No address in the header: the peer's (loopback), not the office.
    assert status(exchange(server, b"PROXY UNKNOWN\r\n")) == 403
    assert status(exchange(server, v2(OFFICE, command=0))) == 403

    def access_clients() -> list[str]:
        lines = [json.loads(x) for x in server.logs().splitlines() if x.startswith("{")]
        return [x["client"] for x in lines if x.get("logger") == "lightningstor_s3.access"]

    wait_until(lambda: len(access_clients()) >= 7, timeout=30, message="the access log")
    clients = access_clients()
    assert f"{OFFICE}:40000" in clients and f"{ELSEWHERE}:40000" in clients
    assert all(c.startswith((OFFICE, ELSEWHERE, "127.0.0.1:")) for c in clients)


def test_no_header_or_a_malformed_one_closes_the_connection(server: ServerProcess) -> None:
    assert exchange(server) == b""  # a plain request: no header, nothing answered
    assert exchange(server, b"PROXY TCP4 203.0.113.7 nowhere 1 2\r\n") == b""
    assert exchange(server, V2_SIGNATURE + b"\x21\x11\x00\x04" + bytes(4)) == b""
    assert status(exchange(server, v1(OFFICE))) == 200  # and the listener still serves


def test_an_untrusted_peer_is_closed_whatever_its_header_says(server: ServerProcess) -> None:
    # 127.0.0.2 is loopback too, but not in trusted_proxies (127.0.0.1/32).
    assert exchange(server, v1(OFFICE), source="127.0.0.2") == b""
    assert exchange(server, v2(OFFICE), source="127.0.0.2") == b""
    assert status(exchange(server, v1(OFFICE), source="127.0.0.1")) == 200
