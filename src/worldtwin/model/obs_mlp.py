"""The strongest non-latent baseline: an observation-space MLP trained through multi-step rollouts.

The network maps the last ``history`` standardised observations and inputs to the change of the
observation over one step (in units of the typical one-step change). Training rolls it out open
loop for ``rollout_steps`` steps, feeding back its own predictions and the true future inputs
(actions and known-ahead disturbances), and back-propagates the mean squared error over every step
— the same multi-step loss as the world model. A small ensemble (different initialisations and
batch orders) is averaged; early stopping watches the rollout loss on validation episodes; bands are
split-conformal per horizon step like every other baseline (:class:`WindowForecaster`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from worldtwin.errors import ModelError
from worldtwin.model.baselines import Scaler, WindowForecaster
from worldtwin.model.eval_windows import Episode, Roles, Windows, all_windows, make_windows, spread_origins


@dataclass(frozen=True)
class RolloutMLPConfig:
    """Training settings; defaults are the ones the benchmark uses."""

    history: int = 3
    rollout_steps: int = 16
    hidden: int = 256
    layers: int = 3
    ensemble: int = 3
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    max_epochs: int = 60
    patience: int = 8
    max_seconds: float | None = None
    """Wall-clock budget for the whole ensemble; training stops (keeping the best weights) when spent."""
    seed: int = 0
    device: str = "cpu"
    threads: int | None = 1
    """torch intra-op threads while training/predicting (restored after). Small MLPs gain nothing from more,
    and on a busy 2-core machine 2 threads made one training step 50× slower (0.08 s → 4.2 s, measured)."""


@contextmanager
def _threads(count: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _network(inputs: int, outputs: int, hidden: int, layers: int) -> nn.Sequential:
    parts: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        parts += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    last = nn.Linear(width, outputs)
    nn.init.zeros_(last.weight)  # start as persistence; learn the change
    nn.init.zeros_(last.bias)
    return nn.Sequential(*parts, last)


class RolloutMLP(WindowForecaster):
    """Ensemble of residual MLPs ``y[k+1] = y[k] + f(y[k-L+1..k], u[k-L+1..k])`` in standardised units."""

    name = "mlp"

    def __init__(self, roles: Roles, config: RolloutMLPConfig, level: float = 0.9) -> None:
        super().__init__(roles, history=config.history, level=level)
        self.config = config
        self.device = torch.device(config.device)
        ny, nu = len(roles.targets), len(roles.inputs)
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's global RNG
            torch.manual_seed(config.seed)
            self.members = nn.ModuleList(
                _network(config.history * (ny + nu), ny, config.hidden, config.layers)
                for _ in range(config.ensemble)
            ).to(self.device)
        self.y_scale: Scaler | None = None
        self.u_scale: Scaler | None = None
        self.step_scale = torch.ones(ny)
        self.epochs_run = 0
        self.train_seconds = 0.0

    # --- tensors -------------------------------------------------------------------------------------

    def _tensors(self, windows: Windows) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        assert self.y_scale is not None and self.u_scale is not None
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        return (
            as_tensor(self.y_scale(windows.y_hist[:, -self.history :])),
            as_tensor(self.u_scale(windows.u_hist[:, -self.history :])),
            as_tensor(self.u_scale(windows.u_future)),
            as_tensor(self.y_scale(windows.y_future)),
        )

    def _rollout(
        self, member: nn.Module, y: torch.Tensor, u: torch.Tensor, u_future: torch.Tensor, steps: int
    ) -> torch.Tensor:
        """Open-loop rollout (standardised): (B, L, ny), (B, L, nu), (B, ≥steps-1, nu) → (B, steps, ny)."""
        out = []
        scale = self.step_scale.to(y.device)
        for step in range(steps):
            features = torch.cat([y.flatten(1), u.flatten(1)], dim=1)
            y_next = y[:, -1] + member(features) * scale
            out.append(y_next)
            if step + 1 < steps:
                y = torch.cat([y[:, 1:], y_next[:, None]], dim=1)
                u = torch.cat([u[:, 1:], u_future[:, step : step + 1]], dim=1)
        return torch.stack(out, dim=1)

    # --- fitting -------------------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        train: Sequence[Episode],
        validation: Sequence[Episode],
        roles: Roles,
        config: RolloutMLPConfig | None = None,
        *,
        level: float = 0.9,
        calibration_horizon: int = 50,
    ) -> RolloutMLP:
        """Train the ensemble on ``train`` with early stopping on ``validation``; calibrate bands there."""
        model = cls(roles, config or RolloutMLPConfig(), level)
        with _threads(model.config.threads):
            model._train(train, validation)
        model.calibrate(validation, calibration_horizon, seed=model.config.seed)
        return model

    def _train(self, train: Sequence[Episode], validation: Sequence[Episode]) -> None:
        cfg = self.config
        self.y_scale = Scaler.fit(np.concatenate([e.y for e in train]))
        self.u_scale = Scaler.fit(np.concatenate([e.u for e in train]))
        steps = np.concatenate([np.diff(self.y_scale(e.y), axis=0) for e in train])
        self.step_scale = torch.as_tensor(np.maximum(steps.std(axis=0), 1e-3), dtype=torch.float32)
        windows = all_windows(train, cfg.history, cfg.rollout_steps)
        if len(windows) == 0:
            raise ModelError(
                f"no training windows of {cfg.history}+{cfg.rollout_steps} rows; use longer episodes"
            )
        val_at = spread_origins(
            validation, cfg.history, cfg.rollout_steps, 2000, np.random.default_rng(cfg.seed)
        )
        y, u, uf, target = self._tensors(windows)
        vy, vu, vuf, vtarget = self._tensors(make_windows(validation, val_at, cfg.history, cfg.rollout_steps))
        rng = np.random.default_rng(cfg.seed)
        started = time.perf_counter()
        budget = cfg.max_seconds / len(self.members) if cfg.max_seconds else None
        for member in self.members:
            member_started = time.perf_counter()
            optimizer = torch.optim.AdamW(member.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
            best, best_state, stale = float("inf"), None, 0
            for _epoch in range(cfg.max_epochs):
                member.train()
                for batch in np.array_split(rng.permutation(len(y)), max(1, len(y) // cfg.batch_size)):
                    index = torch.as_tensor(batch, device=self.device)
                    predicted = self._rollout(member, y[index], u[index], uf[index], cfg.rollout_steps)
                    loss = torch.mean((predicted - target[index]) ** 2)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    nn.utils.clip_grad_norm_(member.parameters(), 1.0)
                    optimizer.step()
                self.epochs_run += 1
                member.eval()
                with torch.no_grad():
                    val_loss = float(
                        torch.mean((self._rollout(member, vy, vu, vuf, cfg.rollout_steps) - vtarget) ** 2)
                    )
                if val_loss < best - 1e-6:
                    best, stale = val_loss, 0
                    best_state = {k: v.detach().clone() for k, v in member.state_dict().items()}
                else:
                    stale += 1
                if stale >= cfg.patience or (budget and time.perf_counter() - member_started > budget):
                    break
            if best_state is not None:
                member.load_state_dict(best_state)
            member.eval()
        self.train_seconds = time.perf_counter() - started

    # --- prediction ----------------------------------------------------------------------------------

    def _predict(self, y_hist: np.ndarray, u_hist: np.ndarray, u_future: np.ndarray) -> np.ndarray:
        if self.y_scale is None:
            raise ModelError("RolloutMLP is not trained; use RolloutMLP.fit(train, validation, roles)")
        windows = Windows(y_hist, u_hist, u_future, np.zeros((len(y_hist), 0, y_hist.shape[2])))
        y, u, uf, _ = self._tensors(windows)
        horizon = u_future.shape[1]
        with torch.no_grad(), _threads(self.config.threads):
            runs = [self._rollout(m, y, u, uf, horizon) for m in self.members]
        mean = torch.stack(runs).mean(dim=0).cpu().numpy().astype(np.float64)
        return self.y_scale.inverse(mean)

    def describe(self) -> dict[str, object]:
        return {
            **asdict(self.config),
            "epochs_run": self.epochs_run,
            "train_seconds": round(self.train_seconds, 2),
        }
