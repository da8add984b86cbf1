"""Held-out scoring shared by the world-model benchmarks: NRMSE and band coverage per horizon, against
persistence and a least-squares ARX fitted on the same training rows (the yardsticks the model must
beat; the full baseline comparison lives in ``worldtwin evaluate``).

Scoring is batched through the model's internals (the same computation ``WorldModel.forecast`` does
one window at a time): every test window of ``rows_needed + H`` rows, stride ``stride``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from worldtwin.model.calibrate import Rollouts, roll_windows
from worldtwin.model.data import Windows, pieces, stretch
from worldtwin.model.world_model import WorldModel


@dataclass(frozen=True)
class Scores:
    nrmse: dict[str, list[float]]  # decoding / baseline → NRMSE per horizon 1..H (mean over tags)
    coverage: list[float]  # per horizon, mean over tags
    windows: int


def test_windows(wm: WorldModel, frame: pd.DataFrame, horizon: int, stride: int) -> Windows:
    stretches = [stretch(p, wm.layout, wm.tags, wm.inputs) for p in pieces(frame, wm.layout)]
    windows = Windows(stretches, wm.net.config.rows_needed + horizon)
    windows.starts = windows.starts[::stride]
    return windows


def arx_fit(frame: pd.DataFrame, wm: WorldModel, order: int = 2) -> np.ndarray:
    """Least-squares ARX in the model's scaled units: y_t+1 = Θ·[y_t..y_t-p+1, c_t..c_t-p+1, 1]."""
    rows_x, rows_y = [], []
    for piece in pieces(frame, wm.layout):
        s = stretch(piece, wm.layout, wm.tags, wm.inputs)
        for t in range(order - 1, len(s.y) - 1):
            rows_x.append(_arx_features(s.y[t - order + 1 : t + 1], s.cond[t - order + 1 : t + 1]))
            rows_y.append(s.y[t + 1])
    theta, *_ = np.linalg.lstsq(np.asarray(rows_x), np.asarray(rows_y), rcond=None)
    return theta  # type: ignore[no-any-return]


def _arx_features(y: np.ndarray, cond: np.ndarray) -> np.ndarray:
    return np.concatenate([y[::-1].reshape(-1), cond[::-1].reshape(-1), [1.0]])


def arx_rollout(
    theta: np.ndarray, y: np.ndarray, cond: np.ndarray, start: int, horizon: int, order: int = 2
) -> np.ndarray:
    """Open-loop ARX forecasts (n, H, m) from windows y (n, N, m), cond (n, N, c), last seen row ``start``."""
    hist_y = list(np.moveaxis(y[:, start - order + 1 : start + 1], 1, 0))
    out = []
    for h in range(horizon):
        t = start + h
        feats = np.concatenate(
            [
                np.concatenate(hist_y[::-1][:order], axis=1),
                np.concatenate([cond[:, t - k] for k in range(order)], axis=1),
                np.ones((len(y), 1)),
            ],
            axis=1,
        )
        nxt = feats @ theta
        out.append(nxt)
        hist_y.append(nxt)
    return np.stack(out, axis=1)


def score(
    wm: WorldModel, train: pd.DataFrame, test: pd.DataFrame, horizon: int = 50, stride: int = 5
) -> Scores:
    windows = test_windows(wm, test, horizon, stride)
    rollouts: Rollouts = roll_windows(wm.net, windows, windows.starts, horizon)
    assert rollouts.truth is not None
    truth = rollouts.truth
    std = wm.tags.std / test[list(wm.layout.predicted)].to_numpy(float).std(
        0
    )  # scaled units → test-std units

    def nrmse(forecast: np.ndarray) -> list[float]:
        return (np.sqrt(((forecast - truth) ** 2).mean(0)) * std).mean(1).tolist()  # type: ignore[no-any-return]

    y, cond = (t.numpy() for t in windows.take(windows.starts))
    rows = wm.net.config.rows_needed
    theta = arx_fit(train, wm)
    fitted = wm.anchor_weights(horizon)
    decoded = rollouts.decoded(fitted)
    half = wm.bands.half_width(rollouts.spread)
    return Scores(
        nrmse={
            "model": nrmse(decoded),
            "plain": nrmse(rollouts.decoded(np.zeros_like(fitted))),
            "anchored": nrmse(rollouts.decoded(np.ones_like(fitted))),
            "persistence": nrmse(np.repeat(y[:, rows - 1 : rows], horizon, axis=1)),
            "arx": nrmse(arx_rollout(theta, y, cond, rows - 1, horizon)),
        },
        coverage=(np.abs(truth - decoded) <= half).mean((0, 2)).tolist(),
        windows=len(windows.starts),
    )
