"""Simple forecasters the world model must beat: persistence and least-squares ARX.

Both implement the :class:`~worldtwin.model.forecast.Forecaster` protocol through
:class:`WindowForecaster`, which turns DataFrames into arrays, rolls the model out over the horizon,
and adds **split-conformal bands per horizon step**: on validation episodes the absolute open-loop
error of each tag at each step is collected and its ``level`` quantile (finite-sample corrected) is
the half-width of the band. Every baseline gets bands the same way, so coverage is comparable.

:meth:`WindowForecaster.surprise` scores each sample by its standardised ``k``-step-ahead prediction
error (mean over tags and over ``surprise_steps`` of ``(residual / validation RMSE)²``), the anomaly
score the fault-detection evaluation compares with the world model's own ``surprise``.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from worldtwin.errors import DataError, ModelError
from worldtwin.model.eval_windows import Episode, Roles, Windows, make_windows, spread_origins, to_episodes
from worldtwin.model.forecast import Forecast

CALIBRATION_ORIGINS = 2000


@dataclass(frozen=True)
class Scaler:
    """Per-column standardisation fitted on training data (std floored so constant columns pass through)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 1e-12, std, 1.0))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return values * self.std + self.mean


def nrmse_by_step(predicted: np.ndarray, truth: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """RMSE over windows divided by ``scale`` per tag: (B, H, ny) arrays → (H, ny)."""
    return np.sqrt(np.mean((predicted - truth) ** 2, axis=0)) / scale


class WindowForecaster(ABC):
    """A forecaster defined by an array rollout ``_predict``; adds DataFrames, bands and surprise."""

    name = "forecaster"

    def __init__(self, roles: Roles, history: int, level: float = 0.9) -> None:
        self.roles = roles
        self.history = history
        self.level = level
        self._halfwidth: np.ndarray | None = None  # (H, ny) conformal band half-widths
        self._step_rmse: np.ndarray | None = None  # (H, ny) validation RMSE per step, for surprise
        self.surprise_steps: tuple[int, ...] = (1,)

    @abstractmethod
    def _predict(self, y_hist: np.ndarray, u_hist: np.ndarray, u_future: np.ndarray) -> np.ndarray:
        """Forecast (B, H, ny) from ``y_hist`` (B, L, ny), ``u_hist`` (B, L, nu), ``u_future`` (B, H, nu)."""

    # --- batched helpers ---------------------------------------------------------------------------

    def predict_windows(self, windows: Windows) -> np.ndarray:
        return self._predict(windows.y_hist, windows.u_hist, windows.u_future)

    def calibrate(self, episodes: Sequence[Episode], horizon: int, *, seed: int = 0) -> None:
        """Fit the conformal band half-widths and per-step error scale on (validation) episodes."""
        at = spread_origins(episodes, self.history, horizon, CALIBRATION_ORIGINS, np.random.default_rng(seed))
        windows = make_windows(episodes, at, self.history, horizon)
        residual = np.abs(self.predict_windows(windows) - windows.y_future)
        n = len(residual)
        rank = min(1.0, math.ceil((n + 1) * self.level) / n)
        self._halfwidth = np.quantile(residual, rank, axis=0, method="higher")
        floor = 1e-9 * np.maximum(np.abs(windows.y_future).mean(axis=(0, 1)), 1.0)
        self._step_rmse = np.maximum(np.sqrt(np.mean(residual**2, axis=0)), floor)

    # --- the Forecaster protocol -------------------------------------------------------------------

    def forecast(self, history: pd.DataFrame, future: pd.DataFrame) -> Forecast:
        missing = [c for c in self.roles.columns if c not in history.columns]
        missing_future = [c for c in self.roles.inputs if c not in future.columns]
        if missing or missing_future:
            raise DataError(
                f"{self.name}: history lacks {missing} and/or future lacks {missing_future}; history needs "
                f"{list(self.roles.columns)}, future needs the inputs {list(self.roles.inputs)}"
            )
        if len(history) < self.history:
            raise ModelError(
                f"{self.name} needs {self.history} history rows, got {len(history)}; pass a longer history"
            )
        y_hist = history[list(self.roles.targets)].to_numpy(np.float64)[-self.history :][None]
        u_hist = (
            history[list(self.roles.inputs)]
            .to_numpy(np.float64)[-self.history :]
            .reshape(1, self.history, -1)
        )
        u_future = future[list(self.roles.inputs)].to_numpy(np.float64).reshape(1, len(future), -1)
        mean = self._predict(y_hist, u_hist, u_future)[0]
        half = self._band(len(future))
        frame = lambda values: pd.DataFrame(values, index=future.index, columns=list(self.roles.targets))  # noqa: E731
        return Forecast(frame(mean), frame(mean - half), frame(mean + half), self.level)

    def _band(self, horizon: int) -> np.ndarray:
        if self._halfwidth is None:
            raise ModelError(
                f"{self.name} has no bands yet; call calibrate(validation_episodes, horizon) first"
            )
        if horizon <= len(self._halfwidth):
            return self._halfwidth[:horizon]
        # Beyond the calibrated horizon keep the last width: an honest floor, never a guess that shrinks.
        extra = np.repeat(self._halfwidth[-1:], horizon - len(self._halfwidth), axis=0)
        return np.concatenate([self._halfwidth, extra])

    def surprise(self, frame: pd.DataFrame) -> pd.Series:
        """Per-sample anomaly score: standardised squared k-step prediction error (NaN: short history)."""
        if self._step_rmse is None:
            raise ModelError(f"{self.name} has no error scale yet; call calibrate(...) first")
        if max(self.surprise_steps) > len(self._step_rmse):
            raise ModelError(
                f"{self.name}: surprise_steps {self.surprise_steps} reach beyond the calibrated horizon "
                f"{len(self._step_rmse)}; calibrate on a longer horizon or use shorter steps"
            )
        values = np.full(len(frame), np.nan)
        for episode in to_episodes(frame.reset_index(drop=True), self.roles, source=f"{self.name}.surprise"):
            score, counted = np.zeros(len(episode)), np.zeros(len(episode))
            for k in self.surprise_steps:
                at = [(0, o) for o in range(self.history - 1, len(episode) - k)]
                if not at:
                    continue
                windows = make_windows([episode], at, self.history, k)
                error = (self.predict_windows(windows)[:, -1] - windows.y_future[:, -1]) / self._step_rmse[
                    k - 1
                ]
                rows = np.arange(self.history - 1 + k, len(episode))
                score[rows] += np.mean(error**2, axis=1)
                counted[rows] += 1
            scored = counted > 0
            values[episode.frame.index.to_numpy()[scored]] = score[scored] / counted[scored]
        return pd.Series(values, index=frame.index, name="surprise")


class Persistence(WindowForecaster):
    """Tomorrow equals today: every future step repeats the last observation."""

    name = "persistence"

    def __init__(self, roles: Roles, level: float = 0.9) -> None:
        super().__init__(roles, history=1, level=level)

    def _predict(self, y_hist: np.ndarray, u_hist: np.ndarray, u_future: np.ndarray) -> np.ndarray:
        return np.repeat(y_hist[:, -1:], u_future.shape[1], axis=1)


class ARX(WindowForecaster):
    """Linear ARX by least squares on standardised data, rolled out open loop.

    ``y[k+1] = Σ_{i<na} A_i y[k-i] + Σ_{j<nb} B_j u[k-j] + c`` with actions and known inputs as
    exogenous inputs ``u``. :meth:`fit` chooses ``(na, nb, ridge)`` by open-loop error on validation.
    """

    name = "arx"

    def __init__(self, roles: Roles, na: int, nb: int, ridge: float = 0.0, level: float = 0.9) -> None:
        if na < 1 or nb < 1:
            raise ModelError(f"ARX orders must be >= 1, got na={na}, nb={nb}")
        super().__init__(roles, history=max(na, nb), level=level)
        self.na, self.nb, self.ridge = na, nb, ridge
        self.coef: np.ndarray | None = None  # (na*ny + nb*nu + 1, ny) in standardised units
        self.y_scale: Scaler | None = None
        self.u_scale: Scaler | None = None

    def __repr__(self) -> str:
        return f"ARX(na={self.na}, nb={self.nb}, ridge={self.ridge:g})"

    def _features(self, y_lags: np.ndarray, u_lags: np.ndarray) -> np.ndarray:
        """(B, na, ny) and (B, nb, nu), most recent first → (B, features)."""
        batch = len(y_lags)
        return np.concatenate(
            [y_lags.reshape(batch, -1), u_lags.reshape(batch, -1), np.ones((batch, 1))], axis=1
        )

    def fit_episodes(self, episodes: Sequence[Episode]) -> ARX:
        """Least-squares fit of the coefficients on every one-step transition of ``episodes``."""
        y_all = np.concatenate([e.y for e in episodes])
        u_all = np.concatenate([e.u for e in episodes])
        self.y_scale, self.u_scale = Scaler.fit(y_all), Scaler.fit(u_all)
        rows, targets = [], []
        for e in episodes:
            y, u = self.y_scale(e.y), self.u_scale(e.u)
            for k in range(self.history - 1, len(e) - 1):
                rows.append((y[k - self.na + 1 : k + 1][::-1], u[k - self.nb + 1 : k + 1][::-1]))
                targets.append(y[k + 1])
        if not rows:
            raise DataError(f"ARX(na={self.na}, nb={self.nb}) found no transitions; episodes are too short")
        phi = self._features(np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows]))
        target = np.stack(targets)
        if self.ridge > 0:
            phi = np.concatenate([phi, math.sqrt(self.ridge * len(phi)) * np.eye(phi.shape[1])])
            target = np.concatenate([target, np.zeros((phi.shape[1], target.shape[1]))])
        self.coef = np.linalg.lstsq(phi, target, rcond=None)[0]
        return self

    def _predict(self, y_hist: np.ndarray, u_hist: np.ndarray, u_future: np.ndarray) -> np.ndarray:
        if self.coef is None or self.y_scale is None or self.u_scale is None:
            raise ModelError("ARX is not fitted; call ARX.fit(...) or fit_episodes(...) first")
        y_lags = self.y_scale(y_hist[:, ::-1][:, : self.na])
        u_lags = self.u_scale(u_hist[:, ::-1][:, : self.nb])
        future = self.u_scale(u_future)
        out = []
        for step in range(u_future.shape[1]):
            y_next = self._features(y_lags, u_lags) @ self.coef
            out.append(y_next)
            y_lags = np.concatenate([y_next[:, None], y_lags[:, :-1]], axis=1)
            u_lags = np.concatenate([future[:, step : step + 1], u_lags[:, :-1]], axis=1)
        return self.y_scale.inverse(np.stack(out, axis=1))

    @classmethod
    def fit(
        cls,
        train: Sequence[Episode],
        validation: Sequence[Episode],
        roles: Roles,
        *,
        orders: Sequence[int] = (1, 2, 3, 5, 8),
        ridges: Sequence[float] = (0.0, 1e-4, 1e-2),
        horizons: Sequence[int] = (1, 10, 50),
        level: float = 0.9,
        seed: int = 0,
    ) -> ARX:
        """Fit every ``(na, nb, ridge)`` on ``train``; keep the one with the lowest mean validation NRMSE
        over ``horizons``; calibrate its bands on ``validation``."""
        horizon = max(horizons)
        history = max(orders)
        at = spread_origins(validation, history, horizon, 500, np.random.default_rng(seed))
        windows = make_windows(validation, at, history, horizon)
        scale = np.concatenate([e.y for e in validation]).std(axis=0) + 1e-12
        steps = [h - 1 for h in horizons]
        best: tuple[float, ARX] | None = None
        for na, nb, ridge in itertools.product(orders, orders, ridges):
            model = cls(roles, na, nb, ridge, level).fit_episodes(train)
            predicted = model.predict_windows(windows)
            if not np.all(np.isfinite(predicted)):
                continue  # an unstable fit diverges open loop; never the best choice
            score = float(nrmse_by_step(predicted, windows.y_future, scale)[steps].mean())
            if best is None or score < best[0]:
                best = (score, model)
        if best is None:
            raise ModelError(
                "every ARX candidate diverged on validation; check the data for unscaled outliers"
            )
        best[1].calibrate(validation, horizon, seed=seed)
        return best[1]


class ZScore:
    """The simplest anomaly score: per-tag ``|x − mean| / std`` against training data, largest over tags."""

    name = "zscore"

    def __init__(self, roles: Roles, mean: np.ndarray, std: np.ndarray) -> None:
        self.roles, self.mean, self.std = roles, mean, std

    @classmethod
    def fit(cls, episodes: Sequence[Episode], roles: Roles) -> ZScore:
        scale = Scaler.fit(np.concatenate([e.y for e in episodes]))
        return cls(roles, scale.mean, scale.std)

    def surprise(self, frame: pd.DataFrame) -> pd.Series:
        values = frame[list(self.roles.targets)].to_numpy(dtype=np.float64)
        return pd.Series(
            np.abs((values - self.mean) / self.std).max(axis=1), index=frame.index, name="surprise"
        )
