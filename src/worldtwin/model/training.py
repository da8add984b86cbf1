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
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from worldtwin.errors import DataError, ModelError
from worldtwin.model.calibrate import Bands, Monitors, Rollouts, anchor_weights, rmse, roll_windows
from worldtwin.model.data import (
    Layout,
    Scaler,
    Windows,
    check_sample_period,
    constants,
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

    max_steps: int = 2400
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
    threads: int | None = 1
    """Torch CPU threads while training (restored afterwards); None leaves torch's setting. One by default:
    this model's matmuls are small, and on a busy 2-core machine two OpenMP threads made a step about
    4× slower (docs/world-model.md, "Training speed")."""
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


@dataclass(frozen=True)
class Prepared:
    """A table turned into what the loop needs: scalers, windows of each split, the held-out horizon."""

    layout: Layout
    net: NetConfig
    tags: Scaler
    inputs: Scaler
    train: Windows  # windows of W-1 + C + R rows
    val: Windows  # windows of W-1 + C + H rows (H = horizon)
    cal: Windows
    held: Windows  # val and cal together (surprise and OOD scales)
    horizon: int
    data: dict[str, Any]  # facts for the model card


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
    with torch_threads(config.threads):
        return _train(frame, spec, config, progress)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Use ``count`` torch intra-op threads inside the block (None: leave the setting alone)."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(frame: pd.DataFrame, spec: Twin, config: TrainConfig, progress: Progress | None) -> WorldModel:
    rng = np.random.default_rng(config.seed)
    generator = torch.Generator(config.device).manual_seed(config.seed)
    prepared = prepare(frame, spec, config, rng)
    net = JEPA(prepared.net, generator).to(config.device)
    history = fit(net, prepared, spec.model, config, rng, generator, progress)

    val = roll_windows(net, prepared.val, prepared.val.spread(config.calibration_windows), prepared.horizon)
    anchor = anchor_weights(val, spec.model.anchored)
    cal = roll_windows(net, prepared.cal, prepared.cal.spread(config.calibration_windows), prepared.horizon)
    bands = Bands.fit(cal, anchor, spec.model.band)
    monitors = Monitors.fit(net, prepared.train, prepared.held)
    info = {
        "data": prepared.data,
        "train": config.to_dict(),
        "metrics": held_out_metrics(cal, anchor, prepared),
        "curves": asdict(history),
    }
    rows = prepared.net.rows_needed
    starts = prepared.train.spread(64)  # where the dream env may start an episode
    start_y, start_cond = prepared.train.take(starts)
    return WorldModel(
        spec,
        net,
        prepared.tags,
        prepared.inputs,
        anchor,
        bands,
        monitors,
        info,
        start_y=start_y[:, :rows].numpy(),
        start_cond=start_cond[:, :rows].numpy(),
        start_time=prepared.train.time[starts + rows - 1],
    )


def prepare(frame: pd.DataFrame, spec: Twin, config: TrainConfig, rng: np.random.Generator) -> Prepared:
    """Check the table against the spec, split it, fit the scalers and cut the windows."""
    layout, options = Layout.from_spec(spec), spec.model
    if not layout.predicted:
        raise ModelError(
            f"spec '{spec.name}' has nothing to predict: every tag is an action or a known input"
        )
    layout.check(frame, "data")
    check_sample_period(frame, layout, "data")
    net = NetConfig(
        n_obs=len(layout.predicted),
        n_cond=layout.n_cond,
        latent_dim=options.latent_dim,
        window=options.history,
        context=config.context,
        predictor=options.predictor,
        ensemble=options.ensemble,
        width=config.width,
    )
    rows, steps = net.rows_needed, options.rollout_steps
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
    tag_values = train_rows[list(layout.predicted)].to_numpy(float)
    input_values = train_rows[list(layout.inputs)].to_numpy(float).reshape(len(train_rows), -1)
    notes = constant_notes(tag_values, input_values, layout)
    tags, inputs = Scaler.fit(tag_values), Scaler.fit(input_values)
    val, cal = ([stretch(p, layout, tags, inputs) for p in group] for group in (parts.val, parts.cal))
    windows = {
        "training": Windows([stretch(p, layout, tags, inputs) for p in parts.train], rows + steps),
        "validation": Windows(val, rows + horizon),
        "calibration": Windows(cal, rows + horizon),
    }
    for name, found in windows.items():
        if len(found) == 0:
            raise DataError(
                f"no {name} window fits the data; record longer episodes (each needs at least "
                f"{found.length} gap-free rows) or lower model.rollout_steps"
            )
    data = {
        "fingerprint": fingerprint(frame, layout.predicted + layout.inputs),
        "rows": len(frame),
        "episodes": int(frame[EPISODE].nunique()) if EPISODE in frame.columns else 1,
        **{
            f"rows_{k}": int(sum(map(len, v)))
            for k, v in (("train", parts.train), ("val", parts.val), ("cal", parts.cal))
        },
    }
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    data["warnings"] = notes
    return Prepared(
        layout,
        net,
        tags,
        inputs,
        windows["training"],
        windows["validation"],
        windows["calibration"],
        Windows(val + cal, rows + horizon),
        horizon,
        data,
    )


def constant_notes(tag_values: np.ndarray, input_values: np.ndarray, layout: Layout) -> list[str]:
    """Warnings for columns that never change in the training rows; an error when every tag is constant.

    Such columns are kept (a spec may list a spare sensor or an unused action): a constant tag is
    forecast as that constant, and a constant input carries no information about its effect.
    """
    flat_tags, flat_inputs = constants(tag_values, layout.predicted), constants(input_values, layout.inputs)
    if len(flat_tags) == len(layout.predicted):
        raise DataError(
            f"every predicted tag is constant in the training rows ({', '.join(flat_tags)}); there "
            "are no dynamics to learn. Train on data where the plant moves"
        )
    notes = []
    if flat_tags:
        notes.append(
            f"tag(s) {', '.join(flat_tags)} never change in the training data and are forecast as "
            "constants; drop them from the spec if they are spare or dead sensors"
        )
    if flat_inputs:
        notes.append(
            f"input(s) {', '.join(flat_inputs)} never change in the training data, so the model "
            "cannot know their effect: forecasts under other values are guesses. Train on data "
            "where they are moved, or drop them from the spec"
        )
    return notes


def fit(
    net: JEPA,
    prepared: Prepared,
    options: ModelConfig,
    config: TrainConfig,
    rng: np.random.Generator,
    generator: torch.Generator,
    progress: Progress | None,
) -> History:
    """The optimisation loop with early stopping on the validation rollout error; keeps the best weights."""
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    warmup = min(100, config.max_steps // 10 + 1)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: (
            min(1.0, (s + 1) / warmup)
            * (0.55 + 0.45 * math.cos(math.pi * min(s, config.max_steps) / config.max_steps))
        ),
    )  # cosine to 10 %
    val_starts = prepared.val.spread(config.eval_windows)
    history, best, best_state, stale = History(), math.inf, copy.deepcopy(net.state_dict()), 0
    sums: dict[str, float] = {}
    started = time.perf_counter()
    for step in range(1, config.max_steps + 1):
        net.train()
        y, cond = (t.to(config.device) for t in prepared.train.sample(rng, config.batch_size))
        ones = torch.ones(options.ensemble, len(y), device=config.device)
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
            score = validation_error(net, prepared.val, val_starts, prepared.horizon, options.anchored)
            count = step - (history.records[-1]["step"] if history.records else 0)
            history.records.append(
                {
                    "step": step,
                    "seconds": time.perf_counter() - started,
                    "val_rollout_nrmse": score,
                    **{f"train_{k}": v / count for k, v in sums.items()},
                }
            )
            sums = {}
            if score < best:
                best, best_state, stale, history.best_step = score, copy.deepcopy(net.state_dict()), 0, step
            else:
                stale += 1
            if stale >= config.patience or out_of_time:
                history.stopped = "max_seconds" if out_of_time else "early_stopping"
                break
        if progress is not None:
            progress(step, config.max_steps, {"loss": terms["loss"].item(), "val": best})
    net.load_state_dict(best_state)
    net.eval()
    return history


