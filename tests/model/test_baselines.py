"""Persistence, ARX and the z-score: exact on cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError, ModelError
from worldtwin.model.baselines import ARX, Persistence, ZScore
from worldtwin.model.eval_windows import Roles, all_windows, split_episodes, to_episodes

LINEAR = Roles(targets=("y1", "y2"), inputs=("u",))
A1 = np.array([[0.6, 0.2], [-0.1, 0.5]])
A2 = np.array([[0.1, 0.0], [0.05, -0.2]])
B1 = np.array([0.5, -0.3])
B2 = np.array([0.2, 0.4])


def linear_table(episodes: int = 6, steps: int = 120, seed: int = 1) -> pd.DataFrame:
    """Noise-free y[k+1] = A1 y[k] + A2 y[k-1] + B1 u[k] + B2 u[k-1] + c under random-step input."""
    rng = np.random.default_rng(seed)
    rows = []
    for episode in range(episodes):
        y_prev, y = rng.standard_normal(2), rng.standard_normal(2)
        u_prev = 0.0
        u = np.repeat(rng.uniform(-1, 1, steps // 6 + 1), 6)[:steps]
        for k in range(steps):
            rows.append((episode, float(k), *y, u[k]))
            y_prev, y, u_prev = y, A1 @ y + A2 @ y_prev + B1 * u[k] + B2 * u_prev + 0.3, u[k]
    return pd.DataFrame(rows, columns=["episode", "time", "y1", "y2", "u"])


def test_arx_recovers_a_known_linear_system_exactly() -> None:
    episodes = to_episodes(linear_table(), LINEAR)
    model = ARX(LINEAR, na=2, nb=2).fit_episodes(episodes)
    windows = all_windows(episodes, history=2, horizon=40, stride=7)
    np.testing.assert_allclose(model.predict_windows(windows), windows.y_future, atol=1e-8)


def test_arx_order_selection_finds_orders_that_explain_the_data() -> None:
    train, validation, _ = split_episodes(linear_table(episodes=8), seed=0)
    model = ARX.fit(
        to_episodes(train, LINEAR),
        to_episodes(validation, LINEAR),
        LINEAR,
        orders=(1, 2, 3),
        ridges=(0.0,),
        horizons=(1, 10),
    )
    assert model.na >= 2 and model.nb >= 2  # order 1 cannot fit this system
    windows = all_windows(to_episodes(validation, LINEAR), history=model.history, horizon=10)
    np.testing.assert_allclose(model.predict_windows(windows), windows.y_future, atol=1e-6)


def test_persistence_forecast_repeats_the_last_row_with_calibrated_bands() -> None:
    table = linear_table()
    model = Persistence(LINEAR)
    model.calibrate(to_episodes(table, LINEAR), horizon=5)
    history, future = table.iloc[10:20], table.iloc[20:25][["time", "u"]]
    forecast = model.forecast(history, future)
    assert list(forecast.mean.index) == list(future.index)
    np.testing.assert_allclose(forecast.mean.to_numpy(), np.tile(history[["y1", "y2"]].iloc[-1], (5, 1)))
    width = (forecast.upper - forecast.lower).to_numpy()
    assert np.all(width > 0) and width[-1].mean() > width[0].mean()  # bands widen with the horizon


def test_conformal_bands_cover_about_the_level_on_fresh_data() -> None:
    rng = np.random.default_rng(3)
    noisy = linear_table(episodes=20, seed=4)
    noisy[["y1", "y2"]] += 0.05 * rng.standard_normal((len(noisy), 2))
    train, validation, test = split_episodes(noisy, (0.4, 0.3, 0.3), seed=0)
    model = ARX.fit(
        to_episodes(train, LINEAR),
        to_episodes(validation, LINEAR),
        LINEAR,
        orders=(2,),
        ridges=(0.0,),
        horizons=(1, 10),
    )
    windows = all_windows(to_episodes(test, LINEAR), model.history, 10)
    mean = model.predict_windows(windows)
    half = model._band(10)
    inside = np.abs(windows.y_future - mean) <= half
    assert 0.84 <= inside.mean() <= 0.96


def test_forecast_names_what_is_missing() -> None:
    model = Persistence(LINEAR)
    model.calibrate(to_episodes(linear_table(), LINEAR), horizon=3)
    with pytest.raises(DataError, match=r"future lacks \['u'\]"):
        model.forecast(linear_table().iloc[:5], pd.DataFrame({"time": [5.0]}))
    with pytest.raises(ModelError, match="needs 1 history rows, got 0"):
        model.forecast(linear_table().iloc[:0], linear_table().iloc[:2][["u"]])


def test_uncalibrated_and_unfitted_models_say_what_to_do() -> None:
    table = linear_table()
    with pytest.raises(ModelError, match="calibrate"):
        Persistence(LINEAR).forecast(table.iloc[:5], table.iloc[5:8][["u"]])
    with pytest.raises(ModelError, match="not fitted"):
        ARX(LINEAR, 1, 1).predict_windows(all_windows(to_episodes(table, LINEAR), 1, 2))


def test_surprise_is_large_where_the_data_stops_following_the_model() -> None:
    table = linear_table()
    episodes = to_episodes(table, LINEAR)
    model = ARX(LINEAR, na=2, nb=2, ridge=1e-9).fit_episodes(episodes)
    noisy = table.copy()
    noisy[["y1", "y2"]] += 1e-3 * np.random.default_rng(0).standard_normal((len(table), 2))
    model.calibrate(to_episodes(noisy, LINEAR), horizon=3)
    broken = noisy.copy()
    broken.loc[50:59, "y1"] += 1.0
    score = model.surprise(broken)
    assert score.index.equals(broken.index) and np.isnan(score.iloc[0])
    assert score.loc[50:59].min() > 100 * score.loc[20:40].median()
    model.surprise_steps = (1, 4)
    with pytest.raises(ModelError, match="beyond the calibrated horizon 3"):
        model.surprise(broken)


def test_zscore_is_the_largest_absolute_standard_score() -> None:
    roles = Roles(targets=("a", "b"), inputs=())
    train = pd.DataFrame(
        {"time": [0.0, 1.0, 2.0, 3.0], "a": [0.0, 2.0, 0.0, 2.0], "b": [10.0, 10.0, 14.0, 14.0]}
    )
    detector = ZScore.fit(to_episodes(train, roles), roles)  # a: mean 1, std 1; b: mean 12, std 2
    probe = pd.DataFrame({"time": [0.0, 1.0], "a": [4.0, 1.0], "b": [12.0, 6.0]})
    np.testing.assert_allclose(detector.surprise(probe).to_numpy(), [3.0, 3.0])
