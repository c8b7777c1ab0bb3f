"""``make bench``: LightningStor (embedded, etcd) against moto and Ceph RGW, in one run.

Starts, on free loopback ports chosen now: moto's S3 server (everything in memory), Ceph's RADOS
Gateway (``lightningstor_client.bench.rgw``: installed from Debian when missing, one mon and one
BlueStore OSD), LightningStor on the embedded default, and LightningStor on a real etcd; runs
the same workloads against each with ``lightningstor-bench`` (a separate process, one workload
at a time), and prints a table of the rates with the ratios LightningStor / moto and
LightningStor / RGW and the targets of issue 17. Every server is stopped at the end, whatever
happens. Both LightningStor servers run their default configuration
(``[server] processes`` = one per usable CPU) unless ``--processes N``; their CPU is the
supervisor's and all its workers'.

    uv run python scripts/bench.py [--duration 8] [--warmup 2] [--out bench-results.md]
        [--only moto,rgw,embedded,etcd,erasure] [--quick] [--processes 2]

``erasure`` (in ``--only`` by default) then runs ``scripts/bench_erasure.py --no-codec``: the
distributed backend on seven local storage nodes, replicated 3 against erasure 4+2 (PUT and GET
of 64 MiB objects, raw bytes per logical byte, GET with two nodes down), its lines appended.

``--tenants`` runs the noisy-neighbour workload instead (LightningStor embedded only): tenant
B's GET latency alone, while tenant A runs a burst of HEADs at high concurrency, and the same
with a rate limit on A (``--limit`` requests a second per server process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lightningstor_client.bench import rgw
from lightningstor_client.sigv4 import Signer, uri_path
from lightningstor_types.config import usable_cpus

KiB, MiB = 1024, 1024 * 1024
START_TIMEOUT = 60.0
MOTO_KEYS = ("bench", "bench-secret")  # moto accepts any key; we still sign every request


@dataclass(frozen=True)
class Workload:
    name: str
    api: str
    op: str
    size: int
    objects: int
    concurrency: int
    bucket: str
    metric: str  # "ops_s", "mb_s" or "keys_s"
    extra: tuple[str, ...] = ()  # more lightningstor-bench arguments
    baseline: str = ""  # the workload this one is compared with on the same server


WORKLOADS = (
    Workload("PUT 4 KiB", "s3", "put", 4 * KiB, 1000, 32, "small", "ops_s"),
    Workload("GET 4 KiB", "s3", "get", 4 * KiB, 1000, 32, "small", "ops_s"),
    Workload("HEAD 4 KiB", "s3", "head", 4 * KiB, 1000, 32, "small", "ops_s"),
    Workload("mixed 4 KiB", "s3", "mixed", 4 * KiB, 1000, 32, "small", "ops_s"),
    Workload("PUT 64 MiB", "s3", "put", 64 * MiB, 4, 4, "large", "mb_s"),
    Workload("GET 64 MiB", "s3", "get", 64 * MiB, 4, 4, "large", "mb_s"),
    # Side by side with the two above: the same transfers, stored with SSE-S3.
    Workload(
        "PUT 64 MiB SSE-S3",
        "s3",
        "put",
        64 * MiB,
        4,
        4,
        "large-sse",
        "mb_s",
        ("--sse", "AES256"),
        "PUT 64 MiB",
    ),
    Workload(
        "GET 64 MiB SSE-S3",
        "s3",
        "get",
        64 * MiB,
        4,
        4,
        "large-sse",
        "mb_s",
        ("--sse", "AES256"),
        "GET 64 MiB",
    ),
    Workload("LIST 10k keys, pages of 1000", "s3", "list", 0, 10_000, 4, "list", "keys_s"),
    Workload("gRPC HeadObject 4 KiB", "grpc", "head", 4 * KiB, 1000, 32, "gsmall", "ops_s"),
    Workload("gRPC streaming GET 64 MiB", "grpc", "get", 64 * MiB, 4, 4, "glarge", "mb_s"),
)
UNITS = {"ops_s": "ops/s", "mb_s": "MB/s", "keys_s": "keys/s"}
# Issue 17: name -> (minimum ratio LightningStor/RGW on embedded, on etcd); None = no target.
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "GET 4 KiB": (2, 1),
    "HEAD 4 KiB": (2, 1),
    "PUT 4 KiB": (2, None),
    "mixed 4 KiB": (2, None),
    "PUT 64 MiB": (1.5, None),
    "LIST 10k keys, pages of 1000": (2, None),
}
CPU_US_PER_REQUEST = 350  # GET and HEAD 4 KiB, server CPU per request (issue 17)
CPU_S_PER_GB = 0.5  # GET 64 MiB, server CPU per GB served
LIST_WALK_S = 0.085  # LIST 10k keys: seconds per walk of the whole listing
GRPC_STREAM_MB_S = 800
NO_REFERENCE = ("SSE-S3", "gRPC")  # workloads moto and RGW do not run (SSE needs a KMS on RGW)


@dataclass
class Target:
    """One server under test."""

    name: str
    s3: str
    grpc: str | None
    access_key: str
    secret_key: str
    pids: list[int]
    reference: bool = False  # moto or RGW: only the workloads every S3 server runs
    results: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{log.stem} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


class Processes:
    """Every process started here; all stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, cmd: list[str], log: Path, *, env: dict[str, str] | None = None, cwd: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTNINGSTOR_")}
    env.update(extra)
    return env


