"""The world-model benchmarks run in --quick mode and write their results JSON (timings are not tested)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def _run(script: str, *args: str) -> str:
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick", "--threads", "1", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_train_speed_quick(tmp_path: Path) -> None:
    out = _run("train_speed.py", "--out", str(tmp_path / "train_speed.json"))
    assert "default (to completion)" in out and "step ratio" in out
    runs = json.loads((tmp_path / "train_speed_quick.json").read_text())["runs"]
    assert set(runs) == {
        "default (to completion)",
        "default, fixed steps",
        "ensemble=1",
        "2 torch threads",
        "transformer",
    }
    assert all(r["ms_per_step"] > 0 for r in runs.values())


def test_wm_sweep_quick(tmp_path: Path) -> None:
    out = _run(
        "wm_sweep.py",
        "--plants",
        "tanks",
        "--variants",
        "default,lambda=0",
        "--out",
        str(tmp_path / "sweep.json"),
    )
    assert "model/ARX" in out
    results = json.loads((tmp_path / "sweep_quick.json").read_text())["results"]
    assert [r["variant"] for r in results] == ["default", "lambda=0"]
    assert set(results[0]["nrmse"]) == {"model", "plain", "anchored", "persistence", "arx"}


def test_wm_surprise_quick(tmp_path: Path) -> None:
    out = _run("wm_surprise.py", "--horizons", "1,10", "--out", str(tmp_path / "surprise.json"))
    assert "h=10" in out
    auroc = json.loads((tmp_path / "surprise_quick.json").read_text())["auroc"]
    assert set(auroc) == {"Ca", "T"} and set(auroc["T"]) == {"stuck", "drift", "spike"}
    assert all(
        0.0 <= v <= 1.0 for by_fault in auroc.values() for by_h in by_fault.values() for v in by_h.values()
    )
