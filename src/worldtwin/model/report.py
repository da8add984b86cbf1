"""Human-facing artifacts of a trained model: training curves (JSON + PNG) and the model card (Markdown)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from worldtwin.model.world_model import WorldModel


def write_curves(directory: Path, curves: dict[str, Any]) -> None:
    """``curves.json`` and ``curves.png``: training loss terms and validation rollout error per evaluation."""
    (directory / "curves.json").write_text(json.dumps(curves, indent=1) + "\n", encoding="utf-8")
    records = curves.get("records", [])
    if not records:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in records]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for key in (
        "train_loss",
        "train_latent",
        "train_reconstruction",
        "train_readout_direct",
        "train_readout_anchored",
    ):
        if key in records[0]:
            left.plot(steps, [r[key] for r in records], label=key.removeprefix("train_"))
    left.set(xlabel="step", ylabel="training loss", yscale="log", title="training terms")
    left.legend(fontsize=8)
    right.plot(steps, [r["val_rollout_nrmse"] for r in records], marker="o", ms=3)
    if curves.get("best_step"):
        right.axvline(
            curves["best_step"], color="grey", ls="--", lw=1, label=f"kept (step {curves['best_step']})"
        )
        right.legend(fontsize=8)
    right.set(xlabel="step", ylabel="NRMSE", title="validation open-loop error (mean over horizons)")
    fig.savefig(directory / "curves.png", dpi=110)
    plt.close(fig)


def write_card(directory: Path, model: WorldModel) -> None:
    """``MODEL_CARD.md``: the data, the model, held-out metrics and the limits a user must know."""
    info, net = model.info, model.net.config
    data, metrics, train = info.get("data", {}), info.get("metrics", {}), info.get("train", {})
    curves = info.get("curves", {})
    horizon = int(metrics.get("horizon", 0))
    shown = [h for h in (1, 5, 10, 20, 50, 64) if h <= horizon]

    def row(name: str, values: list[float]) -> str:
        return f"| {name} | " + " | ".join(f"{values[h - 1]:.3f}" for h in shown) + " |"

    lines = [
        f"# World model card: {model.spec.name}",
        "",
        f"Twin spec `{model.spec.name}` (spec hash `{model.spec.spec_hash()[:16]}…`). Predicts "
        f"{', '.join(f'`{n}`' for n in model.layout.predicted)} from "
        f"{', '.join(f'`{n}`' for n in model.layout.inputs) or 'no inputs'}"
        + (f" and calendar features {list(model.layout.calendar)}" if model.layout.calendar else "")
        + ".",
        "",
        "## Data",
        "",
        f"- {data.get('rows', '?')} rows, {data.get('episodes', '?')} episode(s); fingerprint "
        f"`{str(data.get('fingerprint', '?'))[:16]}…`",
        f"- split: {data.get('rows_train', '?')} training rows, {data.get('rows_val', '?')} validation rows "
        f"(early stopping, anchoring), {data.get('rows_cal', '?')} calibration rows (bands)",
        "",
        "## Model",
        "",
        f"- encoder over {net.window} rows → latent of {net.latent_dim}; {net.predictor} predictor over "
        f"{net.context} latent(s); ensemble of {net.ensemble}; width {net.width}",
        f"- kept the weights of step {curves.get('best_step', '?')} "
        f"(stopped by {curves.get('stopped', '?')}), seed "
        f"{train.get('seed', '?')}, batch {train.get('batch_size', '?')}",
        "",
        f"## Held-out accuracy ({metrics.get('calibration_windows', '?')} calibration windows)",
        "",
        "NRMSE = RMSE divided by each tag's training standard deviation, averaged over tags.",
        "",
        "| decoding | " + " | ".join(f"h={h}" for h in shown) + " |",
        "|---|" + "---|" * len(shown),
    ]
    for name, key in (("plain readout", "nrmse_direct"), ("anchored", "nrmse_anchored"), ("used", "nrmse")):
        if key in metrics:
            lines.append(row(name, metrics[key]))
    lines += [
        "",
        f"Bands: split-conformal at {model.level:.0%} per tag and horizon, calibrated up to h={horizon}.",
        "",
        "## Known limits",
        "",
        *[f"- {note}" for note in data.get("warnings", [])],
        f"- Bands beyond h={horizon} are extrapolated (√h growth), not calibrated.",
        "- Trust forecasts only near the training data: check `ood_score` against "
        f"{model.monitors.ood_threshold:.1f} (99th percentile held out) before acting on a forecast.",
        "- Coverage is marginal over held-out windows like the training data; after a plant change, "
        "retrain and recalibrate.",
        "- The model has learned correlations in logged data: actions never varied in the data have "
        "no reliable effect in the model.",
    ]
    (directory / "MODEL_CARD.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
