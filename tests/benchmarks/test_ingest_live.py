"""The live-ingest benchmark runs end to end in --quick mode and reports zero loss."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.network
@pytest.mark.slow
def test_quick_benchmark_runs_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "ingest_live.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest_live.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())
    sustained = results["mqtt_sustained"]
    assert (
        sustained["sent"] > 0
        and sustained["lost"] == 0
        and sustained["stored"] == sustained["acked_by_broker"]
    )
    for name, row in results["mqtt_peak"]["rows"].items():
        assert row["received"] >= row["queued"], name
    assert results["opcua"]["rows"]["worldtwin OPC UA source"]["samples_per_s"] > 0
    assert "ZERO LOSS" in run.stdout and "ratio" in run.stdout
