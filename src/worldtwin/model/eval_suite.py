"""Fit the baselines by name and run the whole comparison: what ``worldtwin evaluate`` and the benchmark call.

Baselines (all fitted on the training episodes, tuned/early-stopped and band-calibrated on the
validation episodes, never touching the evaluation episodes):

* ``persistence`` — the last observation, held.
* ``arx`` — least-squares ARX, lag orders and ridge chosen on validation.
* ``mlp`` — observation-space MLP ensemble trained through multi-step rollouts (:mod:`.obs_mlp`).
* ``darts`` — darts gradient-boosted regression with future covariates (:mod:`.darts_forecaster`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from worldtwin.errors import DataError
from worldtwin.model.baselines import ARX, Persistence, WindowForecaster, ZScore
from worldtwin.model.eval_windows import Roles, to_episodes
from worldtwin.model.evaluate import (
    DetectionEvaluation,
    ForecastEvaluation,
    SurpriseScorer,
    evaluate_detection,
    evaluate_forecasts,
)
from worldtwin.model.forecast import Forecaster
from worldtwin.model.obs_mlp import RolloutMLP, RolloutMLPConfig

BASELINES: tuple[str, ...] = ("persistence", "arx", "mlp", "darts")


@dataclass
class Comparison:
    """Everything one comparison run produced."""

    forecasts: ForecastEvaluation
    detection: DetectionEvaluation | None
    fitted: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "forecasts": self.forecasts.to_dict(),
            "detection": self.detection.to_dict() if self.detection else None,
            "fitted": self.fitted,
        }


def fit_baselines(
    names: Sequence[str],
    train: pd.DataFrame,
    validation: pd.DataFrame,
    roles: Roles,
    *,
    horizon: int = 50,
    level: float = 0.9,
    seed: int = 0,
    mlp: RolloutMLPConfig | None = None,
    darts_options: Mapping[str, Any] | None = None,
    arx_orders: Sequence[int] = (1, 2, 3, 5, 8),
    on_fitted: Callable[[str], None] | None = None,
) -> dict[str, WindowForecaster]:
    """Fit the named baselines (see :data:`BASELINES`) and calibrate their bands on ``validation``."""
    unknown = [n for n in names if n not in BASELINES]
    if unknown:
        raise DataError(f"unknown baseline(s) {unknown}; choose from {', '.join(BASELINES)}")
    train_eps = to_episodes(train, roles, source="training data")
    val_eps = to_episodes(validation, roles, source="validation data")
    fitted: dict[str, WindowForecaster] = {}
    for name in names:
        model: WindowForecaster
        if name == "persistence":
            model = Persistence(roles, level)
            model.calibrate(val_eps, horizon, seed=seed)
        elif name == "arx":
            horizons = (1, min(10, horizon), horizon)
            model = ARX.fit(
                train_eps, val_eps, roles, orders=arx_orders, horizons=horizons, level=level, seed=seed
            )
        elif name == "mlp":
            model = RolloutMLP.fit(
                train_eps,
                val_eps,
                roles,
                mlp or RolloutMLPConfig(seed=seed),
                level=level,
                calibration_horizon=horizon,
            )
        else:
            from worldtwin.model.darts_forecaster import DartsForecaster

            model = DartsForecaster.fit(
                train_eps,
                val_eps,
                roles,
                calibration_horizon=horizon,
                level=level,
                seed=seed,
                **dict(darts_options or {}),
            )
        fitted[name] = model
        if on_fitted:
            on_fitted(name)
    return fitted


def describe(model: object) -> dict[str, Any]:
    """A JSON-able summary of a fitted model's chosen settings."""
    if isinstance(model, ARX):
        return {"na": model.na, "nb": model.nb, "ridge": model.ridge}
    if isinstance(model, RolloutMLP):
        return model.describe()
    return {
        key: value
        for key, value in vars(model).items()
        if isinstance(value, int | float | str) and not key.startswith("_")
    }


def compare(
    models: Mapping[str, Forecaster],
    evaluation_data: pd.DataFrame,
    roles: Roles,
    *,
    horizons: Sequence[int] = (1, 10, 50),
    origins: int = 200,
    history_rows: int = 32,
    seed: int = 0,
    detectors: Mapping[str, SurpriseScorer] | None = None,
    calibrated: Collection[str] = (),
    detection_window: int = 50,
    on_forecast: Callable[[], None] | None = None,
) -> Comparison:
    """Score every model on the same origins; with ``detectors``, also fault-detection AUROC
    (two-sided too for the detectors named in ``calibrated``, whose surprise is ≈ 1 on normal data)."""
    forecasts = evaluate_forecasts(
        models,
        evaluation_data,
        roles,
        horizons=horizons,
        origins=origins,
        history_rows=history_rows,
        seed=seed,
        on_forecast=on_forecast,
    )
    detection = None
    if detectors:
        detection = evaluate_detection(
            detectors,
            evaluation_data,
            roles,
            window=detection_window,
            warmup=history_rows,
            calibrated=calibrated,
            seed=seed,
        )
    return Comparison(forecasts, detection, {name: describe(m) for name, m in models.items()})


def zscore_detector(train: pd.DataFrame, roles: Roles) -> ZScore:
    """The per-tag z-score peer of the surprise scores, fitted on training data."""
    return ZScore.fit(to_episodes(train, roles, source="training data"), roles)
