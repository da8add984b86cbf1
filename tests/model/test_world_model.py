"""The public API: forecasts in engineering units with calibrated bands, anomaly scores, checkpoints."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import worldtwin
from worldtwin.errors import CheckpointError, DataError, ModelError
from worldtwin.model import Forecast, Forecaster, WorldModel, train

from .plant import ANGLE, DRIVE, LOAD, RATE, pendulum_spec, pendulum_table, tiny_config


def test_forecast_returns_one_column_per_tag_indexed_like_the_future(pendulum_model: WorldModel) -> None:
    episode = pendulum_table(1, 60, seed=11)
    history, future = episode.iloc[:20], episode.iloc[20:45][["time", DRIVE]]
    forecaster: Forecaster = pendulum_model  # the evaluation treats it like any baseline
    forecast = forecaster.forecast(history, future)
    assert isinstance(forecast, Forecast) and forecast.level == 0.9 and forecast.horizon == 25
    for frame in (forecast.mean, forecast.lower, forecast.upper):
        assert list(frame.columns) == [ANGLE, RATE]
        assert frame.index.equals(future.index)
    assert (forecast.lower.to_numpy() <= forecast.mean.to_numpy()).all()
    assert (forecast.mean.to_numpy() <= forecast.upper.to_numpy()).all()
    truth = episode.iloc[20:45][[ANGLE, RATE]]
    naive = np.abs(truth.to_numpy() - history[[ANGLE, RATE]].iloc[-1].to_numpy()).mean()
    assert np.abs(forecast.mean.to_numpy() - truth.to_numpy()).mean() < naive  # better than "nothing changes"
    assert set(forecast.to_frame().columns) >= {f"{ANGLE}_lower", f"{RATE}_upper"}


def test_future_actions_change_the_forecast(pendulum_model: WorldModel) -> None:
    episode = pendulum_table(1, 40, seed=12)
    history, future = episode.iloc[:20], episode.iloc[20:40][["time", DRIVE]]
    push = pendulum_model.forecast(history, future.assign(**{DRIVE: 1.5})).mean[ANGLE]
    pull = pendulum_model.forecast(history, future.assign(**{DRIVE: -1.5})).mean[ANGLE]
    assert (push - pull).iloc[10:].mean() > 0.5  # a steady torque tilts the arm's rest angle its way


def test_bands_cover_about_ninety_percent_of_held_out_outcomes(pendulum_model: WorldModel) -> None:
    test = pendulum_table(12, 120, seed=13)
    hits = []
    for _, episode in test.groupby("episode"):
        for start in range(10, 96, 6):
            forecast = pendulum_model.forecast(episode.iloc[:start], episode.iloc[start : start + 24])
            truth = episode.iloc[start : start + 24][[ANGLE, RATE]]
            hits.append(((truth >= forecast.lower) & (truth <= forecast.upper)).to_numpy())
    coverage = np.mean(hits, axis=(0, 2))  # per horizon
    assert 0.82 <= coverage.mean() <= 0.97
    assert coverage.min() >= 0.75 and coverage.max() <= 0.99


def test_known_future_inputs_condition_the_forecast() -> None:
    data = pendulum_table(20, 100, seed=14, load=True)
    wm = train(data, pendulum_spec(load=True), tiny_config(max_steps=150))
    episode = pendulum_table(1, 60, seed=15, load=True)
    history, future = episode.iloc[:20], episode.iloc[20:50][["time", DRIVE, LOAD]]
    up = wm.forecast(history, future.assign(**{LOAD: 0.5})).mean[ANGLE]
    down = wm.forecast(history, future.assign(**{LOAD: -0.5})).mean[ANGLE]
    assert (up - down).iloc[10:].mean() > 0.2  # the load tilts the rest angle like a torque
    with pytest.raises(DataError, match=r"missing input .* \['load.ext'\]"):
        wm.forecast(history, future.drop(columns=[LOAD]))


def test_forecast_input_errors_name_the_problem(pendulum_model: WorldModel) -> None:
    episode = pendulum_table(1, 40, seed=16)
    with pytest.raises(DataError, match="needs the last 3"):
        pendulum_model.forecast(episode.iloc[:2], episode.iloc[2:10])
    with pytest.raises(DataError, match="future has no rows"):
        pendulum_model.forecast(episode.iloc[:20], episode.iloc[20:20])
    with pytest.raises(DataError, match=r"missing tag column\(s\) \['arm-rate'\]"):
        pendulum_model.forecast(episode.iloc[:20].drop(columns=[RATE]), episode.iloc[20:30])
    two = pd.concat([episode.iloc[:10], pendulum_table(1, 10, seed=17).assign(episode=5)])
    with pytest.raises(DataError, match="span episodes"):
        pendulum_model.forecast(two.iloc[8:12], episode.iloc[20:30])


def test_surprise_flags_an_injected_sensor_fault(pendulum_model: WorldModel) -> None:
    episode = pendulum_table(1, 200, seed=18)
    nominal = pendulum_model.surprise(episode)
    assert nominal.iloc[:12].isna().all() and nominal.iloc[12:].notna().all()  # 3 rows of context + 10 steps
    assert nominal.median() < pendulum_model.monitors.surprise_threshold[9]
    faulty = episode.copy()
    faulty.loc[faulty.index[100:], ANGLE] = faulty[ANGLE].iloc[100]  # the angle sensor freezes
    frozen = pendulum_model.surprise(faulty)
    assert frozen.iloc[:100].equals(nominal.iloc[:100])
    alarm = pendulum_model.monitors.surprise_threshold[9]
    assert (frozen.iloc[110:] > alarm).mean() > 0.5  # most frozen rows raise the alarm
    assert (nominal.iloc[12:] > alarm).mean() < 0.05
    one_step = pendulum_model.surprise(faulty, horizon=1)
    assert one_step.iloc[:3].isna().all() and one_step.iloc[3:].notna().all()
    with pytest.raises(ModelError, match="surprise horizon 99 is outside"):
        pendulum_model.surprise(episode, horizon=99)


def test_ood_score_rises_far_from_the_training_data(pendulum_model: WorldModel) -> None:
    episode = pendulum_table(1, 80, seed=19)
    inside = pendulum_model.ood_score(episode)
    outside = pendulum_model.ood_score(episode.assign(**{RATE: episode[RATE] + 20.0}))
    assert inside.iloc[2:].median() < pendulum_model.monitors.ood_threshold < outside.iloc[2:].min()


def test_save_and_load_give_identical_forecasts(pendulum_model: WorldModel, tmp_path: Path) -> None:
    where = pendulum_model.save(tmp_path / "model")
    assert {p.name for p in where.iterdir()} >= {
        "model.json",
        "weights.safetensors",
        "curves.json",
        "curves.png",
        "MODEL_CARD.md",
    }
    manifest = json.loads((where / "model.json").read_text())
    assert manifest["spec_hash"] == pendulum_spec().spec_hash()
    assert len(manifest["data"]["fingerprint"]) == 64
    loaded = WorldModel.load(where)
    episode = pendulum_table(1, 50, seed=20)
    a = pendulum_model.forecast(episode.iloc[:20], episode.iloc[20:50])
    b = loaded.forecast(episode.iloc[:20], episode.iloc[20:50])
    for x, y in ((a.mean, b.mean), (a.lower, b.lower), (a.upper, b.upper)):
        pd.testing.assert_frame_equal(x, y)
    pd.testing.assert_series_equal(pendulum_model.surprise(episode), loaded.surprise(episode))
    assert "Held-out accuracy" in (where / "MODEL_CARD.md").read_text()


def test_the_top_level_api_is_exported() -> None:
    assert worldtwin.train is train and worldtwin.WorldModel is WorldModel


class _Boom:
    def __reduce__(self):
        return (Path("/tmp/worldtwin-pwned").touch, ())


@pytest.mark.parametrize(
    "tamper, message",
    [
        (
            lambda d: (d / "weights.safetensors").write_bytes(
                (d / "weights.safetensors").read_bytes()[:-4] + b"\0\0\0\0"
            ),
            "does not match",
        ),
        (lambda d: (d / "weights.safetensors").write_bytes(pickle.dumps(_Boom())), "does not match"),
        (lambda d: _edit(d, format_version=99), "format_version 99 is not supported"),
        (lambda d: _edit(d, format="torch"), "not a worldtwin world model"),
        (lambda d: _edit(d, spec_hash="0" * 64), "does not match its recorded hash"),
        (lambda d: (d / "model.json").write_text("{not json"), "not valid JSON"),
        (lambda d: (d / "model.json").unlink(), "no model.json"),
        (lambda d: (d / "weights.safetensors").unlink(), "weights.safetensors is missing"),
    ],
)
def test_tampered_or_foreign_checkpoints_are_refused(
    pendulum_model: WorldModel, tmp_path: Path, tamper, message: str
) -> None:
    where = pendulum_model.save(tmp_path / "model")
    tamper(where)
    with pytest.raises(CheckpointError, match=message):
        WorldModel.load(where)
    assert not Path("/tmp/worldtwin-pwned").exists()


def test_a_pickled_torch_file_with_a_matching_hash_is_still_not_executed(
    pendulum_model: WorldModel, tmp_path: Path
) -> None:
    where = pendulum_model.save(tmp_path / "model")
    (where / "weights.safetensors").write_bytes(pickle.dumps(_Boom()))
    from worldtwin.model.checkpoint import sha256

    _edit(where, weights={"file": "weights.safetensors", "sha256": sha256(where / "weights.safetensors")})
    with pytest.raises(CheckpointError, match="cannot read safetensors"):
        WorldModel.load(where)
    assert not Path("/tmp/worldtwin-pwned").exists()


def test_a_checkpoint_mixing_two_models_is_refused(pendulum_model: WorldModel, tmp_path: Path) -> None:
    where = pendulum_model.save(tmp_path / "model")
    manifest = json.loads((where / "model.json").read_text())
    manifest["net"]["latent_dim"] = 16
    (where / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="does not fit together"):
        WorldModel.load(where)


def _edit(directory: Path, **changes: object) -> None:
    manifest = json.loads((directory / "model.json").read_text())
    (directory / "model.json").write_text(json.dumps(manifest | changes))
