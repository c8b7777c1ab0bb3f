"""Regenerate the protobuf code committed in lightningstor_types (or --check that it is current).

The generated modules live under ``lightningstor_types/src/lightningstor/``, an import path that
mirrors the proto packages, so generated imports resolve without rewriting.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "lightningstor_types" / "src" / "lightningstor"
PACKAGE_DOC = (
    '"""Generated protobuf code (package path mirrors proto/); '
    'regenerate with scripts/gen_protos.py."""\n'
)


def generate(into: Path, proto_dir: Path = PROTO_DIR) -> None:
    """Run protoc (grpcio-tools + mypy-protobuf) on every .proto into ``into``/lightningstor."""
    import grpc_tools  # type: ignore[import-untyped]  # dev dependency, only needed here

    protos = sorted(str(p.relative_to(proto_dir)) for p in proto_dir.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{proto_dir}",
        f"-I{well_known}",
        f"--python_out={into}",
        f"--grpc_python_out={into}",
        f"--mypy_out={into}",
        f"--mypy_grpc_out={into}",
        *protos,
    ]
    # protoc finds the mypy-protobuf plugins on PATH: put this interpreter's scripts first, so
    # the script also works run by a venv's python without the venv activated.
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    done = subprocess.run(cmd, check=False, cwd=proto_dir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"protoc failed (exit {done.returncode})")
    for directory in [into / "lightningstor", *(into / "lightningstor").rglob("*")]:
        if directory.is_dir():
            (directory / "__init__.py").write_text(PACKAGE_DOC)
    (into / "lightningstor" / "py.typed").write_text("")


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two trees (ignoring caches)."""
    out: list[str] = []
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])

    def walk(c: filecmp.dircmp[str], rel: Path) -> None:
        out.extend(str(rel / n) for n in c.left_only + c.right_only + c.funny_files)
        for name in c.common_files:
            if (Path(c.left) / name).read_bytes() != (Path(c.right) / name).read_bytes():
                out.append(str(rel / name))
        for name, sub in c.subdirs.items():
            walk(sub, rel / name)

    walk(cmp, Path())
    return sorted(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    parser.add_argument(
        "--proto-dir",
        type=Path,
        default=PROTO_DIR,
        help="root of the .proto sources (default: proto/)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=OUT_DIR,
        help="the generated package (default: lightningstor_types/src/lightningstor)",
    )
    args = parser.parse_args()
    proto_dir: Path = args.proto_dir.resolve()
    out_dir: Path = args.out_dir.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), proto_dir)
        fresh = Path(tmp) / "lightningstor"
        if args.check:
            stale = differences(fresh, out_dir) if out_dir.exists() else ["(missing)"]
            if stale:
                print("generated protobuf code is stale; run scripts/gen_protos.py:", *stale)
                return 1
            print("generated protobuf code is current")
            return 0
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(fresh, out_dir, ignore=shutil.ignore_patterns("__pycache__"))
    print(f"generated into {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
