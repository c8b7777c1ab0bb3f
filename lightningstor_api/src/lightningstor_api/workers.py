"""Which process of a server this is (``[server] processes``), and where the workers meet.

With ``processes = 1`` a server is one process: :data:`SINGLE`. With N > 1 the supervisor
(:mod:`lightningstor_api.supervisor`) starts N workers, each with ``$LIGHTNINGSTOR_WORKER``
holding its index and the addresses the supervisor resolved (a port 0 chosen once for all).
Worker 0 is the primary: it alone does the once-only and background work. Each worker serves
its own metrics page on ``{data_dir}/run/worker-{index}.sock``.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lightningstor_types.config import Settings
from lightningstor_types.files import PORTS_FILE_ENV

WORKER_ENV = "LIGHTNINGSTOR_WORKER"
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in its server: index ``index`` of ``count`` processes."""

    index: int = 0
    count: int = 1
    supervisor_pid: int | None = None

    @property
    def primary(self) -> bool:
        """Whether this process does the once-only and background work (worker 0)."""
        return self.index == 0

    @property
    def shared(self) -> bool:
        """Whether several processes share the addresses (SO_REUSEPORT, merged metrics)."""
        return self.count > 1


SINGLE = WorkerRole()
"""The one process of a ``processes = 1`` server."""


def run_dir(settings: Settings) -> Path:
    """``{data_dir}/run``: the workers' private sockets and ports files (mode 0700)."""
    return settings.server.data_dir / "run"


def socket_path(settings: Settings, index: int) -> Path:
    """The private unix socket where worker ``index`` serves its own metrics page."""
    return run_dir(settings) / f"worker-{index}.sock"


def ports_path(settings: Settings, index: int) -> Path:
    """Where worker ``index`` writes its bound addresses once it listens."""
    return run_dir(settings) / f"worker-{index}.ports.json"


def make_run_dir(settings: Settings) -> Path:
    """Create ``{data_dir}/run`` readable only by its owner (it holds the metrics sockets)."""
    path = run_dir(settings)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def worker_environment(
    role: WorkerRole, addresses: Mapping[str, str | None], ports_file: Path
) -> dict[str, str]:
    """The variables that make a re-executed server worker ``role.index``."""
    document = {
        "index": role.index,
        "count": role.count,
        "supervisor_pid": role.supervisor_pid,
        "addresses": dict(addresses),
    }
    return {WORKER_ENV: json.dumps(document), PORTS_FILE_ENV: str(ports_file)}


def worker_settings(
    settings: Settings, environ: Mapping[str, str] = os.environ
) -> tuple[Settings, WorkerRole]:
    """This process's role, and its settings with the addresses its supervisor resolved."""
    raw = environ.get(WORKER_ENV)
    if not raw:
        return settings, SINGLE
    document = json.loads(raw)
    role = WorkerRole(int(document["index"]), int(document["count"]), document["supervisor_pid"])
    addresses: dict[str, str | None] = document["addresses"]
    server = settings.server.model_copy(
        update={"grpc_addr": addresses["grpc_addr"], "s3_addr": addresses["s3_addr"]}
    )
    metrics = settings.metrics.model_copy(update={"addr": addresses["metrics_addr"]})
    return settings.model_copy(update={"server": server, "metrics": metrics}), role


def follow_supervisor(role: WorkerRole) -> None:
    """Get SIGTERM when the supervisor dies (even by SIGKILL), so no worker outlives it."""
    if role.supervisor_pid is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != role.supervisor_pid:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
