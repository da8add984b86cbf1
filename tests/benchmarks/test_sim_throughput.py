from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BUILT_IN = {
    "worldtwin/cstr-v1",
    "worldtwin/thermal-storage-v1",
    "worldtwin/packaging-line-v1",
    "gym/pendulum-v1",
}
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "sim_throughput.py"


def test_quick_mode_covers_every_registered_twin(tmp_path: Path) -> None:
    out = tmp_path / "throughput.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    modes = {(row["twin"], row["mode"], row["batch"]) for row in report["results"]}
    # The registry as a fresh process sees it (other tests may register test twins in this one).
    assert set(report["twins"]) >= BUILT_IN
    for twin_id in report["twins"]:
        assert (twin_id, "env.step", 1) in modes
        assert any(t == twin_id and batch > 1 for t, _, batch in modes)  # a batched figure for every twin
    assert ("worldtwin/cstr-v1", "transition (numpy)", 1024) in modes
    assert ("worldtwin/cstr-v1", "peer: scipy solve_ivp DOP853", 1) in modes
    assert all(row["steps_per_s"] > 0 and row["sim_hours_per_s"] > 0 for row in report["results"])
    assert report["cstr_accuracy"]["twin RK4"] < 1e-6
    assert "vs env.step" in done.stdout
