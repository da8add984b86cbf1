"""The JEPA network: encode a window of tags to a latent, predict the next latent, read tags back out.

All tensors are in normalised units (z-scored tags); :mod:`worldtwin.model.world_model` converts to
engineering units. Conventions, for a table row t (observations at t_t, actions during [t_t, t_t+1)):

- ``encode``: rows t-W+1..t of the observed tags plus the W-1 conditions between them → z_t (D).
- ``cond`` row t: the inputs of the step t → t+1 — actions u_t, known inputs d_t and d_t+1, calendar
  features of t_t+1 — embedded to e_t (E) and fed to the predictor like an action (AdaLN-zero or concat).
- ``predict``: K ensemble heads map the context z_{t-C+1..t} and e_{t-C+1..t} to ẑ_{t+1}.
- ``rollout``: open-loop, feeding predictions back as context, for any number of steps.
- ``readout``: z → every predicted tag; trained jointly with the latent objective.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from worldtwin.model.modules import MLPPredictor, TransformerPredictor, mlp


@dataclass(frozen=True)
class NetConfig:
    """Every size the network is built from; stored in the checkpoint so it can be rebuilt exactly."""

    n_obs: int
    """Predicted tags (readout outputs, encoder inputs)."""
    n_cond: int
    """Condition features per step: actions, known inputs now and next, calendar."""
    latent_dim: int = 32
    window: int = 3
    """Rows the encoder sees (W)."""
    context: int = 1
    """Latents the predictor sees (C)."""
    predictor: Literal["mlp", "transformer"] = "mlp"
    ensemble: int = 5
    width: int = 128
    cond_dim: int = 32

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def rows_needed(self) -> int:
        """Table rows before the first prediction: W-1 to fill the encoder, C latents of context."""
        return self.window + self.context - 1


class JEPA(nn.Module):
    """Encoder + BatchNorm projector → z; K action-conditioned predictor heads; readout z → tags."""

    def __init__(self, config: NetConfig, generator: torch.Generator) -> None:
        super().__init__()
        c = self.config = config
        self.encoder = mlp(c.window * c.n_obs + (c.window - 1) * c.n_cond, c.width, c.width)
        # BatchNorm, not LayerNorm, before the latent: a final LayerNorm would undo what SIGReg shapes (LeWM).
        self.projector = nn.Sequential(
            nn.Linear(c.width, c.width), nn.BatchNorm1d(c.width), nn.GELU(), nn.Linear(c.width, c.latent_dim)
        )
        self.embedder = nn.Sequential(
            nn.Linear(max(c.n_cond, 1), c.cond_dim), nn.SiLU(), nn.Linear(c.cond_dim, c.cond_dim)
        )
        predictor = MLPPredictor if c.predictor == "mlp" else TransformerPredictor
        width = c.width if c.predictor == "mlp" else c.width // 2  # attention tokens are kept narrow
        self.predictor = predictor(c.ensemble, c.latent_dim, c.cond_dim, c.context, width)
        self.readout_head = mlp(c.latent_dim, c.width, c.n_obs)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator) -> None:
        """Initialise every weight from ``generator`` (never the global RNG), as nn.Linear would."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=5**0.5, generator=generator)
                if module.bias is not None:
                    bound = module.weight.shape[1] ** -0.5
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
        self.predictor.reset_parameters(generator)

    # --- the four verbs ----------------------------------------------------------------------------

    def encode(self, y: Tensor, cond: Tensor) -> Tensor:
        """Latents of every full window: y (B, T, n_obs), cond (B, T, n_cond) → z (B, T-W+1, D)."""
        w = self.config.window
        windows = y.unfold(1, w, 1).flatten(-2)  # (B, T-W+1, n_obs*W), time-major within each window
        if w > 1:
            conds = cond[:, :-1].unfold(1, w - 1, 1).flatten(-2)  # (B, T-W+1, n_cond*(W-1))
            windows = torch.cat([windows, conds], dim=-1)
        h = self.encoder(windows).flatten(0, 1)  # (B*T', width); BatchNorm wants 2-D
        z = self.projector(h)  # (B*T', D)
        return z.view(*windows.shape[:2], -1)  # (B, T', D)

    def embed(self, cond: Tensor) -> Tensor:
        """Condition features → embedding: (..., n_cond) → (..., E)."""
        if self.config.n_cond == 0:
            cond = torch.zeros(*cond.shape[:-1], 1, dtype=cond.dtype, device=cond.device)
        return self.embedder(cond)

    def predict(self, z: Tensor, e: Tensor) -> Tensor:
        """One step of every head: z (K or 1, B, C, D), e (B, C, E) → ẑ_{t+1} (K, B, D)."""
        k = self.config.ensemble
        return self.predictor(z.expand(k, *z.shape[1:]), e.expand(k, *e.shape))

    def rollout(self, z: Tensor, e: Tensor) -> Tensor:
        """Open-loop rollout from context z (B, C, D) under embeddings e (B, C+R-1, E) → ẑ (K, B, R, D).

        ``e[:, i]`` conditions the step out of context position i: the first C are the steps out of the
        context latents (only the last one leads to a prediction), then one per predicted step.
        """
        c = self.config.context
        steps = e.shape[1] - c + 1
        context = z.unsqueeze(0)  # (1, B, C, D), shared by all heads until the first prediction
        predictions = []
        for r in range(steps):
            z_next = self.predict(context, e[:, r : r + c])  # (K, B, D)
            predictions.append(z_next)
            context = torch.cat(
                [context[:, :, 1:].expand(len(z_next), -1, -1, -1), z_next.unsqueeze(2)], dim=2
            )
        return torch.stack(predictions, dim=2)  # (K, B, R, D)

    def readout(self, z: Tensor) -> Tensor:
        """Latents → predicted tags (normalised): (..., D) → (..., n_obs)."""
        return self.readout_head(z)
