"""Each distribution installs alone, with only its declared dependencies, and imports.

A uv workspace shares one environment, where a package can import another's dependency by
accident. Here each distribution is installed as a wheel (not editable) into a fresh venv of its
own, from uv.lock with ``uv sync --package`` (its own dependencies and those of its workspace
dependencies, nothing else, the dev tools excluded), and every one of its modules is imported.
After ``uv sync`` the third-party wheels come from uv's cache, so this needs no network; ours are
rebuilt from the working tree every time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# distribution -> (its import packages, the workspace distributions it depends on)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "lightningstor-types": (("lightningstor_types", "lightningstor"), frozenset()),
    "lightningstor-storage": (("lightningstor_storage",), frozenset({"lightningstor-types"})),
    "lightningstor-client": (("lightningstor_client",), frozenset({"lightningstor-types"})),
    "lightningstor-s3": (
        ("lightningstor_s3",),
        frozenset({"lightningstor-types", "lightningstor-client"}),
    ),
    "lightningstor-api": (
        ("lightningstor_api",),
        frozenset({"lightningstor-types", "lightningstor-storage"}),
    ),
}
ALL_PACKAGES = {pkg for packages, _ in DISTRIBUTIONS.values() for pkg in packages}

# Runs inside the fresh venv: import every module of the given packages (warnings are errors),
# then print which lightningstor packages and distributions the venv can see.
IMPORT_ALL = """
import importlib, importlib.metadata, importlib.util, pkgutil, sys

def fail(name):
    raise ImportError(f"cannot import {name}")

count = 0
for top in sys.argv[1].split(","):
    package = importlib.import_module(top)
    count += 1
    for info in pkgutil.walk_packages(package.__path__, top + ".", onerror=fail):
        importlib.import_module(info.name)
        count += 1
print("modules", count)
for name in sys.argv[2].split(","):
    spec = importlib.util.find_spec(name)
    print("package", name, spec.origin if spec else "-")
for dist in importlib.metadata.distributions():
    if dist.metadata["Name"].startswith("lightningstor"):
        print("dist", dist.metadata["Name"])
"""


def uv_binary() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")  # `uv run` sets UV to its own binary
    if uv is None:
        pytest.fail("uv not found: run the tests with `uv run pytest` or `make test`")
    return uv


@pytest.mark.slow
@pytest.mark.parametrize("dist", sorted(DISTRIBUTIONS))
def test_distribution_installs_alone_and_imports(dist: str, tmp_path: Path) -> None:
    packages, workspace_deps = DISTRIBUTIONS[dist]
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_PYTHON_DOWNLOADS="never")
    sync = subprocess.run(
        [
            uv_binary(),
            "sync",
            "--quiet",
            "--locked",
            "--package",
            dist,
            "--no-dev",
            "--no-editable",
            "--python",
            sys.executable,
            # uv reuses a built wheel of a local project until its pyproject.toml changes;
            # rebuild ours from the sources as they are now.
            *(f"--reinstall-package={d}" for d in (dist, *sorted(workspace_deps))),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr

    done = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-W",
            "error",
            "-c",
            IMPORT_ALL,
            ",".join(packages),
            ",".join(sorted(ALL_PACKAGES)),
        ],
        cwd=tmp_path,  # not the repository: nothing importable by accident
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    lines = done.stdout.splitlines()
    origins = dict(
        line.removeprefix("package ").split(" ", 1) for line in lines if line.startswith("package ")
    )
    visible = {name for name, origin in origins.items() if origin != "-"}
    expected_packages = {pkg for d in {dist, *workspace_deps} for pkg in DISTRIBUTIONS[d][0]}
    assert visible == expected_packages
    for name in visible:  # installed as wheels into the venv, not editable from the tree
        assert origins[name].startswith(str(venv)), (name, origins[name])
    assert {line.split(" ", 1)[1] for line in lines if line.startswith("dist ")} == {
        dist,
        *workspace_deps,
    }
