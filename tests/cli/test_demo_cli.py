"""The demo (what `make demo` runs) end to end, in its quick size."""

from __future__ import annotations

import json
from pathlib import Path

from worldtwin.model import WorldModel
from worldtwin.sim.registry import spec_of
from worldtwin.telemetry.table import read_table


def test_demo_runs_every_stage_and_writes_its_outputs(cli, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = cli("demo", "--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for name in ("cstr.parquet", "dataset.png", "forecast.png", "summary.json", "model/model.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    twin = spec_of("worldtwin/cstr-v1")
    data = read_table(out / "cstr.parquet")
    assert summary["data"]["rows"] == len(data)
    assert summary["data"]["samples_stored"] == len(data) * len(twin.tag_names)
    assert summary["data"]["samples_quarantined"] == 0
    assert set(summary["forecasts"]) == {"world model", "persistence", "arx"}
    for row in summary["forecasts"].values():
        assert 0.0 < row["nrmse_h1"] < 5.0 and 0.0 <= row["coverage"] <= 1.0
    assert set(summary["detection"]) == {"world model", "z-score"}
    assert "NRMSE h10" in result.stdout and "fault detection" in result.stdout
    model = WorldModel.load(out / "model")
    assert model.predicted_names == twin.predicted_names
