"""Training: it learns, it is reproducible, and bad input gets a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError, ModelError
from worldtwin.model import WorldModel, train

from .plant import ANGLE, DRIVE, RATE, pendulum_spec, pendulum_table, tiny_config


def test_training_reduces_the_validation_rollout_error(pendulum_model: WorldModel) -> None:
    records = pendulum_model.info["curves"]["records"]
    first, best = records[0]["val_rollout_nrmse"], min(r["val_rollout_nrmse"] for r in records)
    assert best < 0.6 * first
    metrics = pendulum_model.info["metrics"]
    assert metrics["nrmse"][0] < 0.2  # one step ahead, in units of each tag's standard deviation


def test_the_same_seed_gives_the_same_model() -> None:
    data = pendulum_table(8, 60, seed=3)
    config = tiny_config(max_steps=20, eval_every=10, horizon=10)
    a, b = (train(data, pendulum_spec(), config) for _ in range(2))
    c = train(data, pendulum_spec(), tiny_config(max_steps=20, eval_every=10, horizon=10, seed=1))
    history, future = data.iloc[:20], data.iloc[20:30]
    assert a.forecast(history, future).mean.equals(b.forecast(history, future).mean)
    assert not a.forecast(history, future).mean.equals(c.forecast(history, future).mean)


def test_one_long_episode_is_split_in_time() -> None:
    data = pendulum_table(1, 600, seed=4).drop(columns=["episode"])
    wm = train(data, pendulum_spec(), tiny_config(max_steps=20, eval_every=10, horizon=10))
    pieces = wm.info["data"]
    assert pieces["rows_train"] + pieces["rows_val"] + pieces["rows_cal"] == 600
    assert pieces["rows_val"] > 0 and pieces["rows_cal"] > 0


@pytest.mark.parametrize(
    "damage, error, message",
    [
        (lambda d: d.assign(**{ANGLE: d[ANGLE].where(d.index != 7)}), DataError, r"'arm.angle:pv' has 1 NaN"),
        (lambda d: d.assign(**{RATE: 1.5, ANGLE: 0.0}), DataError, r"every predicted tag is constant"),
        (lambda d: d.drop(columns=[DRIVE]), DataError, r"missing tag column\(s\) \['drive_cmd'\]"),
        (lambda d: d.iloc[:30], DataError, "too few rows"),
        (lambda d: d.assign(time=d["time"] * 10), DataError, "sample_period is 0.1 s"),
        (lambda d: d.assign(**{ANGLE: d[ANGLE].astype(str) + " rad"}), DataError, "not numeric"),
    ],
)
def test_bad_data_is_refused_with_the_problem_and_the_fix(damage, error, message) -> None:
    data = damage(pendulum_table(6, 60, seed=5))
    with pytest.raises(error, match=message):
        train(data, pendulum_spec(), tiny_config(max_steps=5))


def test_constant_columns_are_kept_with_a_warning_that_names_them(tmp_path) -> None:
    data = pendulum_table(6, 60, seed=5).assign(**{RATE: 1.5})
    with pytest.warns(UserWarning, match=r"arm-rate \(always 1.5\) never change.*forecast as constants"):
        wm = train(data, pendulum_spec(), tiny_config(max_steps=5, horizon=10))
    forecast = wm.forecast(data.iloc[:10], data.iloc[10:20])
    np.testing.assert_allclose(forecast.mean[RATE], 1.5, atol=0.2)
    with pytest.warns(UserWarning, match=r"drive_cmd \(always 0.25\) never change.*cannot know their effect"):
        wm = train(data.assign(**{DRIVE: 0.25}), pendulum_spec(), tiny_config(max_steps=5, horizon=10))
    assert "never change" in (wm.save(tmp_path / "m") / "MODEL_CARD.md").read_text()


def test_a_spec_without_anything_to_predict_is_refused() -> None:
    spec = pendulum_spec()
    only_actions = spec.model_copy(update={"tags": [t for t in spec.tags if t.kind == "action"]})
    with pytest.raises(ModelError, match="nothing to predict"):
        train(pendulum_table(6, 60, seed=5), only_actions, tiny_config(max_steps=5))


def test_not_a_table_is_refused() -> None:
    with pytest.raises(DataError, match="DataFrame"):
        train(np.zeros((10, 3)), pendulum_spec())  # type: ignore[arg-type]


def test_gaps_in_time_are_respected(tmp_path) -> None:
    data = pendulum_table(6, 80, seed=6)
    holey = data.drop(index=data.index[30:35])
    wm = train(holey, pendulum_spec(), tiny_config(max_steps=10, eval_every=5, horizon=10))
    assert wm.info["data"]["rows"] == len(holey)
    assert isinstance(wm.surprise(holey), pd.Series)


def test_timestamps_and_calendar_features() -> None:
    data = pendulum_table(6, 80, seed=8)
    start = pd.Timestamp("2026-03-02 05:00", tz="Europe/Berlin")
    data["time"] = start + pd.to_timedelta(data["time"], unit="s")
    spec = pendulum_spec(calendar=["time_of_day", "day_of_week", "shift"])
    wm = train(data, spec, tiny_config(max_steps=5, horizon=10))
    assert wm.net.config.n_cond == 1 + 2 + 2 + 3
    episode = data[data.episode == 0]
    forecast = wm.forecast(episode.iloc[:10], episode.iloc[10:20])
    assert forecast.mean.index.equals(episode.index[10:20])
    with pytest.raises(DataError, match="needs the sample times for its calendar features"):
        wm.forecast(episode.iloc[:10], episode.iloc[10:20].drop(columns=["time"]))


def test_training_threads_are_scoped() -> None:
    import torch

    from worldtwin.model.training import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
