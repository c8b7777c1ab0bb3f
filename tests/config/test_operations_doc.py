"""docs/operations.md documents every configuration field: adding one without docs fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from lightningstor_types.config import Settings, StorageNodeSettings
from tests.config.test_config import _fields

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


@pytest.mark.parametrize("model", [Settings, StorageNodeSettings])
def test_every_field_and_section_is_in_the_operations_doc(model: type[BaseModel]) -> None:
    text = DOC.read_text()
    missing = sorted(
        f"{table}.{name}".lstrip(".")
        for table, name in _fields(model)
        if f"`{name}`" not in text or (table and f"[{table}]" not in text)
    )
    assert not missing, f"docs/operations.md does not document: {missing}"


def test_the_readme_links_the_operations_doc() -> None:
    readme = (DOC.parents[1] / "README.md").read_text()
    assert "(docs/operations.md)" in readme
    assert readme.index("make run") < readme.index("docs/operations.md")
