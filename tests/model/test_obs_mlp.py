"""The observation-space rollout MLP: beats persistence, deterministic, leaves the global RNG alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from worldtwin.errors import ModelError
from worldtwin.model.baselines import Persistence
from worldtwin.model.eval_windows import Roles, all_windows, split_episodes, to_episodes
from worldtwin.model.obs_mlp import RolloutMLP, RolloutMLPConfig

SMALL = RolloutMLPConfig(
    hidden=32, layers=2, ensemble=2, rollout_steps=8, max_epochs=6, batch_size=128, seed=5
)


@pytest.fixture(scope="module")
def fitted(tanks: pd.DataFrame) -> tuple[RolloutMLP, list, list]:
    roles = Roles(targets=("h1", "h2"), inputs=("q",))
    train, validation, test = split_episodes(tanks, seed=0)
    train_eps, val_eps, test_eps = (to_episodes(p, roles) for p in (train, validation, test))
    return RolloutMLP.fit(train_eps, val_eps, roles, SMALL, calibration_horizon=10), train_eps, test_eps


def test_rollout_mlp_beats_persistence_at_horizon_ten(fitted: tuple[RolloutMLP, list, list]) -> None:
    model, _, test_eps = fitted
    windows = all_windows(test_eps, SMALL.history, 10, stride=3)
    persistence = Persistence(model.roles)
    mlp_error = np.sqrt(np.mean((model.predict_windows(windows) - windows.y_future) ** 2))
    persistence_error = np.sqrt(np.mean((persistence.predict_windows(windows) - windows.y_future) ** 2))
    assert mlp_error < 0.7 * persistence_error
    assert model.epochs_run >= SMALL.ensemble and model.describe()["ensemble"] == 2


def test_training_is_deterministic_and_leaves_global_rng_alone(
    fitted: tuple[RolloutMLP, list, list], tanks: pd.DataFrame
) -> None:
    model, train_eps, test_eps = fitted
    before = torch.random.get_rng_state().clone()
    again = RolloutMLP.fit(train_eps[:3], test_eps, model.roles, SMALL, calibration_horizon=5)
    twice = RolloutMLP.fit(train_eps[:3], test_eps, model.roles, SMALL, calibration_horizon=5)
    assert torch.equal(before, torch.random.get_rng_state())
    windows = all_windows(test_eps, SMALL.history, 5, stride=11)
    np.testing.assert_array_equal(again.predict_windows(windows), twice.predict_windows(windows))
    assert torch.get_num_threads() >= 1


def test_forecast_dataframe_and_band_widths(
    fitted: tuple[RolloutMLP, list, list], tanks: pd.DataFrame
) -> None:
    model, _, _ = fitted
    history, future = tanks.iloc[30:40], tanks.iloc[40:52][["time", "q"]]
    forecast = model.forecast(history, future)
    assert forecast.mean.shape == (12, 2) and list(forecast.mean.columns) == ["h1", "h2"]
    assert np.all(forecast.upper.to_numpy() > forecast.lower.to_numpy())


def test_untrained_model_refuses_to_predict(tanks: pd.DataFrame) -> None:
    roles = Roles(targets=("h1", "h2"), inputs=("q",))
    with pytest.raises(ModelError, match="not trained"):
        RolloutMLP(roles, SMALL).predict_windows(all_windows(to_episodes(tanks, roles), 3, 2))
