"""The Python client explains itself: every public method of both clients has a docstring,
``help()`` of the blocking client shows blocking signatures, and docs/client.md has every method
with an example."""

from __future__ import annotations

import inspect
import pydoc
import re
from pathlib import Path

from lightningstor_client import AsyncLightningStorClient, LightningStorClient

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def _methods(cls: type) -> list[str]:
    return sorted(n for n, v in inspect.getmembers(cls) if not n.startswith("_") and callable(v))


def test_every_method_of_both_clients_has_a_docstring() -> None:
    for cls in (AsyncLightningStorClient, LightningStorClient):
        missing = [n for n in _methods(cls) if not inspect.getdoc(getattr(cls, n))]
        assert not missing, f"{cls.__name__}: {missing}"


def test_help_of_the_blocking_client_shows_blocking_signatures() -> None:
    text = pydoc.render_doc(LightningStorClient, renderer=pydoc.plaintext)
    signatures = [line for line in text.splitlines() if re.match(r"\s*\|\s+\w+\(self", line)]
    assert len(signatures) >= len(_methods(LightningStorClient)) - 1
    assert not [s for s in signatures if "Async" in s or "Coroutine" in s]
    assert "iter_objects(self, bucket: 'str'" in text
    assert inspect.signature(LightningStorClient.iter_objects).return_annotation == (
        "Iterator[ObjectInfo]"
    )
    assert inspect.signature(LightningStorClient.get_object).return_annotation == "ObjectStream"
    assert LightningStorClient.create_bucket.__module__ == "lightningstor_client._sync"


def test_the_guide_has_every_method_with_an_example() -> None:
    guide = GUIDE.read_text()
    sections = re.split(r"^### ", guide, flags=re.M)[1:]
    for name in _methods(LightningStorClient):
        section = next((s for s in sections if re.search(rf"`{name}\(", s.split("\n")[0])), None)
        assert section is not None, f"docs/client.md has no section for {name}"
        if name != "close":
            assert f"{name}(" in section.split("\n", 1)[1], f"{name}: no example"
