"""Honest evaluation of forecasters (the world model and its baselines) on held-out episodes.

**Forecasts.** Origins are drawn once (seeded) from the held-out episodes and shared by every model.
At each origin a model gets ``history_rows`` rows of history and the future rows' ``time`` and input
columns (actions, known-ahead disturbances) — never the future targets — and forecasts
``max(horizons)`` steps open loop.

* **NRMSE** of a tag at horizon ``h``: the RMSE of the ``h``-step-ahead forecast over all origins,
  divided by the tag's standard deviation over the evaluation data. 1.0 is as bad as forecasting a
  constant at the mean; persistence typically scores well below 1 at h=1.
* **Coverage**: the fraction of (origin, step, tag) outcomes inside the forecast band (``level``,
  e.g. 0.9), over every step 1…max(horizons); also reported at each horizon.
* **Width**: the band's mean width divided by the tag's standard deviation.

**Fault detection.** Held-out episodes are cut into windows of ``window`` rows (after ``warmup``
rows of context). Each window is scored clean and, once per fault kind, with that fault injected on
a randomly chosen target tag (:mod:`worldtwin.model.faults`). A window's score is the mean
per-sample surprise over it. AUROC per kind = probability that a faulty window outscores a clean
one (ties count half).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from worldtwin.errors import DataError
from worldtwin.model.eval_windows import Episode, Roles, spread_origins, to_episodes
from worldtwin.model.faults import FAULT_KINDS, Fault, inject, tag_scales
from worldtwin.model.forecast import Forecaster
from worldtwin.telemetry.table import EPISODE, TIME


class SurpriseScorer(Protocol):
    """Anything with a per-sample anomaly score (the world model, a baseline, a z-score)."""

    def surprise(self, frame: pd.DataFrame) -> pd.Series: ...


def auroc(positive: Sequence[float] | np.ndarray, negative: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting half."""
    pos, neg = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    if len(pos) == 0 or len(neg) == 0:
        raise DataError(f"AUROC needs positives and negatives; got {len(pos)} and {len(neg)}")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise DataError("AUROC got NaN/Inf scores; the scorer returned no score for some windows")
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


# --- forecasts --------------------------------------------------------------------------------------


@dataclass
class ModelScores:
    """Forecast metrics of one model (see the module docstring for definitions)."""

    nrmse: dict[int, dict[str, float]]
    coverage: float
    coverage_by_horizon: dict[int, float]
    width: float
    seconds: float

    def mean_nrmse(self, horizon: int) -> float:
        return float(np.mean(list(self.nrmse[horizon].values())))

    def to_dict(self) -> dict[str, Any]:
        return {
            "nrmse": {str(h): v for h, v in self.nrmse.items()},
            "nrmse_mean": {str(h): self.mean_nrmse(h) for h in self.nrmse},
            "coverage": self.coverage,
            "coverage_by_horizon": {str(h): v for h, v in self.coverage_by_horizon.items()},
            "width": self.width,
            "forecast_seconds": self.seconds,
        }


@dataclass
class ForecastEvaluation:
    """Scores of every model on the same origins, plus the raw forecasts for plots."""

    horizons: tuple[int, ...]
    targets: tuple[str, ...]
    level: float
    origins: list[tuple[Any, int]]
    scale: np.ndarray
    truth: np.ndarray  # (N, H, ny)
    history: np.ndarray  # (N, history_rows, ny)
    forecasts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    scores: dict[str, ModelScores] = field(default_factory=dict)

    def ratio(self, model: str, reference: str, horizon: int) -> float:
        """Mean NRMSE of ``model`` over that of ``reference`` at ``horizon`` (< 1: ``model`` is better)."""
        return self.scores[model].mean_nrmse(horizon) / max(self.scores[reference].mean_nrmse(horizon), 1e-12)

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizons": list(self.horizons),
            "targets": list(self.targets),
            "level": self.level,
            "origins": len(self.origins),
            "scale": dict(zip(self.targets, self.scale.tolist(), strict=True)),
            "models": {name: s.to_dict() for name, s in self.scores.items()},
        }


def evaluate_forecasts(
    models: Mapping[str, Forecaster],
    data: pd.DataFrame,
    roles: Roles,
    *,
    horizons: Sequence[int] = (1, 10, 50),
    origins: int = 200,
    history_rows: int = 32,
    seed: int = 0,
    on_forecast: Callable[[], None] | None = None,
) -> ForecastEvaluation:
    """Forecast from the same seeded origins with every model and score them."""
    import time

    horizons = tuple(sorted(set(int(h) for h in horizons)))
    if not horizons or horizons[0] < 1:
        raise DataError(f"horizons must be positive step counts, got {list(horizons)}")
    horizon = horizons[-1]
    episodes = to_episodes(data, roles, source="evaluation data")
    at = spread_origins(episodes, history_rows, horizon, origins, np.random.default_rng(seed))
    truth = np.stack([episodes[e].y[k + 1 : k + 1 + horizon] for e, k in at])
    past = np.stack([episodes[e].y[k - history_rows + 1 : k + 1] for e, k in at])
    scale = np.concatenate([e.y for e in episodes]).std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    evaluation = ForecastEvaluation(
        horizons, roles.targets, 0.0, [(episodes[e].id, k) for e, k in at], scale, truth, past
    )
    future_columns = [c for c in (EPISODE, TIME) if c in data.columns] + list(roles.inputs)
    for name, model in models.items():
        means, lowers, uppers = [], [], []
        started = time.perf_counter()
        for e, k in at:
            rows = episodes[e].frame
            history = rows.iloc[k - history_rows + 1 : k + 1]
            future = rows.iloc[k + 1 : k + 1 + horizon][future_columns]
            forecast = model.forecast(history, future)
            columns = list(roles.targets)
            missing = [c for c in columns if c not in forecast.mean.columns]
            if missing or len(forecast.mean) != horizon:
                raise DataError(
                    f"model {name!r} returned a forecast with {len(forecast.mean)} rows and columns "
                    f"{list(forecast.mean.columns)}; expected {horizon} rows and the targets {columns}"
                )
            means.append(forecast.mean[columns].to_numpy(np.float64))
            lowers.append(forecast.lower[columns].to_numpy(np.float64))
            uppers.append(forecast.upper[columns].to_numpy(np.float64))
            evaluation.level = forecast.level
            if on_forecast:
                on_forecast()
        seconds = time.perf_counter() - started
        mean, lower, upper = np.stack(means), np.stack(lowers), np.stack(uppers)
        evaluation.forecasts[name] = (mean, lower, upper)
        evaluation.scores[name] = _score(mean, lower, upper, truth, scale, roles.targets, horizons, seconds)
    return evaluation


