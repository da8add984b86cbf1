"""Held-out calibration: anchoring weights, conformal bands, surprise and out-of-distribution scales.

Everything here runs on windows the network never trained on. The validation split fits the
anchoring weights; the calibration split, untouched until then, sets the band quantiles, so the
reported band covers ``level`` of held-out outcomes at every horizon and for every tag (split
conformal prediction, with the ensemble spread as a local scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from worldtwin.model.data import Windows
from worldtwin.model.jepa import JEPA


@dataclass(frozen=True)
class Rollouts:
    """Open-loop forecasts of windows, in normalised units."""

    heads: np.ndarray  # (K, n, H, n_obs) direct readout of every head's rollout
    offset: np.ndarray  # (n, n_obs) readout error at the last observation, y_0 − read(z_0)
    truth: np.ndarray | None = None  # (n, H, n_obs) what happened, when known

    @property
    def mean(self) -> np.ndarray:
        return self.heads.mean(0)

    @property
    def spread(self) -> np.ndarray:
        return self.heads.std(0)

    def decoded(self, anchor: np.ndarray) -> np.ndarray:
        """Ensemble-mean forecast with ``anchor[h]`` of the current readout error carried to horizon h."""
        return self.mean + anchor[None, : self.heads.shape[2]] * self.offset[:, None]


@torch.no_grad()
def roll_out(net: JEPA, y: torch.Tensor, cond: torch.Tensor, horizon: int) -> Rollouts:
    """Forecast ``horizon`` steps after the first ``net.config.rows_needed`` rows of y (B, ≥rows, n_obs).

    ``cond`` (B, rows_needed + horizon - 1, n_cond) must cover every step's inputs.
    """
    rows, w = net.config.rows_needed, net.config.window
    z = net.encode(y[:, :rows], cond[:, :rows])  # (B, C, D)
    e = net.embed(cond[:, w - 1 : rows + horizon - 1])  # (B, C+H-1, E)
    heads = net.readout(net.rollout(z, e))  # (K, B, H, n_obs)
    offset = y[:, rows - 1] - net.readout(z[:, -1])  # (B, n_obs)
    truth = y[:, rows : rows + horizon] if y.shape[1] >= rows + horizon else None
    return Rollouts(heads.cpu().numpy(), offset.cpu().numpy(), None if truth is None else truth.cpu().numpy())


def roll_windows(net: JEPA, windows: Windows, starts: np.ndarray, horizon: int, batch: int = 512) -> Rollouts:
    parts = []
    for i in range(0, len(starts), batch):
        y, cond = windows.take(starts[i : i + batch])
        parts.append(roll_out(net, y, cond, horizon))
    return Rollouts(
        np.concatenate([p.heads for p in parts], axis=1),
        np.concatenate([p.offset for p in parts]),
        np.concatenate([p.truth for p in parts if p.truth is not None]),
    )


def rmse(forecast: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Root-mean-square error per horizon and tag, in normalised units (≈ NRMSE): (n, H, m) → (H, m)."""
    return np.sqrt(((forecast - truth) ** 2).mean(0))


def anchor_weights(val: Rollouts, mode: Literal["auto", "on", "off"]) -> np.ndarray:
    """(H, n_obs) share of the current readout error to add back at each horizon.

    "on" is anchored decoding (ŷ_h = y_0 + read(ẑ_h) − read(z_0)), "off" the plain readout; "auto" fits
    the least-squares share in [0, 1] per tag and horizon on the validation windows.
    """
    assert val.truth is not None
    shape = val.heads.shape[2:]
    if mode != "auto":
        return np.full(shape, 1.0 if mode == "on" else 0.0)
    residual = val.truth - val.mean  # (n, H, m)
    offset = val.offset[:, None]  # (n, 1, m)
    share = (offset * residual).sum(0) / np.maximum((offset**2).sum(0), 1e-12)
    return np.clip(share, 0.0, 1.0)


