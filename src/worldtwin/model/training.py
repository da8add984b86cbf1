"""Training a world model from a trajectory table: ``worldtwin.train(data, spec, config) -> WorldModel``.

The loop is written out: sample windows, compute the objective's named terms, step AdamW, and every
``eval_every`` steps roll the model out open-loop on held-out windows; training stops when that
rollout error has not improved for ``patience`` evaluations and the best weights are kept. Then the
held-out splits calibrate the decoding, the bands and the anomaly scores.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from worldtwin.errors import DataError, ModelError
from worldtwin.model.calibrate import Bands, Monitors, anchor_weights, rmse, roll_windows
from worldtwin.model.data import (
    Layout,
    Scaler,
    Windows,
    check_sample_period,
    fingerprint,
    pieces,
    split,
    stretch,
)
from worldtwin.model.jepa import JEPA, NetConfig
from worldtwin.model.objective import objective
from worldtwin.model.world_model import WorldModel
from worldtwin.spec.schema import ModelConfig, Twin
from worldtwin.telemetry.table import EPISODE, read_table

Progress = Callable[[int, int, dict[str, float]], None]
"""Called after every training step with (step, max_steps, latest metrics)."""


@dataclass(frozen=True)
class TrainConfig:
    """How to optimise; the architecture comes from the spec's ``model`` section (:class:`ModelConfig`)."""

    max_steps: int = 3000
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    eval_every: int = 100
    patience: int = 8
    """Evaluations without a better validation rollout error before training stops."""
    horizon: int = 64
    """Open-loop steps scored on held-out windows (early stopping) and calibrated (bands)."""
    eval_windows: int = 256
    calibration_windows: int = 4096
    val_share: float = 0.1
    """Share of rows held out for early stopping and the anchoring fit."""
    cal_share: float = 0.2
    """Share of rows held out for the conformal band calibration."""
    width: int = 128
    context: int = 1
    """Latents the predictor sees; the encoder window is the spec's ``model.history``."""
    seed: int = 0
    device: str = "cpu"
    max_seconds: float | None = None
    """Stop after this much wall time even if still improving (results then depend on the machine)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class History:
    """Training curves: one record per evaluation."""

    records: list[dict[str, float]] = field(default_factory=list)
    best_step: int = 0
    stopped: str = "max_steps"


def train(
    data: pd.DataFrame | str | Path,
    spec: Twin,
    config: TrainConfig | None = None,
    *,
    model: ModelConfig | None = None,
    progress: Progress | None = None,
) -> WorldModel:
    """Train, validate and calibrate a world model of ``spec``'s plant on ``data`` (a trajectory table).

    ``model`` overrides ``spec.model`` (latent size, predictor, λ, ensemble, …) without editing the spec.
    """
    config = config or TrainConfig()
    frame = read_table(data) if isinstance(data, str | Path) else data
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame or a path to a table, got {type(frame).__name__}")
    if model is not None:
        spec = spec.model_copy(update={"model": model})
    options, layout = spec.model, Layout.from_spec(spec)
    if not layout.predicted:
        raise ModelError(
            f"spec '{spec.name}' has nothing to predict: every tag is an action or a known input"
        )
    layout.check(frame, "data")
    check_sample_period(frame, layout, "data")
    device = torch.device(config.device)
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator(device).manual_seed(config.seed)

    net_config = NetConfig(
        n_obs=len(layout.predicted),
        n_cond=layout.n_cond,
        latent_dim=options.latent_dim,
        window=options.history,
        context=config.context,
        predictor=options.predictor,
        ensemble=options.ensemble,
        width=config.width,
    )
    rows, steps = net_config.rows_needed, options.rollout_steps
    runs = pieces(frame, layout)
    lengths = sorted(len(p) for p in runs)
    horizon = max(1, min(config.horizon, lengths[len(lengths) // 2] - rows))  # held-out rollout length
    parts = split(
        runs,
        rng,
        train_rows=rows + steps,
        hold_rows=rows + horizon,
        val=config.val_share,
        cal=config.cal_share,
    )
    train_rows = pd.concat(parts.train)
    tags = Scaler.fit(train_rows[list(layout.predicted)].to_numpy(float), layout.predicted, "tag")
    inputs = (
        Scaler.fit(train_rows[list(layout.inputs)].to_numpy(float), layout.inputs, "input")
        if layout.inputs
        else Scaler(np.zeros(0), np.ones(0))
    )
    train_windows = Windows([stretch(p, layout, tags, inputs) for p in parts.train], rows + steps)
    val_stretches = [stretch(p, layout, tags, inputs) for p in parts.val]
    cal_stretches = [stretch(p, layout, tags, inputs) for p in parts.cal]
    val, cal = Windows(val_stretches, rows + horizon), Windows(cal_stretches, rows + horizon)
    for name, windows in (("training", train_windows), ("validation", val), ("calibration", cal)):
        if len(windows) == 0:
            raise DataError(
                f"no {name} window fits the data; record longer episodes (each needs at least "
                f"{windows.length} gap-free rows) or lower model.rollout_steps"
            )

    net = JEPA(net_config, generator).to(device)
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    warmup = min(100, config.max_steps // 10 + 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: (
            min(1.0, (s + 1) / warmup)
            * (0.55 + 0.45 * math.cos(math.pi * min(s, config.max_steps) / config.max_steps))
        ),
    )
    val_starts = val.spread(config.eval_windows)
    history, best, best_state, stale = History(), math.inf, copy.deepcopy(net.state_dict()), 0
    sums: dict[str, float] = {}
    started = time.perf_counter()
    for step in range(1, config.max_steps + 1):
        net.train()
        y, cond = (t.to(device) for t in train_windows.sample(rng, config.batch_size))
        ones = torch.ones(options.ensemble, len(y), device=device)
        bootstrap = torch.poisson(ones, generator=generator) if options.ensemble > 1 else ones  # (K, B)
        terms = objective(
            net,
            y,
            cond,
            sigreg_weight=options.sigreg_weight,
            anchored=options.anchored,
            head_weights=bootstrap,
            generator=generator,
        )
        if not torch.isfinite(terms["loss"]):
            raise ModelError(
                f"training diverged at step {step} (loss {terms['loss'].item()}); lower "
                "learning_rate or check the data for extreme outliers"
            )
        optimiser.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + value.item()
        out_of_time = config.max_seconds is not None and time.perf_counter() - started > config.max_seconds
        if step % config.eval_every == 0 or step == config.max_steps or out_of_time:
            score = validation_error(net, val, val_starts, horizon, options.anchored)
            count = step - (history.records[-1]["step"] if history.records else 0)
            record = {
                "step": step,
                "seconds": time.perf_counter() - started,
                "val_rollout_nrmse": score,
                **{f"train_{k}": v / count for k, v in sums.items()},
            }
            history.records.append(record)
            sums = {}
            if score < best:
                best, best_state, stale, history.best_step = score, copy.deepcopy(net.state_dict()), 0, step
            else:
                stale += 1
            if stale >= config.patience:
                history.stopped = "early_stopping"
                break
            if out_of_time:
                history.stopped = "max_seconds"
                break
        if progress is not None:
            progress(step, config.max_steps, {"loss": terms["loss"].item(), "val": best})
    net.load_state_dict(best_state)
    net.eval()

    val_rollouts = roll_windows(net, val, val.spread(config.calibration_windows), horizon)
    anchor = anchor_weights(val_rollouts, options.anchored)
    cal_rollouts = roll_windows(net, cal, cal.spread(config.calibration_windows), horizon)
    bands = Bands.fit(cal_rollouts, anchor, options.band)
    monitors = Monitors.fit(net, train_windows, Windows(val_stretches + cal_stretches, rows + horizon))
    assert cal_rollouts.truth is not None
    metrics = {
        "horizon": horizon,
        "calibration_windows": len(cal_rollouts.offset),
        "nrmse_direct": rmse(cal_rollouts.mean, cal_rollouts.truth).mean(1).tolist(),
        "nrmse_anchored": rmse(cal_rollouts.decoded(np.ones_like(anchor)), cal_rollouts.truth)
        .mean(1)
        .tolist(),
        "nrmse": rmse(cal_rollouts.decoded(anchor), cal_rollouts.truth).mean(1).tolist(),
        "nrmse_per_tag": dict(
            zip(
                layout.predicted,
                rmse(cal_rollouts.decoded(anchor), cal_rollouts.truth).mean(0).tolist(),
                strict=True,
            )
        ),
    }
    info = {
        "data": {
            "fingerprint": fingerprint(frame, layout.predicted + layout.inputs),
            "rows": len(frame),
            "episodes": int(frame[EPISODE].nunique()) if EPISODE in frame.columns else 1,
            "pieces": {"train": len(parts.train), "val": len(parts.val), "cal": len(parts.cal)},
            "rows_train": int(sum(map(len, parts.train))),
            "rows_val": int(sum(map(len, parts.val))),
            "rows_cal": int(sum(map(len, parts.cal))),
        },
        "train": config.to_dict(),
        "metrics": metrics,
        "curves": {"records": history.records, "best_step": history.best_step, "stopped": history.stopped},
    }
    starts = train_windows.spread(64)
    init_y, init_cond = train_windows.take(starts)
    return WorldModel(
        spec,
        net,
        tags,
        inputs,
        anchor,
        bands,
        monitors,
        info,
        start_y=init_y[:, :rows].numpy(),
        start_cond=init_cond[:, :rows].numpy(),
        start_time=train_windows.time[starts + rows - 1],
    )


@torch.no_grad()
def validation_error(net: JEPA, windows: Windows, starts: np.ndarray, horizon: int, anchored: str) -> float:
    """Mean open-loop NRMSE over tags and horizons 1..H (the early-stopping score)."""
    net.eval()
    rollouts = roll_windows(net, windows, starts, horizon)
    assert rollouts.truth is not None
    direct = rmse(rollouts.mean, rollouts.truth).mean()
    anchored_error = rmse(rollouts.decoded(np.ones(rollouts.heads.shape[2:])), rollouts.truth).mean()
    return float({"off": direct, "on": anchored_error, "auto": min(direct, anchored_error)}[anchored])