def start_moto(procs: Processes, work: Path) -> Target:
    port = free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    log = work / "moto.log"
    proc = procs.start([exe, "-H", "127.0.0.1", "-p", str(port)], log, env=clean_env({}), cwd=work)
    wait_port(port, proc, log)
    return Target("moto", f"127.0.0.1:{port}", None, *MOTO_KEYS, [proc.pid], reference=True)


def start_rgw(stack: contextlib.ExitStack, work: Path) -> Target | None:
    """Ceph RGW (``lightningstor_client.bench.rgw``), installed from Debian when missing; None,
    with the reason printed, when it cannot be installed or started here."""
    try:
        rgw.ensure_installed()
        print("starting Ceph (one mon, one BlueStore OSD) and RGW...", flush=True)
        ref = stack.enter_context(rgw.running_rgw(work))
    except (rgw.RgwUnavailableError, OSError, subprocess.SubprocessError) as err:
        print(f"RGW is left out: {err}", flush=True)
        return None
    return Target("rgw", ref.s3, None, ref.access_key, ref.secret_key, ref.pids, reference=True)


def start_etcd(procs: Processes, work: Path, *extra: str) -> tuple[str, int]:
    """A one-member etcd on free loopback ports (``extra``: more of its flags): its client
    endpoint and its pid."""
    client, peer = free_port(), free_port()
    exe = os.environ.get("LIGHTNINGSTOR_TEST_ETCD") or shutil.which("etcd") or "/usr/bin/etcd"
    cmd = [
        exe, "--name", "bench", "--data-dir", str(work / "etcd"),
        "--listen-client-urls", f"http://127.0.0.1:{client}",
        "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"bench=http://127.0.0.1:{peer}",
        # etcd 3.6's default: 3.4 keeps 100,000 raft entries in memory between snapshots,
        # ~0.5 GiB when each PUT of 4 KiB carries its inline bytes (lightningstor_api README).
        "--snapshot-count", "10000",
        *extra,
    ]  # fmt: skip
    log = work / "etcd.log"
    proc = procs.start(cmd, log, env=clean_env({}), cwd=work)
    deadline = time.monotonic() + START_TIMEOUT
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        with (
            contextlib.suppress(OSError, ValueError),
            opener.open(f"http://127.0.0.1:{client}/health", timeout=1) as resp,
        ):
            if json.loads(resp.read()).get("health") == "true":
                return f"127.0.0.1:{client}", proc.pid
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"etcd did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def start_lightningstor(procs: Processes, work: Path, name: str, config: str) -> Target:
    work.mkdir(parents=True)
    (work / "config.toml").write_text(config)
    ports_file = work / "ports.json"
    cmd = [
        sys.executable, "-m", "lightningstor_api.main", "--config", str(work / "config.toml"),
        "--grpc-addr", "127.0.0.1:0", "--s3-addr", "127.0.0.1:0", "--data-dir", str(work / "data"),
    ]  # fmt: skip
    log = work / "server.log"
    env = clean_env({"LIGHTNINGSTOR_PORTS_FILE": str(ports_file)})
    proc = procs.start(cmd, log, env=env, cwd=work)
    deadline = time.monotonic() + START_TIMEOUT
    creds_file = work / "data" / "admin-credentials.json"
    while not (ports_file.exists() and creds_file.exists()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    ports = json.loads(ports_file.read_text())
    wait_port(int(ports["s3"].rpartition(":")[2]), proc, log)
    creds = json.loads(creds_file.read_text())
    return Target(
        name, ports["s3"], ports["grpc"], creds["access_key_id"], creds["secret_access_key"],
        [proc.pid],
    )  # fmt: skip


def run_workload(target: Target, w: Workload, args: argparse.Namespace) -> dict[str, str]:
    endpoint = target.s3 if w.api == "s3" else target.grpc
    assert endpoint is not None
    cmd = [
        sys.executable, "-m", "lightningstor_client.bench", "--api", w.api,
        "--endpoint", endpoint, "--access-key", target.access_key,
        "--secret-key", target.secret_key, "--bucket", f"bench-{w.bucket}", "--op", w.op,
        "--size", str(w.size), "--objects", str(w.objects), "--concurrency", str(w.concurrency),
        "--duration", str(args.duration), "--warmup", str(args.warmup), "--label", w.name,
        *(arg for pid in target.pids for arg in ("--server-pid", str(pid))), *w.extra,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    result: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = dict(p.split("=", 1) for p in line[7:].split(" ") if "=" in p)
    for line in done.stdout.splitlines():
        if not line.startswith("RESULT "):
            print(f"  [{target.name}] {line}", flush=True)
    if done.returncode != 0 or not result:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        print(f"  [{target.name}] {w.name} FAILED: " + " | ".join(tail), flush=True)
        return {}
    if done.stderr.strip():
        print(f"  [{target.name}] {done.stderr.strip().splitlines()[-1]}", flush=True)
    return result


def curl_speed(target: Target) -> float | None:
    """MB/s of ``curl`` downloading one 64 MiB object by presigned URL (best of three)."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    host, _, port = target.s3.rpartition(":")
    signer = Signer(target.access_key, target.secret_key)
    path = signer.presign("GET", uri_path("bench-large", "obj/0000000"), f"{host}:{port}")
    best = 0.0
    for _ in range(3):
        done = subprocess.run(
            [curl, "-s", "-f", "--noproxy", "*", "-o", "/dev/null", "-w", "%{speed_download}",
             f"http://{host}:{port}{path}"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return None
        best = max(best, float(done.stdout.strip() or 0))
    return best / 1e6


def bench_workload(targets: list[Target], w: Workload, args: argparse.Namespace) -> None:
    """``w`` against every server, one after the other (close in time, so a busy machine
    disturbs them alike)."""
    print(f"== {w.name}", flush=True)
    for target in targets:
        if target.reference and any(word in w.name for word in NO_REFERENCE):
            continue
        target.results[w.name] = run_workload(target, w, args)
        if w.name == "GET 64 MiB" and target.results[w.name]:
            speed = curl_speed(target)
            if speed is not None:
                target.results[w.name]["curl_mb_s"] = f"{speed:.1f}"
                print(f"  [{target.name}] curl, presigned GET 64 MiB: {speed:.1f} MB/s", flush=True)


TENANT_BINDINGS = "".join(
    f'[[iam.bindings]]\nprincipal = "tenant-{t}"\nrole = "editor"\norg = "bench-{t}"\n'
    for t in ("a", "b")
)


def _bench_cmd(
    target: Target, key: tuple[str, str], bucket: str, op: str, concurrency: int,
    duration: float, warmup: float, *, prepare: bool, extra: tuple[str, ...] = (),
) -> list[str]:  # fmt: skip
    return [
        sys.executable, "-m", "lightningstor_client.bench", "--api", "s3",
        "--endpoint", target.s3, "--access-key", key[0], "--secret-key", key[1],
        "--bucket", bucket, "--op", op, "--size", str(4 * KiB), "--objects", "200",
        "--concurrency", str(concurrency), "--duration", str(duration),
        "--warmup", str(warmup), *([] if prepare else ["--no-prepare"]), *extra,
    ]  # fmt: skip


def _result_of(stdout: str) -> dict[str, str]:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(p.split("=", 1) for p in line[7:].split(" ") if "=" in p)
    return {}


def tenant_bench(target: Target, args: argparse.Namespace) -> str:
    """Tenant B's GET latency: alone, beside tenant A's burst, beside A's burst under a limit."""
    from lightningstor_client import LightningStorClient, Quota
    from lightningstor_types.scope import Scope

    assert target.grpc is not None
    admin = LightningStorClient(
        target.grpc, access_key=target.access_key, secret_key=target.secret_key
    )
    keys: dict[str, tuple[str, str]] = {}
    with admin:
        for t in ("a", "b"):
            made = admin.create_access_key(principal_id=f"tenant-{t}", scope=Scope(f"bench-{t}"))
            keys[t] = (made.access_key_id, made.secret_access_key or "")
    for t, op in (("a", "head"), ("b", "get")):  # populate each tenant's bucket
        cmd = _bench_cmd(target, keys[t], f"bench-{t}", op, 4, 0.5, 0, prepare=True)
        subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    d, w = args.duration, args.warmup
    rows = [
        "| scenario | B p50 ms | B p99 ms | B GET/s | B errors | A HEAD/s answered | A refused/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def scenario(name: str, burst: bool, extra: tuple[str, ...] = ()) -> None:
        a = None
        if burst:  # A starts first and ends last: B's whole window is under the burst
            cmd = _bench_cmd(target, keys["a"], "bench-a", "head", args.burst, d + 2, w,
                             prepare=False, extra=extra)  # fmt: skip
            a = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        b_cmd = _bench_cmd(target, keys["b"], "bench-b", "get", 1, d, w + 1, prepare=False)
        b = _result_of(subprocess.run(b_cmd, capture_output=True, text=True, timeout=600).stdout)
        r = _result_of(a.communicate(timeout=600)[0]) if a is not None else {}
        refused = f"{int(r['errors']) / float(r['duration']):.0f}" if r else "—"
        print(f"  {name}: B {b} / A {r}", flush=True)
        rows.append(
            f"| {name} | {b.get('p50_ms', '—')} | {b.get('p99_ms', '—')} | "
            f"{b.get('ops_s', '—')} | {b.get('errors', '—')} | {r.get('ops_s', '—')} | "
            f"{refused} |"
        )

    scenario("B alone", burst=False)
    scenario(f"A burst ({args.burst} in flight), no limit", burst=True)
    with LightningStorClient(
        target.grpc, access_key=target.access_key, secret_key=target.secret_key
    ) as admin:
        admin.set_quota(Quota(requests_per_second=args.limit), org="bench-a")
    scenario(f"A burst, A limited to {args.limit}/s per process", burst=True)
    scenario("A burst, limited, A waits out Retry-After", True, ("--honor-retry-after",))
    return "\n".join(rows)


def _why(err: RuntimeError) -> str:
    """The last line of a failed server's log, or of the exception in its last JSON record."""
    lines = str(err).strip().splitlines()
    last = lines[-1] if lines else ""
    with contextlib.suppress(ValueError, AttributeError):
        record = json.loads(last)
        last = str(record.get("exc") or record.get("msg") or last).strip().splitlines()[-1]
    return last


def _value(t: Target | None, w: Workload) -> float | None:
    if t is None or not t.results.get(w.name):
        return None
    r = t.results[w.name]
    return float(r[w.metric]) if r.get("errors") == "0" else None


def _rss_per_transfer(t: Target | None, w: Workload) -> float | None:
    r = t.results.get(w.name) if t is not None else None
    if not r or r.get("server_rss_mib", "na") == "na":
        return None
    return (float(r["server_rss_peak_mib"]) - float(r["server_rss_mib"])) / w.concurrency


def _fmt(v: float | None) -> str:
    return "—" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:,.1f}")


def _ratio(v: float | None, ref: float | None) -> str:
    return "—" if v is None or not ref else f"{v / ref:.2f}"


def _extra_checks(w: Workload, emb: Target | None, etcd: Target | None) -> list[str]:
    """The issue's absolute targets: CPU per small request, CPU per GB, seconds per walk."""
    out = []
    for n, t in (("embedded", emb), ("etcd", etcd)):
        r = t.results.get(w.name) if t is not None else None
        if not r or r.get("errors") != "0" or r.get("server_cpu_ms_op", "na") == "na":
            continue
        cpu_ms = float(r["server_cpu_ms_op"])
        if w.name in ("GET 4 KiB", "HEAD 4 KiB") and n == "embedded":
            us = cpu_ms * 1000
            ok = "met" if us <= CPU_US_PER_REQUEST else "missed"
            out.append(f"CPU {us:.0f} µs/request ({ok}: ≤ {CPU_US_PER_REQUEST})")
        elif w.name == "GET 64 MiB" and n == "embedded":
            per_gb = cpu_ms / 1000 / (w.size / 1e9)
            ok = "met" if per_gb <= CPU_S_PER_GB else "missed"
            out.append(f"CPU {per_gb:.2f} s/GB ({ok}: ≤ {CPU_S_PER_GB})")
        elif w.op == "list" and n == "embedded" and float(r["keys_s"]) > 0:
            walk = w.objects / float(r["keys_s"])
            ok = "met" if walk <= LIST_WALK_S else "missed"
            out.append(f"{walk * 1000:.0f} ms/walk ({ok}: ≤ {LIST_WALK_S * 1000:.0f})")
    return out


def table(targets: dict[str, Target | None], pending: dict[str, str]) -> str:
    moto, rgw = targets.get("moto"), targets.get("rgw")
    emb, etcd = targets.get("embedded"), targets.get("etcd")
    rows = [
        "| workload | unit | moto | RGW | LS embedded | x moto | x RGW | LS etcd | x moto | x RGW "
        "| target (issue 17) | met? |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    s3_head = {n: _value(t, WORKLOADS[2]) for n, t in (("embedded", emb), ("etcd", etcd))}
    for w in WORKLOADS:
        m, g, e, d = _value(moto, w), _value(rgw, w), _value(emb, w), _value(etcd, w)
        goal, verdict = "", []
        if w.name in TARGETS:
            ge, gd = TARGETS[w.name]
            goal = f"≥ {ge:g}x RGW" + (f" (etcd ≥ {gd:g}x)" if gd else "")
            if ge is not None and e is not None and g:
                re_ = e / g
                verdict.append("met" if re_ >= ge else f"missed ({re_ / ge:.0%} of it)")
            if gd is not None and d is not None and g:
                rd = d / g
                verdict.append("etcd " + ("met" if rd >= gd else f"missed ({rd / gd:.0%})"))
        verdict += _extra_checks(w, emb, etcd)
        if w.name == "GET 64 MiB":
            goal = f"CPU ≤ {CPU_S_PER_GB} s/GB"
        if w.size >= MiB and w.api == "s3":
            for n, t in (("embedded", emb), ("etcd", etcd)):
                extra = _rss_per_transfer(t, w)
                if extra is not None:
                    ok = "met" if extra < 64 else "missed"
                    verdict.append(f"{n} RSS +{extra:.0f} MiB/transfer ({ok}: < 64)")
        if w.baseline:
            goal = f"≥ 0.85x {w.baseline}"
            for n, t in (("embedded", emb), ("etcd", etcd)):
                base = _value(t, next(b for b in WORKLOADS if b.name == w.baseline))
                v = _value(t, w)
                if v is not None and base:
                    verdict.append(f"{n} {'met' if v >= 0.85 * base else 'missed'} "
                                   f"({v / base:.2f}x)")  # fmt: skip
        if w.name.startswith("gRPC HeadObject"):
            goal = "≥ S3 HEAD rate"
            for n, v in (("embedded", e), ("etcd", d)):
                h = s3_head[n]
                if v is not None and h:
                    verdict.append(f"{n} {'met' if v >= h else 'missed'} ({v / h:.2f}x S3 HEAD)")
        elif w.name.startswith("gRPC streaming"):
            goal = f"≥ {GRPC_STREAM_MB_S} MB/s"
            for n, v in (("embedded", e), ("etcd", d)):
                if v is not None:
                    verdict.append(f"{n} {'met' if v >= GRPC_STREAM_MB_S else 'missed'}")
        etcd_cell = pending.get("etcd", _fmt(d)) if d is None else _fmt(d)
        rows.append(
            f"| {w.name} | {UNITS[w.metric]} | {_fmt(m)} | {_fmt(g)} | {_fmt(e)} | "
            f"{_ratio(e, m)} | {_ratio(e, g)} | {etcd_cell} | {_ratio(d, m)} | {_ratio(d, g)} | "
            f"{goal} | {'; '.join(verdict)} |"
        )
    rows += ["", "| server | workload | ops/s | MB/s | p50 ms | p99 ms | errors | server CPU ms/op "
             "| client CPU ms/op | server RSS MiB (start → peak) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    for t in targets.values():
        if t is None:
            continue
        for w in WORKLOADS:
            r = t.results.get(w.name)
            if w.name not in t.results:
                continue
            if not r:
                rows.append(f"| {t.name} | {w.name} | failed | | | | | | | |")
                continue
            curl = f" (curl {r['curl_mb_s']})" if "curl_mb_s" in r else ""
            rows.append(
                f"| {t.name} | {w.name} | {r['ops_s']} | {r['mb_s']}{curl} | {r['p50_ms']} | "
                f"{r['p99_ms']} | {r['errors']} | {r['server_cpu_ms_op']} | "
                f"{r['client_cpu_ms_op']} | {r['server_rss_mib']} → {r['server_rss_peak_mib']} |"
            )
    return "\n".join(rows)


@contextlib.contextmanager
def workdir(
    keep: bool, prefix: str = "lightningstor-bench-", base: Path | None = None
) -> Iterator[Path]:
    """A fresh temporary directory (under ``base``), removed at the end unless ``keep``."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        if keep:
            print(f"(logs and data kept in {path})")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=8.0, help="measured seconds per workload")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--only", default="moto,rgw,embedded,etcd,erasure")
    p.add_argument("--quick", action="store_true", help="skip the 10 000-key listing")
    p.add_argument(
        "--workloads", default="", help="only the workloads whose name contains this text"
    )
    p.add_argument("--out", type=Path, help="also write the table (Markdown) to this file")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    p.add_argument(
        "--processes",
        type=int,
        default=None,
        help="[server] processes of the LightningStor servers (default: theirs, one per CPU)",
    )
    p.add_argument(
        "--tenants",
        action="store_true",
        help="the noisy-neighbour workload only (tenant B beside tenant A's burst)",
    )
    p.add_argument("--burst", type=int, default=256, help="--tenants: A's requests in flight")
    p.add_argument(
        "--limit",
        type=int,
        default=100,
        help="--tenants: A's requests/s per server process in the limited run",
    )
    args = p.parse_args()
    if args.tenants:
        return main_tenants(args)
    only = set(args.only.split(","))
    if only == {"erasure"}:
        print(bench_erasure())
        return 0
    started = time.monotonic()
    load_before = os.getloadavg()
    targets: dict[str, Target | None] = {}
    pending: dict[str, str] = {}
    procs = Processes()
    stack = contextlib.ExitStack()
    server = "" if args.processes is None else f"[server]\nprocesses = {args.processes}\n"
    with workdir(args.keep) as work:
        try:
            if "moto" in only:
                targets["moto"] = start_moto(procs, work)
            if "rgw" in only:
                targets["rgw"] = start_rgw(stack, work / "rgw")
            if "embedded" in only:
                config = f'{server}[metadata]\nbackend = "embedded"\n'
                targets["embedded"] = start_lightningstor(
                    procs, work / "embedded", "embedded", config
                )
            if "etcd" in only:
                endpoint, etcd_pid = start_etcd(procs, work)
                config = f'{server}[metadata]\nbackend = "etcd"\nendpoints = ["{endpoint}"]\n'
                try:
                    targets["etcd"] = t = start_lightningstor(
                        procs, work / "etcd-ls", "etcd", config
                    )
                    t.pids.append(etcd_pid)  # etcd's CPU and memory count as the server's
                except RuntimeError as err:
                    print(f"LightningStor did not start on etcd: {_why(err)}", flush=True)
                    pending["etcd"] = "pending"
            running = [t for t in targets.values() if t is not None]
            for t in running:
                print(f"{t.name}: S3 {t.s3}, gRPC {t.grpc or '-'}, pids {t.pids}", flush=True)
            for w in WORKLOADS:
                if not (args.quick and w.op == "list") and args.workloads in w.name:
                    bench_workload(running, w, args)
        finally:
            procs.stop_all()
            stack.close()  # RGW's daemons
    out = table(targets, pending)
    header = (
        f"lightningstor bench: {os.cpu_count()} CPUs, loopback, LightningStor servers with "
        f"[server] processes = {_processes(args)}, {args.duration:g} s measured "
        f"after {args.warmup:g} s warm-up per workload; total {time.monotonic() - started:.0f} s; "
        f"load average (1 min) {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after "
        "(anything above ~1 means other work shared the CPUs)"
    )
    if "erasure" in only:
        out += "\n\n" + bench_erasure()
    print(f"\n{header}\n\n{out}")
    if args.out:
        args.out.write_text(f"{header}\n\n{out}\n")
    return 0


def _processes(args: argparse.Namespace) -> str:
    if args.processes is not None:
        return str(args.processes)
    return f"{usable_cpus()} (the default: one per usable CPU)"


def bench_erasure() -> str:
    """``scripts/bench_erasure.py --no-codec`` (it starts and stops its own nodes): its output."""
    script = Path(__file__).resolve().parent / "bench_erasure.py"
    print("replicated 3 against erasure 4+2 on seven storage nodes...", flush=True)
    done = subprocess.run(
        [sys.executable, str(script), "--no-codec"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"erasure bench failed ({done.returncode}):\n{done.stderr[-2000:]}"
    return done.stdout.rstrip()


def main_tenants(args: argparse.Namespace) -> int:
    """``--tenants``: one embedded LightningStor server, the three scenarios, a table."""
    started = time.monotonic()
    load_before = os.getloadavg()
    procs = Processes()
    processes = args.processes or usable_cpus()
    config = f'[server]\nprocesses = {processes}\n[metadata]\nbackend = "embedded"\n'
    with workdir(args.keep) as work:
        try:
            target = start_lightningstor(
                procs, work / "embedded", "embedded", config + TENANT_BINDINGS
            )
            out = tenant_bench(target, args)
        finally:
            procs.stop_all()
    header = (
        f"lightningstor bench --tenants: {os.cpu_count()} CPUs, loopback, LightningStor embedded "
        f"with [server] processes = {_processes(args)}; B: S3 GET 4 KiB, one at a time, "
        f"{args.duration:g} s measured; A: S3 HEAD 4 KiB, {args.burst} in flight; "
        f"total {time.monotonic() - started:.0f} s; load average (1 min) {load_before[0]:.1f} "
        f"before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"\n{header}\n\n{out}")
    if args.out:
        args.out.write_text(f"{header}\n\n{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