@dataclass(frozen=True)
class Bands:
    """Split-conformal band half-width = quantile × (ensemble spread + scale), per horizon and tag."""

    scale: np.ndarray  # (H, n_obs) mean ensemble spread on the calibration windows (1 for one head)
    quantile: np.ndarray  # (H, n_obs)
    level: float

    @classmethod
    def fit(cls, cal: Rollouts, anchor: np.ndarray, level: float) -> Bands:
        assert cal.truth is not None
        spread = cal.spread  # (n, H, m)
        scale = spread.mean(0)
        scale = np.where(scale > 1e-9, scale, 1.0)  # an ensemble of one: plain absolute residuals
        scores = np.abs(cal.truth - cal.decoded(anchor)) / (spread + scale)  # (n, H, m)
        n = len(scores)
        rank = min(int(np.ceil((n + 1) * level)), n)  # finite-sample conformal rank
        quantile = np.sort(scores, axis=0)[rank - 1]
        return cls(scale, quantile, level)

    def half_width(self, spread: np.ndarray) -> np.ndarray:
        """(…, H, m) spread → half-width; beyond the calibrated horizon the last width grows as √h."""
        horizon = spread.shape[-2]
        steps = self.quantile.shape[0]
        q, s = self.quantile, self.scale
        if horizon > steps:
            growth = np.sqrt(np.arange(steps + 1, horizon + 1) / steps)[:, None]
            q = np.concatenate([q, q[-1] * growth])
            s = np.concatenate([s, np.repeat(s[-1:], horizon - steps, axis=0)])
        return q[:horizon] * (spread + s[:horizon])


@torch.no_grad()
def latent_residuals(
    net: JEPA, y: torch.Tensor, cond: torch.Tensor, horizon: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoded latents z (B, T', D) and residuals z_t − ẑ_{t|t−horizon} (B, n, D) of the ensemble mean.

    ẑ_{t|t−h} is predicted open-loop from the context ending h steps before t, under the logged inputs;
    there are n = T' − C − h + 1 such t per sequence, the last n latents.
    """
    c, w = net.config.context, net.config.window
    z = net.encode(y, cond)  # (B, T', D) latent of row W-1+j at position j
    n = z.shape[1] - c - horizon + 1
    context = z.unfold(1, c, 1)[:, :n].transpose(-1, -2)  # (B, n, C, D) contexts ending at C-1 … C-2+n
    e = net.embed(cond[:, w - 1 : -1]).unfold(1, c + horizon - 1, 1).transpose(-1, -2)  # (B, n, C+h-1, E)
    z_hat = net.rollout(context.flatten(0, 1), e.flatten(0, 1)).mean(0)[:, -1]  # (B*n, D)
    return z, z[:, c - 1 + horizon :] - z_hat.view(len(z), n, -1)


SURPRISE_HORIZONS = 32
"""Surprise can look up to this many steps back (its scale is calibrated per horizon)."""


@dataclass(frozen=True)
class Monitors:
    """Scales of the per-sample surprise and out-of-distribution scores, from held-out data."""

    residual_var: np.ndarray  # (S, D) per-dimension variance of h-step latent residuals, h = 1..S
    surprise_threshold: np.ndarray  # (S,) 99th percentile of held-out surprise at each horizon
    latent_mean: np.ndarray  # (D,) of training latents
    latent_precision: np.ndarray  # (D, D) inverse covariance of training latents
    ood_threshold: float  # 99th percentile of held-out Mahalanobis d²

    @classmethod
    def fit(cls, net: JEPA, train: Windows, held: Windows, count: int = 2048) -> Monitors:
        """Latent statistics from ``train``; residual scales and thresholds from ``held``-out windows."""
        z_train = net_latents(net, train, count)
        mean = z_train.mean(0)
        precision = np.linalg.pinv(np.cov(z_train, rowvar=False) + 1e-6 * np.eye(z_train.shape[1]))
        d2 = mahalanobis(net_latents(net, held, count), mean, precision)
        # h-step residuals: roll each held-out window from its first context, compare with its encoding.
        horizons = min(SURPRISE_HORIZONS, held.length - net.config.rows_needed)
        y, cond = held.take(held.spread(count))
        rows = net.config.rows_needed + horizons
        with torch.no_grad():
            w, c = net.config.window, net.config.context
            z = net.encode(y[:, :rows], cond[:, :rows])  # (B, C+S, D)
            z_hat = net.rollout(z[:, :c], net.embed(cond[:, w - 1 : rows - 1])).mean(0)  # (B, S, D)
        errors = (z[:, c:] - z_hat).double().numpy()  # (B, S, D)
        residual_var = errors.var(0) + 1e-12
        surprise = (errors**2 / residual_var).mean(-1)  # (B, S)
        return cls(
            residual_var, np.quantile(surprise, 0.99, axis=0), mean, precision, float(np.quantile(d2, 0.99))
        )


@torch.no_grad()
def net_latents(net: JEPA, windows: Windows, count: int) -> np.ndarray:
    """Encoded latents of up to ``count`` windows, flattened: (n, D) float64."""
    return net.encode(*windows.take(windows.spread(count))).flatten(0, 1).double().numpy()


def mahalanobis(z: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    centred = z - mean
    return np.einsum("nd,de,ne->n", centred, precision, centred)