def _score(
    mean: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    truth: np.ndarray,
    scale: np.ndarray,
    targets: Sequence[str],
    horizons: Sequence[int],
    seconds: float,
) -> ModelScores:
    rmse = np.sqrt(np.mean((mean - truth) ** 2, axis=0)) / scale  # (H, ny)
    inside = (truth >= lower) & (truth <= upper)
    return ModelScores(
        nrmse={h: dict(zip(targets, rmse[h - 1].tolist(), strict=True)) for h in horizons},
        coverage=float(inside.mean()),
        coverage_by_horizon={h: float(inside[:, h - 1].mean()) for h in horizons},
        width=float(np.mean((upper - lower) / scale)),
        seconds=seconds,
    )


# --- fault detection --------------------------------------------------------------------------------


@dataclass
class DetectionEvaluation:
    """AUROC per scorer and fault kind, over the same windows and faults for every scorer."""

    window: int
    windows: int
    auroc: dict[str, dict[str, float]] = field(default_factory=dict)
    two_sided: dict[str, dict[str, float]] = field(default_factory=dict)
    """AUROC of ``|log(window mean surprise)|`` for scorers calibrated to ≈ 1 on normal data: a stuck
    sensor *lowers* surprise (its noise vanishes), which only a two-sided score can see."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "windows": self.windows,
            "auroc": self.auroc,
            "two_sided": self.two_sided,
        }


def evaluate_detection(
    scorers: Mapping[str, SurpriseScorer],
    data: pd.DataFrame,
    roles: Roles,
    *,
    kinds: Sequence[str] = FAULT_KINDS,
    window: int = 50,
    warmup: int = 32,
    max_windows: int = 60,
    scales: Mapping[str, float] | None = None,
    magnitudes: Mapping[str, float] | None = None,
    calibrated: Collection[str] = (),
    seed: int = 0,
) -> DetectionEvaluation:
    """Inject each fault kind into the same windows and compute every scorer's AUROC against clean windows.

    ``scales`` (tag → std) sizes the faults; by default the std of each target over ``data``.
    Scorers named in ``calibrated`` (surprise ≈ 1 on normal data) also get the two-sided AUROC.
    """
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise DataError(f"unknown fault kind(s) {unknown}; expected some of {list(FAULT_KINDS)}")
    episodes = to_episodes(data, roles, source="detection data")
    scales = dict(scales or tag_scales(data, roles.targets))
    rng = np.random.default_rng(seed)
    slots = _windows(episodes, window, warmup)
    if not slots:
        raise DataError(
            f"no episode has {warmup + window} rows for one detection window; use longer episodes"
        )
    if len(slots) > max_windows:
        slots = [slots[i] for i in np.sort(rng.choice(len(slots), max_windows, replace=False))]
    cases: list[tuple[str, pd.DataFrame]] = []  # (kind or "clean", frame slice)
    for e, start in slots:
        rows = episodes[e].frame.iloc[start - warmup : start + window]
        cases.append(("clean", rows))
        for kind in kinds:
            tag = str(rng.choice(list(roles.targets)))
            magnitude = (magnitudes or {}).get(kind)
            cases.append((kind, inject(rows, Fault(kind, tag, warmup, window, magnitude), scales, rng)))
    result = DetectionEvaluation(window, len(slots))
    for name, scorer in scorers.items():
        by_kind: dict[str, list[float]] = {}
        for kind, rows in cases:
            score = scorer.surprise(rows).to_numpy(dtype=float)[warmup:]
            by_kind.setdefault(kind, []).append(
                float(np.nanmean(score)) if np.isfinite(score).any() else np.nan
            )
        clean = by_kind.pop("clean")
        result.auroc[name] = {kind: auroc(scores, clean) for kind, scores in by_kind.items()}
        if name in calibrated:
            distance = lambda values: np.abs(np.log(np.maximum(values, 1e-12)))  # noqa: E731
            result.two_sided[name] = {
                kind: auroc(distance(np.asarray(scores)), distance(np.asarray(clean)))
                for kind, scores in by_kind.items()
            }
    return result


def _windows(episodes: Sequence[Episode], window: int, warmup: int) -> list[tuple[int, int]]:
    """Non-overlapping ``(episode index, start row)`` windows, each after ``warmup`` rows of context."""
    return [(e, s) for e, ep in enumerate(episodes) for s in range(warmup, len(ep) - window + 1, window)]
