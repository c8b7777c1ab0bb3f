"""The project's documents stand alone: docs/architecture.md is the map, every "§N" pointing at
it names a section it has, and nothing points at a design file outside the project."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ("../" + "shared", "DESIGN" + ".md")  # split, so that this file does not match itself


def _tracked() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    return [ROOT / n for n in names if n.endswith((".md", ".py", ".toml", ".sh", ".proto"))]


def test_nothing_points_outside_the_project() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in _tracked()
        for needle in OUTSIDE
        if needle in path.read_text(errors="replace")
    ]
    assert not found


def test_every_section_reference_exists_and_the_readme_links_the_map() -> None:
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    sections = set(re.findall(r"^## (\d+)\. ", architecture, re.M))
    assert {"1", "4", "5", "7", "9"} <= sections
    refs = {
        (path.relative_to(ROOT).as_posix(), ref)
        for path in _tracked()
        for ref in re.findall(r"architecture\.md §(\d+)", path.read_text(errors="replace"))
    }
    assert refs, "the code refers to the map's sections"
    assert not {r for r in refs if r[1] not in sections}
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()
