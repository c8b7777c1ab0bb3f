"""Imports run one way only (docs/architecture.md §1): the import-linter contracts hold, cover every
forbidden direction, and really catch a forbidden import."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

TYPES, STORAGE, S3, API, CLIENT = (
    "lightningstor_types",
    "lightningstor_storage",
    "lightningstor_s3",
    "lightningstor_api",
    "lightningstor_client",
)
# docs/architecture.md §1: what each package may import of ours; everything else of ours is
# forbidden.
ALLOWED = {
    TYPES: set[str](),
    STORAGE: {TYPES},
    CLIENT: {TYPES},
    S3: {TYPES, CLIENT},
    API: {TYPES, STORAGE},
}


def lint_imports(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_contracts_hold() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_contracts_forbid_every_direction_the_design_forbids() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert set(config["root_packages"]) >= set(ALLOWED)
    forbidden = {
        (source, target)
        for contract in config["contracts"]
        if contract["type"] == "forbidden"
        for source in contract["source_modules"]
        for target in contract["forbidden_modules"]
    }
    expected = {
        (source, target)
        for source, allowed in ALLOWED.items()
        for target in ALLOWED
        if target != source and target not in allowed
    }
    assert expected <= forbidden, sorted(expected - forbidden)


def test_a_forbidden_import_is_caught(tmp_path: Path) -> None:
    # lightningstor_api imports lightningstor_types (the core takes the generated messages and
    # the domain types). A contract forbidding that direction must break.
    config = tmp_path / "importlinter.toml"
    config.write_text(
        f"""
[tool.importlinter]
root_packages = ["{TYPES}", "{API}"]
include_external_packages = false

[[tool.importlinter.contracts]]
name = "probe: api may not import types"
type = "forbidden"
source_modules = ["{API}"]
forbidden_modules = ["{TYPES}"]
"""
    )
    done = lint_imports("--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "probe: api may not import types BROKEN" in done.stdout
    assert f"{API}." in done.stdout
    assert f"-> {TYPES}" in done.stdout
