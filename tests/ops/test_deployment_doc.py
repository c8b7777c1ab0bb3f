"""docs/operations.md's deployment recipe is one that works as written: the systemd units start
installed programs with flags those programs accept, against the example configuration files,
and the three etcd members describe one cluster."""

from __future__ import annotations

import configparser
import re
import shlex
import sys
from pathlib import Path

import pytest

from lightningstor_api.iam.server import _parser as iam_parser
from lightningstor_s3.gateway import build_parser as gateway_parser
from lightningstor_types.config import Settings, StorageNodeSettings
from lightningstor_types.config_loader import (
    build_arg_parser,
    build_storage_node_arg_parser,
    load_config,
)

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "operations.md").read_text()
BIN = Path(sys.executable).parent
_UNIT_RE = re.compile(r"`/etc/systemd/system/([\w.-]+)\.service`.*?```ini\n(.*?)```", re.S)
_ETCD_RE = re.compile(r"`/etc/default/etcd` on (etcd-\d) \([\d.]+\):\n\n```sh\n(.*?)```", re.S)
UNITS = {m.group(1): m.group(2) for m in _UNIT_RE.finditer(DOC)}
ETCD = {m.group(1): m.group(2) for m in _ETCD_RE.finditer(DOC)}
PARSERS = {
    "lightningstor-server": lambda: build_arg_parser("lightningstor-server"),
    "lightningstor-storage-node": lambda: build_storage_node_arg_parser(
        "lightningstor-storage-node"
    ),
    "lightningstor-iam": iam_parser,
    "lightningstor-s3-gateway": gateway_parser,
}


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read_string(UNITS[name])
    return unit


def test_there_is_a_unit_for_every_process() -> None:
    assert set(UNITS) == {
        "lightningstor-server", "lightningstor-storage-node", "lightningstor-iam",
        "lightningstor-s3-gateway",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_each_unit_starts_an_installed_program_with_flags_it_accepts(name: str) -> None:
    unit = _unit(name)
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["User"] == "lightningstor"
    assert service["Restart"] == "on-failure"
    assert float(service["TimeoutStopSec"]) > 0
    argv = shlex.split(service["ExecStart"])
    program = Path(argv[0])
    assert program.parent == Path("/opt/lightningstor/.venv/bin")
    assert program.name == name
    assert (BIN / program.name).is_file(), f"{program.name} is not an installed program"
    args = PARSERS[name]().parse_args(argv[1:])  # SystemExit on a flag it does not take
    config = Path(args.config)
    assert config.parent == Path("/etc/lightningstor")
    example = ROOT / "config" / config.name
    assert example.is_file(), f"{name} names {config}, which config/ has no example of"
    if name == "lightningstor-storage-node":
        node = load_config(StorageNodeSettings, config_file=example, env={})
        assert service["ReadWritePaths"] == str(node.data_dir)
    elif name == "lightningstor-server":
        server = load_config(Settings, config_file=example, env={})
        assert Path("/var/lib", service["StateDirectory"]) == server.server.data_dir
        grace = server.server.shutdown_grace_seconds
        assert float(service["TimeoutStopSec"]) > grace
    elif name == "lightningstor-iam":
        servers = load_config(Settings, config_file=ROOT / "config" / "cluster.toml", env={})
        assert servers.iam.endpoint is not None
        assert args.addr.rpartition(":")[2] == servers.iam.endpoint.rpartition(":")[2]


def _etcd_env(text: str) -> dict[str, str]:
    return {k: shlex.split(v)[0] for k, _, v in (line.partition("=") for line in text.splitlines())}


def test_the_three_etcd_members_describe_one_cluster() -> None:
    members = {name: _etcd_env(text) for name, text in ETCD.items()}
    assert sorted(members) == ["etcd-1", "etcd-2", "etcd-3"]
    clusters = {env["ETCD_INITIAL_CLUSTER"] for env in members.values()}
    assert len(clusters) == 1
    cluster = dict(entry.split("=", 1) for entry in clusters.pop().split(","))
    assert set(cluster) == set(members)
    for name, env in members.items():
        assert env["ETCD_NAME"] == name
        assert cluster[name] == env["ETCD_INITIAL_ADVERTISE_PEER_URLS"]
        assert env["ETCD_LISTEN_PEER_URLS"] == env["ETCD_INITIAL_ADVERTISE_PEER_URLS"]
        assert env["ETCD_ADVERTISE_CLIENT_URLS"] in env["ETCD_LISTEN_CLIENT_URLS"].split(",")
        assert env["ETCD_ADVERTISE_CLIENT_URLS"].endswith(":2379")
        assert env["ETCD_INITIAL_CLUSTER_STATE"] == "new"
    others = [{k: v for k, v in env.items() if k not in _PER_MEMBER} for env in members.values()]
    assert all(o == others[0] for o in others)  # only the member's own name and addresses differ


_PER_MEMBER = {
    "ETCD_NAME", "ETCD_LISTEN_PEER_URLS", "ETCD_LISTEN_CLIENT_URLS",
    "ETCD_INITIAL_ADVERTISE_PEER_URLS", "ETCD_ADVERTISE_CLIENT_URLS",
}  # fmt: skip
