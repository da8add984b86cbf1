"""A time-series-library peer: a darts regression forecaster with the inputs as future covariates.

darts (``pip install 'worldtwin[bench]'``) fits a scikit-learn regressor on lagged targets and on
past *and future* covariates — here the actions and known-ahead inputs — predicting
``output_chunk_length`` steps at once (one regressor per step and tag) and chaining chunks
autoregressively beyond that. The default regressor is gradient-boosted trees
(``HistGradientBoostingRegressor``), a nonlinear peer unlike ARX; ``regressor="linear"`` gives
darts' linear model. Only the darts core is needed (no torch extra, no Lightning): it installs
beside ``torch==2.13.0`` without touching it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from worldtwin.errors import ModelError, require
from worldtwin.model.baselines import WindowForecaster
from worldtwin.model.eval_windows import Episode, Roles


class DartsForecaster(WindowForecaster):
    """darts ``SKLearnModel`` behind the :class:`~worldtwin.model.forecast.Forecaster` protocol."""

    name = "darts"

    def __init__(
        self,
        roles: Roles,
        *,
        lags: int = 5,
        output_chunk_length: int = 5,
        regressor: Literal["hgb", "linear"] = "hgb",
        level: float = 0.9,
        seed: int = 0,
    ) -> None:
        super().__init__(roles, history=lags, level=level)
        self.chunk = output_chunk_length
        self.regressor = regressor
        self.seed = seed
        self._model: Any = None

    def _series(self, values: np.ndarray) -> Any:
        timeseries = require("darts", "bench").TimeSeries  # type: ignore[attr-defined]
        return timeseries.from_values(values.astype(np.float64))

    def fit_episodes(self, episodes: Sequence[Episode]) -> DartsForecaster:
        require("darts", "bench")
        from darts.models import LinearRegressionModel, SKLearnModel
        from sklearn.ensemble import HistGradientBoostingRegressor

        settings: dict[str, Any] = {
            "lags": self.history,
            "lags_future_covariates": (self.history, self.chunk),
            "output_chunk_length": self.chunk,
            "multi_models": True,
        }
        if self.regressor == "linear":
            self._model = LinearRegressionModel(**settings)
        else:
            estimator = HistGradientBoostingRegressor(max_iter=200, random_state=self.seed)
            self._model = SKLearnModel(model=estimator, **settings)
        self._model.fit(
            [self._series(e.y) for e in episodes],
            future_covariates=[self._series(e.u) for e in episodes],
        )
        return self

    @classmethod
    def fit(
        cls,
        train: Sequence[Episode],
        validation: Sequence[Episode],
        roles: Roles,
        *,
        calibration_horizon: int = 50,
        **options: Any,
    ) -> DartsForecaster:
        model = cls(roles, **options).fit_episodes(train)
        model.calibrate(validation, calibration_horizon, seed=model.seed)
        return model

    def _predict(self, y_hist: np.ndarray, u_hist: np.ndarray, u_future: np.ndarray) -> np.ndarray:
        if self._model is None:
            raise ModelError(
                "the darts forecaster is not fitted; use DartsForecaster.fit(train, validation, roles)"
            )
        horizon = u_future.shape[1]
        # darts predicts whole chunks: pad covariates so the last chunk has inputs (extra steps dropped)
        pad = -(-horizon // self.chunk) * self.chunk - horizon + self.chunk
        inputs = np.concatenate(
            [u_hist[:, -self.history :], u_future, np.repeat(u_future[:, -1:], pad, axis=1)], axis=1
        )
        predicted = self._model.predict(
            horizon,
            series=[self._series(y[-self.history :]) for y in y_hist],
            future_covariates=[self._series(u) for u in inputs],
            show_warnings=False,
        )
        return np.stack([p.values() for p in predicted])
