"""``worldtwin train`` end to end: a CSV in, a model directory out, errors as messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.model.plant import ANGLE, DRIVE, RATE, pendulum_spec, pendulum_table
from worldtwin.cli import app
from worldtwin.spec.loading import save_spec

runner = CliRunner()


@pytest.fixture(autouse=True)
def one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def test_train_from_a_csv_with_obs_and_act_writes_a_loadable_model(tmp_path: Path) -> None:
    data = tmp_path / "pendulum log.csv"
    pendulum_table(10, 80, seed=1).to_csv(data, index=False)
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            str(data),
            "--obs",
            f"{ANGLE},{RATE}",
            "--act",
            DRIVE,
            "--out",
            str(out),
            "--steps",
            "30",
            "--latent-dim",
            "8",
            "--ensemble",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "held-out NRMSE" in result.output
    assert {p.name for p in out.iterdir()} >= {
        "model.json",
        "weights.safetensors",
        "curves.png",
        "MODEL_CARD.md",
    }
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["spec"]["metadata"]["name"] == "pendulum-log"
    assert manifest["net"]["latent_dim"] == 8 and manifest["net"]["ensemble"] == 2

    from worldtwin.model import WorldModel

    wm = WorldModel.load(out)
    episode = pendulum_table(1, 30, seed=2)
    assert wm.forecast(episode.iloc[:10], episode.iloc[10:30]).mean.shape == (20, 2)


def test_train_with_a_spec(tmp_path: Path) -> None:
    data, spec = tmp_path / "log.parquet", tmp_path / "pendulum.yaml"
    pendulum_table(10, 80, seed=3).to_parquet(data)
    save_spec(pendulum_spec(), spec)
    result = runner.invoke(
        app, ["train", str(data), "--spec", str(spec), "--out", str(tmp_path / "m"), "--steps", "20"]
    )
    assert result.exit_code == 0, result.output


def test_bad_input_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    data, spec = tmp_path / "log.csv", tmp_path / "pendulum.yaml"
    pendulum_table(2, 20, seed=4).to_csv(data, index=False)
    save_spec(pendulum_spec(), spec)
    result = runner.invoke(app, ["train", str(data), "--spec", str(spec), "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception) and "too few rows" in str(result.exception)
    both = runner.invoke(
        app, ["train", str(data), "--spec", str(spec), "--act", DRIVE, "--out", str(tmp_path / "m")]
    )
    assert "either --spec or --obs" in str(both.exception)


def test_help_teaches_with_examples() -> None:
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0 and "worldtwin train log.csv --obs" in result.output
