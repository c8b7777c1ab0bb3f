"""The IAM server as an operated process: JSON logs with fields, and its process metrics on
``metrics.addr``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.iam.iamproc import running_iam, write_config
from tests.ops.test_observability import assert_process_metrics, get


def test_iam_server_logs_json_and_serves_process_metrics(tmp_path: Path) -> None:
    config = write_config(tmp_path / "iam.toml", '[iam]\n[metrics]\naddr = "127.0.0.1:0"\n')
    with running_iam(tmp_path / "iam", config) as iam:
        ports = json.loads((iam.workdir / "iam-ports.json").read_text())
        status, body, _ = get(f"http://{ports['metrics']}/metrics")
        assert status == 200
        assert_process_metrics(body.decode())
        assert get(f"http://{ports['metrics']}/ready")[0] == 200
        lines = (iam.workdir / "iam.log").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
        listening = [r for r in records if r["msg"] == "iam listening"]
        assert len(listening) == 1 and listening[0]["addr"] == iam.addr, records
        assert listening[0]["level"] == "info" and listening[0]["logger"] == "lightningstor.iam"
