"""The learned model as a Gymnasium environment ("dream" env), under the same contract as the plant.

Spaces, action clipping, rate limits and reward come from the twin spec via :class:`TwinEnv`; only
the dynamics are the world model's. An episode starts from a window of the training data (drawn with
the env's seeded RNG), then rolls the latent forward open-loop under the agent's actions. Known-ahead
inputs are held at their starting values and calendar features follow the simulated clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch

from worldtwin.model.data import calendar_features
from worldtwin.sim.env import TwinEnv

if TYPE_CHECKING:
    from worldtwin.model.world_model import WorldModel


class DreamEnv(TwinEnv):
    """A :class:`WorldModel` behind the twin's env contract; see :meth:`WorldModel.as_env`."""

    def __init__(
        self,
        model: WorldModel,
        *,
        max_episode_steps: int | None = 200,
        member: Literal["mean", "sample"] = "mean",
    ) -> None:
        super().__init__(model.spec, max_episode_steps)
        self.model, self.member = model, member
        self._context = torch.zeros(0)
        self._embeddings = torch.zeros(0)

    @torch.no_grad()
    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        model, net = self.model, self.model.net
        pick = int(self.np_random.integers(len(model.start_y)))
        self._head = int(self.np_random.integers(net.config.ensemble)) if self.member == "sample" else None
        y = torch.from_numpy(model.start_y[pick : pick + 1]).to(model.device)  # (1, rows, m)
        cond = torch.from_numpy(model.start_cond[pick : pick + 1]).to(model.device)  # (1, rows, n_cond)
        z = net.encode(y, cond)  # (1, C, D)
        self._context = z.unsqueeze(0)  # (1, 1, C, D); one context per head after the first step
        # (1, C, E) conditions of the steps out of the context latents; step() replaces the last one
        self._embeddings = net.embed(cond[:, net.config.window - 1 :])
        self._offset = (y[0, -1] - net.readout(z[0, -1])).cpu().numpy()  # (m,) readout error at the start
        n_a, n_k = len(model.layout.actions), len(model.layout.known)
        self._known = cond[0, -1, n_a : n_a + n_k].cpu().numpy()  # (n_k,) scaled known inputs, held
        self._clock = float(model.start_time[pick])  # seconds of the last observed row
        self._predicted = model.tags.inverse(y[0, -1].cpu().numpy())
        return self._tags()

    @torch.no_grad()
    def _advance(self, action: np.ndarray) -> dict[str, float]:
        model, net, n_a = self.model, self.model.net, len(self.model.layout.actions)
        scaled = (action - model.inputs.mean[:n_a]) / model.inputs.std[:n_a]
        clock = pd.Series([self._clock + (self._steps + 1) * self.twin.sample_period])
        calendar = calendar_features(clock, model.layout.calendar)[0]
        row = np.concatenate([scaled, self._known, self._known, calendar]).astype(np.float32)
        e = net.embed(torch.from_numpy(row).to(model.device))[None, None]  # (1, 1, E) the step out of now
        self._embeddings = torch.cat([self._embeddings[:, :-1], e], dim=1)  # (1, C, E)
        z_next = net.predict(self._context, self._embeddings)  # (K, 1, D)
        self._context = torch.cat(
            [self._context[:, :, 1:].expand(len(z_next), -1, -1, -1), z_next[:, :, None]], 2
        )
        # shift the conditions along with the latents; the last one is a placeholder until the next step
        self._embeddings = torch.cat([self._embeddings[:, 1:], e], dim=1)
        heads = net.readout(z_next[:, 0]).cpu().numpy()  # (K, m)
        read = heads.mean(0) if self._head is None else heads[self._head]
        self._predicted = model.tags.inverse(read + model.anchor_weights(self._steps + 1)[-1] * self._offset)
        return self._tags()

    def _tags(self) -> dict[str, float]:
        layout, inputs, n_a = self.model.layout, self.model.inputs, len(self.model.layout.actions)
        known = self._known * inputs.std[n_a:] + inputs.mean[n_a:]
        return dict(zip(layout.predicted, self._predicted.tolist(), strict=True)) | dict(
            zip(layout.known, known.tolist(), strict=True)
        )
