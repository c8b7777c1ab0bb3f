"""`make run` installs what the server needs and nothing of the test tooling; `make test` all."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("pytest", "boto3", "moto", "selenium", "mypy", "awscli")


def _make_n(target: str) -> list[str]:
    # Under `make test` (CI) this make is a sub-make: without the parent's variables and with
    # --no-print-directory it prints only the recipe ("make[1]: Entering directory" otherwise).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", target],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.splitlines()


def test_make_run_bootstraps_the_runtime_only_and_make_test_everything() -> None:
    run = _make_n("run")
    assert run[0] == "scripts/bootstrap.sh --runtime"
    # A plain `uv run` would sync the default groups, dev tools included, before starting.
    assert any(line.startswith("uv run --no-sync lightningstor-server") for line in run)
    test = _make_n("test")
    assert "scripts/bootstrap.sh" in test
    assert "scripts/bootstrap.sh --runtime" not in test


@pytest.mark.slow
def test_the_runtime_bootstrap_installs_a_server_without_the_dev_tools(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run(
        ["scripts/bootstrap.sh", "--runtime"], cwd=ROOT, env=env, check=True, timeout=600
    )
    site = next((venv / "lib").glob("python3*/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert {"grpcio", "cryptography", "lightningstor_api", "lightningstor_s3"} <= installed
    assert not installed & set(DEV_ONLY)
    done = subprocess.run(
        [str(venv / "bin" / "lightningstor-server"), "--help"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage: lightningstor-server" in done.stdout
