"""One --quick run of the ingest benchmark reports every section, live ones counted in the real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.network
def test_quick_run_reports_every_section(tmp_path: Path) -> None:
    out = tmp_path / "ingest.json"
    out.write_text(json.dumps({"sections": {"older": {"kept": True}}}))
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    saved = json.loads(out.read_text())
    sections = saved["sections"]
    assert sections["older"] == {"kept": True}, "sections that did not run keep their numbers"

    for layout in ("long", "wide"):
        batch = sections["batch"][layout]
        assert batch["samples"] == 20 * 7_200
        assert batch["ratio"] == batch["ingest_s"] / batch["raw_duckdb_s"]
    assert sections["query"]["grid_rows"] == 120
    durability = sections["durability"]
    assert durability["group_commits"] < durability["samples"] / durability["batch"]

    sustained = sections["mqtt_sustained"]
    assert sustained["sent"] > 0 and sustained["zero_loss"] is True
    assert sustained["sent"] == sustained["acked_by_broker"] == sustained["stored_in_store"]
    assert sustained["commits"] >= 1 and sustained["quarantined"] == 0

    peak = sections["mqtt_peak"]["rows"]
    for label, row in peak.items():
        assert row["messages_per_s"] > 0, label
        assert all(drain["received"] >= drain["queued"] > 0 for drain in row["runs"]), label
    for label in ("JSON source → counting sink", "JSON source → DuckDB store (durable)"):
        for drain in peak[label]["runs"]:
            assert drain["stored"] == drain["queued"], f"{label}: one sample per JSON message"

    opcua = sections["opcua"]["rows"]["OPC UA source → DuckDB store (durable)"]
    assert opcua["stored_in_store"] > 0 and opcua["lost"] == 0
    assert opcua["stored_in_store"] + opcua["quarantined"] == opcua["notifications"]

    assert saved["run"]["quick"] is True and len(saved["run"]["load_average_before"]) == 3
    assert "ZERO LOSS" in run.stdout and "× rate" in run.stdout