@torch.no_grad()
def validation_error(net: JEPA, windows: Windows, starts: np.ndarray, horizon: int, anchored: str) -> float:
    """Mean open-loop NRMSE over tags and horizons 1..H (the early-stopping score)."""
    net.eval()
    rollouts = roll_windows(net, windows, starts, horizon)
    assert rollouts.truth is not None
    direct = rmse(rollouts.mean, rollouts.truth).mean()
    anchored_error = rmse(rollouts.decoded(np.ones(rollouts.heads.shape[2:])), rollouts.truth).mean()
    return float({"off": direct, "on": anchored_error, "auto": min(direct, anchored_error)}[anchored])


def held_out_metrics(cal: Rollouts, anchor: np.ndarray, prepared: Prepared) -> dict[str, Any]:
    """NRMSE per horizon on the calibration windows: plain readout, anchored, and the decoding in use."""
    assert cal.truth is not None
    used = rmse(cal.decoded(anchor), cal.truth)  # (H, m)
    return {
        "horizon": prepared.horizon,
        "calibration_windows": len(cal.offset),
        "nrmse_direct": rmse(cal.mean, cal.truth).mean(1).tolist(),
        "nrmse_anchored": rmse(cal.decoded(np.ones_like(anchor)), cal.truth).mean(1).tolist(),
        "nrmse": used.mean(1).tolist(),
        "nrmse_per_tag": dict(zip(prepared.layout.predicted, used.mean(0).tolist(), strict=True)),
    }
