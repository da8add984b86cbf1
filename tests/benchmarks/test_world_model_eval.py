"""The world-model evaluation benchmark runs end to end in --quick mode and writes its JSON and Markdown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_writes_results(tmp_path: Path) -> None:
    out, page = tmp_path / "eval.json", tmp_path / "results.md"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "world_model_eval.py"),
        "--quick",
        "--json",
        str(out),
        "--markdown",
        str(page),
    ]
    run = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert [p["plant"] for p in report["plants"]] == ["tanks", "sensors"]
    tanks, sensors = report["plants"]
    assert set(tanks["forecasts"]["models"]) >= {"persistence", "arx", "mlp", "darts"}
    assert set(tanks["detection"]["auroc"]["zscore"]) == {"stuck", "drift", "spike", "bias"}
    assert len(sensors["targets"]) == 16 and sensors["detection"] is None
    arx = tanks["forecasts"]["models"]["arx"]["nrmse_mean"]
    persistence = tanks["forecasts"]["models"]["persistence"]["nrmse_mean"]
    assert arx["10"] < persistence["10"]
    text = page.read_text()
    assert (
        "python benchmarks/world_model_eval.py --quick" in text and "## tanks" in text and "×arx h=10" in text
    )
