"""``worldtwin evaluate`` end to end on a small plant (baselines; the world model plugs in the same way)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from worldtwin.cli import app
from worldtwin.errors import DataError, ModelError
from worldtwin.spec.loading import load_spec
from worldtwin.telemetry.table import read_table, write_table

SPEC = """
spec_version: 1
metadata: {name: tanks}
sample_period: 1 s
tags:
  - {name: h1, unit: m}
  - {name: h2, unit: m}
  - {name: q, unit: m^3/s, kind: action, range: [0.3, 1.0]}
actions:
  - {tag: q, bounds: [0.3, 1.0]}
model: {latent_dim: 8, history: 2, rollout_steps: 4, ensemble: 2}
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("evaluate")
    rng = np.random.default_rng(0)
    rows = []
    for episode in range(10):
        h = rng.uniform(0.5, 1.5, 2)
        for k in range(90):
            q = 0.3 + 0.7 * ((k // 12 + episode) % 3) / 2
            rows.append((episode, float(k), *(h + 0.01 * rng.standard_normal(2)), q))
            out1, out2 = 0.6 * np.sqrt(h[0]), 0.6 * np.sqrt(h[1])
            h = np.maximum(h + 0.2 * np.array([q - out1, out1 - out2]), 1e-3)
    data = write_table(
        pd.DataFrame(rows, columns=["episode", "time", "h1", "h2", "q"]), folder / "data.parquet"
    )
    spec = folder / "tanks.yaml"
    spec.write_text(SPEC)
    return data, spec


def test_evaluate_baselines_writes_table_json_and_plot(files: tuple[Path, Path], tmp_path: Path) -> None:
    data, spec = files
    out, plot = tmp_path / "eval.json", tmp_path / "eval.png"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "-",
            str(data),
            "--spec",
            str(spec),
            "--baselines",
            "persistence,arx",
            "--horizons",
            "1,10",
            "--origins",
            "40",
            "--faults",
            "--json",
            str(out),
            "--plot",
            str(plot),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "open-loop forecasts on 40 origins" in result.output and "fault detection on" in result.output
    document = json.loads(out.read_text())
    models = document["forecasts"]["models"]
    assert set(models) == {"persistence", "arx"} and document["forecasts"]["horizons"] == [1, 10]
    assert models["arx"]["nrmse_mean"]["10"] < models["persistence"]["nrmse_mean"]["10"]
    assert set(document["detection"]["auroc"]) == {"arx", "zscore"}
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_a_folder_without_a_model_is_a_clear_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = files
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path), str(data)])
    assert isinstance(result.exception, ModelError)  # worldtwin.cli.main prints it as one line, exit status 2
    assert str(tmp_path) in str(result.exception) or "MODEL_DIR '-'" in str(result.exception)


@pytest.mark.parametrize("horizons", ["0,5", "ten", ""])
def test_bad_horizons_are_refused(files: tuple[Path, Path], horizons: str) -> None:
    data, spec = files
    result = CliRunner().invoke(
        app, ["evaluate", "-", str(data), "--spec", str(spec), "--horizons", horizons]
    )
    assert isinstance(result.exception, DataError) and "--horizons" in str(result.exception)


@pytest.mark.skipif(
    getattr(importlib.import_module("worldtwin.model"), "train", None) is None,
    reason="needs the world model (worldtwin.train), which this build does not have yet",
)
def test_evaluate_a_trained_world_model_next_to_baselines(files: tuple[Path, Path], tmp_path: Path) -> None:
    import worldtwin

    data, spec = files
    table = read_table(data)
    train_part, held_out = table[table.episode < 7], table[table.episode >= 7]
    config = importlib.import_module("worldtwin.model").TrainConfig(max_steps=40, eval_every=20, seed=0)
    worldtwin.train(train_part, load_spec(spec), config).save(tmp_path / "wm")
    write_table(train_part, tmp_path / "train.parquet")
    write_table(held_out, tmp_path / "held_out.parquet")
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            str(tmp_path / "wm"),
            str(tmp_path / "held_out.parquet"),
            "--train",
            str(tmp_path / "train.parquet"),
            "--baselines",
            "persistence,arx",
            "--horizons",
            "1,5",
            "--origins",
            "20",
            "--faults",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert set(document["forecasts"]["models"]) == {"world model", "persistence", "arx"}
    assert set(document["detection"]["auroc"]) == {"world model", "arx", "zscore"}
