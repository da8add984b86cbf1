"""The darts peer: fits with future covariates and forecasts a linear plant well."""

from __future__ import annotations

import numpy as np
import pandas as pd

from worldtwin.model.baselines import Persistence
from worldtwin.model.darts_forecaster import DartsForecaster
from worldtwin.model.eval_windows import Roles, all_windows, split_episodes, to_episodes


def test_linear_darts_forecaster_tracks_the_tanks(tanks: pd.DataFrame, tank_roles: Roles) -> None:
    train, validation, test = split_episodes(tanks, seed=0)
    train_eps, val_eps, test_eps = (to_episodes(p, tank_roles) for p in (train, validation, test))
    model = DartsForecaster.fit(
        train_eps,
        val_eps,
        tank_roles,
        calibration_horizon=12,
        regressor="linear",
        lags=3,
        output_chunk_length=4,
    )
    windows = all_windows(test_eps, 3, 12, stride=9)
    predicted = model.predict_windows(windows)
    assert predicted.shape == windows.y_future.shape
    error = np.sqrt(np.mean((predicted - windows.y_future) ** 2))
    baseline = np.sqrt(np.mean((Persistence(tank_roles).predict_windows(windows) - windows.y_future) ** 2))
    assert error < 0.5 * baseline
    forecast = model.forecast(tanks.iloc[:10], tanks.iloc[10:22][["time", "q"]])
    np.testing.assert_allclose(
        forecast.mean.to_numpy(),
        model._predict(
            tanks[["h1", "h2"]].to_numpy()[None, 7:10],
            tanks[["q"]].to_numpy()[None, 7:10],
            tanks[["q"]].to_numpy()[None, 10:22],
        )[0],
    )
