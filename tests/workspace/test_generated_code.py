"""The protobuf code committed in lightningstor_types is what proto/ generates; the check bites."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GEN_PROTOS = ROOT / "scripts" / "gen_protos.py"
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "lightningstor_types" / "src" / "lightningstor"


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GEN_PROTOS), "--check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_committed_code_is_current() -> None:
    done = run_check()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "current" in done.stdout


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """proto/ and the generated tree, copied where a test may change them."""
    proto = tmp_path / "proto"
    out = tmp_path / "src" / "lightningstor"
    shutil.copytree(PROTO_DIR, proto)
    shutil.copytree(OUT_DIR, out, ignore=shutil.ignore_patterns("__pycache__"))
    done = run_check("--proto-dir", str(proto), "--out-dir", str(out))
    assert done.returncode == 0, done.stdout + done.stderr  # the copies start out current
    return proto, out


def test_check_catches_a_changed_proto(copies: tuple[Path, Path]) -> None:
    proto, out = copies
    source = sorted(proto.rglob("*.proto"))[0]
    source.write_text(source.read_text() + "\nmessage StalenessProbe { string probe = 1; }\n")
    done = run_check("--proto-dir", str(proto), "--out-dir", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stale" in done.stdout
    assert source.stem + "_pb2.py" in done.stdout


def test_check_catches_a_missing_or_extra_file(copies: tuple[Path, Path]) -> None:
    proto, out = copies
    victim = sorted(out.rglob("*_pb2.pyi"))[0]
    victim.unlink()
    (out / "leftover_pb2.py").write_text("")
    done = run_check("--proto-dir", str(proto), "--out-dir", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    assert victim.name in done.stdout
    assert "leftover_pb2.py" in done.stdout


def test_regenerating_into_a_copy_reproduces_the_committed_code(tmp_path: Path) -> None:
    out = tmp_path / "lightningstor"
    done = subprocess.run(
        [sys.executable, str(GEN_PROTOS), "--out-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_check("--out-dir", str(out)).returncode == 0
