"""The ``lightningstor`` CLI run in process against a real server, with a given key."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from lightningstor_client.cli import main
from tests.integration.server import ServerProcess


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def run_cli(
    monkeypatch: pytest.MonkeyPatch, server: ServerProcess, keys: Mapping[str, str], *args: str
) -> Run:
    """``lightningstor --endpoint … ARGS`` signed with ``keys``; its exit code and output."""
    monkeypatch.delenv("LIGHTNINGSTOR_TOKEN", raising=False)
    monkeypatch.setenv("LIGHTNINGSTOR_ACCESS_KEY_ID", keys["access_key"])
    monkeypatch.setenv("LIGHTNINGSTOR_SECRET_ACCESS_KEY", keys["secret_key"])
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--endpoint", server.grpc_addr, *args])
        except SystemExit as exc:  # as the interpreter would: a message goes to stderr, code 1
            if isinstance(exc.code, str):
                print(exc.code, file=err)
            code = exc.code if isinstance(exc.code, int) else 1
    return Run(code, out.getvalue(), err.getvalue())
