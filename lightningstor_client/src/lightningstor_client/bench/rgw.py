"""Ceph's RADOS Gateway as a benchmark reference: one mon, one BlueStore OSD, radosgw (Beast).

:func:`ensure_installed` installs Debian's ``ceph-mon ceph-osd radosgw ceph-common`` with
``apt-get`` when a program is missing (only ``make bench`` calls it, never the tests).
:func:`running_rgw` starts, in a work directory of the caller: one ``ceph-mon`` on a free
loopback port, one ``ceph-osd`` with BlueStore on a sparse file, pools of size 1, and
``radosgw`` with the Beast frontend on a free loopback port (``tcp_nodelay=1``: without it
every small GET waits ~40 ms for Nagle; ``debug rgw = 0/0``); makes an S3 user with
``radosgw-admin user create``; and on every way out stops the three daemons (SIGTERM, then
SIGKILL), so no process is left. Every daemon runs in the foreground (``-f``) as a child of
this process, with its sockets, logs and data under the work directory; cephx is on, with one
keyring generated for the run. The CPU of a request is the three daemons' (``pids``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PACKAGES", "Rgw", "RgwUnavailableError", "ensure_installed", "running_rgw"]

PACKAGES = ("ceph-mon", "ceph-osd", "radosgw", "ceph-common")
_PROGRAMS = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "ceph", "ceph-authtool",
             "monmaptool")  # fmt: skip
_BLOCK_BYTES = 20 * 2**30  # sparse: only what is written takes disk space
_STOP_TIMEOUT = 20.0
_POLICY = Path("/usr/sbin/policy-rc.d")


class RgwUnavailableError(RuntimeError):
    """RGW cannot be installed or started here; the message says why."""


@dataclass
class Rgw:
    """A running RGW: its S3 endpoint (``host:port``), the S3 user's key, the daemons' pids."""

    s3: str
    access_key: str
    secret_key: str
    pids: list[int] = field(default_factory=list)


def _missing() -> list[str]:
    return [p for p in _PROGRAMS if shutil.which(p) is None]


def ensure_installed() -> None:
    """Install Debian's Ceph packages when a program is missing (as root, non-interactive;
    the packages' services are kept from starting); :class:`RgwUnavailableError` when impossible."""
    if not _missing():
        return
    if shutil.which("apt-get") is None:
        raise RgwUnavailableError(f"{', '.join(_missing())} not found and no apt-get")
    if os.geteuid() != 0:
        raise RgwUnavailableError(f"{', '.join(_missing())} not found; apt-get needs root")
    print(f"installing Debian's {' '.join(PACKAGES)} (RGW, the reference)...", flush=True)
    added_policy = False
    if not _POLICY.exists():  # exit 101 = "do not start services" to Debian's maintainer scripts
        _POLICY.write_text("#!/bin/sh\nexit 101\n")
        _POLICY.chmod(0o755)
        added_policy = True
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for cmd in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600",
             "--no-install-recommends", *PACKAGES],
        ):  # fmt: skip
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                raise RgwUnavailableError(f"{' '.join(cmd[:2])} failed: " + " | ".join(tail))
    finally:
        if added_policy:
            _POLICY.unlink(missing_ok=True)
    if _missing():
        raise RgwUnavailableError(f"still missing after apt-get: {', '.join(_missing())}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(work: Path, fsid: str, mon_port: int, rgw_port: int) -> str:
    return f"""[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
ms bind msgr1 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
keyring = {work}/keyring
run dir = {work}/run
admin socket = {work}/run/$name.asok
log file = {work}/log/$name.log
mon data = {work}/mon/$cluster-$id
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg autoscale mode = off
osd pool default pg num = 8
osd pool default pgp num = 8
mon data avail warn = 1
[osd]
osd data = {work}/osd/$cluster-$id
osd objectstore = bluestore
bluestore block path = {work}/osd/$cluster-$id.block
osd memory target = 1073741824
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {work}/rgw
debug rgw = 0/0
"""


class _Daemons:
    """The daemons started here, stopped in reverse order (SIGTERM, then SIGKILL)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        with (self.work / "log" / f"{name}.out").open("ab") as out:
            proc = subprocess.Popen(
                cmd, cwd=self.work, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _run(work: Path, cmd: list[str], what: str, timeout: float = 120) -> str:
    done = subprocess.run(
        cmd, cwd=work, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RgwUnavailableError(f"{what} failed ({done.returncode}): " + " | ".join(tail))
    return done.stdout


def _wait(
    check: Callable[[], bool], what: str, deadline: float, procs: list[subprocess.Popen[bytes]]
) -> None:
    while not check():
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RgwUnavailableError(
                f"{what} exited with {dead[0].returncode} (its log: log/ of the work directory)"
            )
        if time.monotonic() > deadline:
            raise RgwUnavailableError(f"{what}: not ready in time")
        time.sleep(0.25)


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: the frontend is up
    except OSError:
        return False


@contextlib.contextmanager
def running_rgw(work: Path, *, start_timeout: float = 180.0) -> Iterator[Rgw]:
    """A one-OSD Ceph cluster and its RGW under ``work`` (created) for the block's duration."""
    for sub in ("run", "log", "mon", "osd", "rgw"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    conf = work / "ceph.conf"
    mon_port, rgw_port, fsid = _free_port(), _free_port(), str(uuid.uuid4())
    conf.write_text(_config(work, fsid, mon_port, rgw_port))
    c = ["-c", str(conf)]
    keyring = str(work / "keyring")
    for name, caps in (
        ("mon.", ["--cap", "mon", "allow *"]),
        ("client.admin", ["--cap", "mon", "allow *", "--cap", "osd", "allow *",
                          "--cap", "mgr", "allow *"]),
        ("client.rgw", ["--cap", "mon", "allow rw", "--cap", "osd", "allow rwx"]),
        ("osd.0", ["--cap", "mon", "allow profile osd", "--cap", "osd", "allow *"]),
    ):  # fmt: skip
        create = ["--create-keyring"] if name == "mon." else []
        _run(work, ["ceph-authtool", keyring, *create, "--gen-key", "-n", name, *caps],
             "ceph-authtool")  # fmt: skip
    monmap = str(work / "monmap")
    _run(work, ["monmaptool", "--create", "--addv", "a", f"[v2:127.0.0.1:{mon_port}]",
                "--fsid", fsid, monmap], "monmaptool")  # fmt: skip
    _run(work, ["ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", monmap, "--keyring", keyring],
         "ceph-mon --mkfs")  # fmt: skip
    daemons = _Daemons(work)
    deadline = time.monotonic() + start_timeout
    try:
        mon = daemons.start("mon", ["ceph-mon", *c, "-i", "a", "-f"])
        _run(work, ["ceph", *c, "--connect-timeout", "60", "mon", "stat"], "the first mon")
        osd_uuid = str(uuid.uuid4())
        osd_id = _run(work, ["ceph", *c, "osd", "new", osd_uuid], "ceph osd new").strip()
        if osd_id != "0":
            raise RgwUnavailableError(f"ceph osd new gave id {osd_id!r}, not 0")
        (work / "osd" / "ceph-0").mkdir()
        with (work / "osd" / "ceph-0.block").open("wb") as block:
            block.truncate(_BLOCK_BYTES)
        _run(work, ["ceph-osd", *c, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid],
             "ceph-osd --mkfs")  # fmt: skip
        osd = daemons.start("osd", ["ceph-osd", *c, "-i", "0", "-f"])

        def osd_up() -> bool:
            done = subprocess.run(["ceph", *c, "osd", "stat"], capture_output=True, text=True,
                                  timeout=30, check=False)  # fmt: skip
            return "1 up" in done.stdout

        _wait(osd_up, "ceph-osd", deadline, daemons.procs)
        rgw = daemons.start("rgw", ["radosgw", *c, "-n", "client.rgw", "-f"])
        _wait(lambda: _answers(f"http://127.0.0.1:{rgw_port}/"), "radosgw", deadline,
              daemons.procs)  # fmt: skip
        access, secret = "BENCH" + secrets.token_hex(8).upper(), secrets.token_hex(20)
        _run(work, ["radosgw-admin", *c, "user", "create", "--uid", "bench", "--display-name",
                    "bench", "--access-key", access, "--secret-key", secret],
             "radosgw-admin user create")  # fmt: skip
        yield Rgw(f"127.0.0.1:{rgw_port}", access, secret, [mon.pid, osd.pid, rgw.pid])
    finally:
        daemons.stop_all()
