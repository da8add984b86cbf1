"""The training objective: multi-step latent prediction + λ·SIGReg + joint readout, as named terms.

One training window holds ``W-1 + C + R`` rows: W-1 to fill the encoder, C latents of context and R
open-loop steps. The predictor is rolled out R steps from the context without seeing the true
latents again (teacher forcing only at the start), because one-step training compounds its errors
and loses to ARX at long horizons (docs/world-model.md). The targets are not detached: no stop-gradient
and no EMA target network; SIGReg and the readout keep the latent from collapsing.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from worldtwin.model.jepa import JEPA
from worldtwin.model.modules import sigreg

Anchoring = Literal["auto", "on", "off"]
SIGREG_SAMPLES = 512
"""Latents per batch that SIGReg sees: a few hundred suffice; all B·(C+R) of them cost 10× more."""


def objective(
    net: JEPA,
    y: Tensor,
    cond: Tensor,
    *,
    sigreg_weight: float,
    anchored: Anchoring,
    head_weights: Tensor,
    generator: torch.Generator,
) -> dict[str, Tensor]:
    """Loss terms of one batch: y (B, N, n_obs), cond (B, N, n_cond), head_weights (K, B) → {name: scalar}.

    ``head_weights`` (online bootstrap, mean 1) lets each ensemble head see its own resampling of the
    batch in the latent term. The readout is scored on encoded latents (reconstruction) and on rolled-out
    latents, either
    directly or anchored on the last observation (ŷ_h = y_0 + read(ẑ_h) − read(z_0)), or both ("auto").
    """
    w, c = net.config.window, net.config.context
    z = net.encode(y, cond)  # (B, C+R, D)
    e = net.embed(cond[:, w - 1 : -1])  # (B, C+R-1, E) conditions of the steps out of each latent
    z_hat = net.rollout(z[:, :c], e)  # (K, B, R, D)
    weights = head_weights[:, :, None]  # (K, B, 1)

    prediction = (((z_hat - z[:, c:]) ** 2).mean(-1) * weights).mean()  # next-latent MSE, no stop-gradient
    flat = z.flatten(0, 1)  # (B*(C+R), D)
    sample = torch.randperm(len(flat), generator=generator, device=flat.device)[
        :SIGREG_SAMPLES
    ]  # SIGReg's cost grows with rows
    regulariser = sigreg(flat[sample], generator=generator)

    y_seen = y[:, w - 1 :]  # (B, C+R, n_obs) rows that have a latent
    y_read = net.readout(z)  # (B, C+R, n_obs)
    # Each window's rollout is read out through one random head: an unbiased estimate of the mean over
    # heads at 1/K of the cost (the readout of K·B·R latents was the most expensive part of a step).
    head = torch.randint(len(z_hat), (len(y),), generator=generator, device=y.device)  # (B,)
    y_roll = net.readout(z_hat[head, torch.arange(len(y), device=y.device)])  # (B, R, n_obs)
    y_future = y_seen[:, c:]  # (B, R, n_obs)
    reconstruction = ((y_read - y_seen) ** 2).mean()
    direct = ((y_roll - y_future) ** 2).mean()
    offset = (y_seen[:, c - 1] - y_read[:, c - 1])[
        :, None
    ]  # (B, 1, n_obs) readout error at the last observation
    anchored_error = ((y_roll + offset - y_future) ** 2).mean()
    rollout = {"off": direct, "on": anchored_error, "auto": 0.5 * (direct + anchored_error)}[anchored]

    loss = prediction + sigreg_weight * regulariser + reconstruction + rollout
    return {
        "loss": loss,
        "latent": prediction,
        "sigreg": regulariser,
        "reconstruction": reconstruction,
        "readout_direct": direct,
        "readout_anchored": anchored_error,
    }
