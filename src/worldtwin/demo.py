"""The end-to-end demo behind ``make demo`` / ``worldtwin demo``: the main job on the embedded default.

1. simulate the built-in CSTR under closed-loop excitation and record a trajectory table;
2. store it in the twin's telemetry store (validated: every sample stored or quarantined) and export
   the training table back from the store;
3. train the JEPA world model on the training episodes;
4. forecast held-out episodes next to persistence and ARX fitted in the same run, with 90 % bands;
5. inject sensor faults into held-out data and score the model's surprise against a z-score;
6. write plots and a JSON summary into the output folder.

Each step is a library call a user can make the same way; this module only wires them together.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from worldtwin.sim.collect import collect
from worldtwin.sim.registry import spec_of
from worldtwin.telemetry.table import EPISODE, TIME, write_table

TWIN = "worldtwin/cstr-v1"
Step = Callable[[str], None]
"""Called with a short description as each stage starts (the CLI shows it)."""


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo run; ``quick`` shrinks everything for tests."""

    episodes: int = 24
    steps: int = 400
    train_steps: int = 800
    origins: int = 120
    seed: int = 0

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(episodes=8, steps=160, train_steps=60, origins=30)


@dataclass
class DemoResult:
    """What the demo produced: file paths and the headline numbers."""

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    forecasts: dict[str, dict[str, float]] = field(default_factory=dict)
    detection: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {k: str(v) for k, v in self.files.items()},
            "data": self.data,
            "forecasts": self.forecasts,
            "detection": self.detection,
        }


def run_demo(out: str | Path, config: DemoConfig | None = None, step: Step | None = None) -> DemoResult:
    """Run the whole demo into the folder ``out`` and return what it produced."""
    from worldtwin.model import TrainConfig, train
    from worldtwin.model.eval_report import plot_evaluation
    from worldtwin.model.eval_suite import compare, fit_baselines, zscore_detector
    from worldtwin.model.eval_windows import Roles, split_episodes
    from worldtwin.telemetry.store import Store

    config = config or DemoConfig()
    announce = step or (lambda _: None)
    result = DemoResult(Path(out))
    result.out.mkdir(parents=True, exist_ok=True)
    twin = spec_of(TWIN)

    announce(f"simulate {TWIN}: {config.episodes} episodes × {config.steps} steps, closed-loop dither")
    frame = collect(
        TWIN, episodes=config.episodes, steps=config.steps, policy="closed-loop-dither", seed=config.seed
    )
    result.files["dataset"] = write_table(frame, result.out / "cstr.parquet", frame.attrs.get("worldtwin"))
    result.files["dataset_plot"] = plot_dataset(frame, twin.tag_names, result.out / "dataset.png")

    announce("store the log in the telemetry store and export it back")
    with Store.open(result.out / "cstr.store", twin) as store:
        report = store.append(_as_timestamps(frame))
        stored = store.trajectory(dt=twin.sample_period)
    result.data = {
        "rows": len(frame),
        "episodes": int(frame[EPISODE].nunique()),
        "hours_simulated": float(len(frame) * twin.sample_period / 3600),
        "samples_stored": report.stored,
        "samples_quarantined": report.quarantined,
        "rows_exported": len(stored),
    }

    train_part, validation, test = split_episodes(frame, (0.7, 0.15, 0.15), seed=config.seed)
    announce(
        f"train the world model on {len(train_part) + len(validation):,} rows "
        f"(up to {config.train_steps} steps)"
    )
    model = train(
        pd.concat([train_part, validation], ignore_index=True),
        twin,
        TrainConfig(max_steps=config.train_steps, seed=config.seed),
    )
    result.files["model"] = model.save(result.out / "model")

    announce("forecast held-out episodes next to persistence and ARX")
    roles = Roles.from_spec(twin)
    horizon = min(50, config.steps // 3)
    baselines = fit_baselines(
        ("persistence", "arx"), train_part, validation, roles, horizon=horizon, seed=config.seed
    )
    comparison = compare(
        {"world model": model, **baselines},
        test,
        roles,
        horizons=sorted({1, min(10, horizon), horizon}),
        origins=config.origins,
        history_rows=16,
        seed=config.seed,
        detectors={"world model": model, "z-score": zscore_detector(train_part, roles)},
        calibrated=("world model",),
        detection_window=min(50, config.steps // 4),
    )
    evaluation = comparison.forecasts
    for name, scores in evaluation.scores.items():
        result.forecasts[name] = {f"nrmse_h{h}": scores.mean_nrmse(h) for h in evaluation.horizons}
        result.forecasts[name]["coverage"] = scores.coverage
    if comparison.detection is not None:
        result.detection = comparison.detection.to_dict()["auroc"]
    result.files["forecast_plot"] = plot_evaluation(
        evaluation, result.out / "forecast.png", tag=roles.targets.index("T")
    )
    summary = result.out / "summary.json"
    summary.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    result.files["summary"] = summary
    return result


def _as_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """Simulated episodes start at t = 0 s; lay them on a calendar, an hour apart, so the store can hold
    them (the gap is longer than the store holds a last value, so episodes stay apart on export)."""
    start = pd.Timestamp("2026-01-05T00:00:00Z")
    durations = frame.groupby(EPISODE)[TIME].max()
    episode_start = (durations + 3600.0).cumsum().shift(fill_value=0.0)
    seconds = frame[TIME] + frame[EPISODE].map(episode_start)
    return frame.drop(columns=EPISODE).assign(**{TIME: start + pd.to_timedelta(seconds, unit="s")})


def plot_dataset(frame: pd.DataFrame, tags: list[str], path: Path, episodes: int = 2) -> Path:
    """PNG: every tag over time for the first few episodes, one panel per tag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(tags), 1, figsize=(9, 1.4 * len(tags)), sharex=True, squeeze=False)
    for episode, part in list(frame.groupby(EPISODE))[:episodes]:
        minutes = part[TIME] / 60.0
        for axis, tag in zip(axes[:, 0], tags, strict=True):
            axis.plot(minutes, part[tag], lw=0.8, label=f"episode {episode}")
            axis.set_ylabel(tag, fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("minutes")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
