"""Tables and plots of a comparison: ratio rows, Markdown for the docs, a PNG of fans and error curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worldtwin.model.evaluate import DetectionEvaluation, ForecastEvaluation

REFERENCES = ("arx", "persistence")


def forecast_rows(evaluation: ForecastEvaluation) -> tuple[list[str], list[list[str]]]:
    """Header and rows: per model, mean NRMSE at each horizon with its ratio to ARX and persistence,
    then coverage and width of the bands."""
    references = [r for r in REFERENCES if r in evaluation.scores]
    header = ["model"]
    for h in evaluation.horizons:
        header.append(f"NRMSE h={h}")
        header += [f"×{r} h={h}" for r in references]
    header += [f"coverage ({evaluation.level:.0%} band)", "width/std"]
    rows = []
    for name, scores in evaluation.scores.items():
        row = [name]
        for h in evaluation.horizons:
            row.append(f"{scores.mean_nrmse(h):.4f}")
            row += [f"{evaluation.ratio(name, r, h):.2f}" for r in references]
        row += [f"{scores.coverage:.3f}", f"{scores.width:.3f}"]
        rows.append(row)
    return header, rows


def detection_rows(
    detection: DetectionEvaluation, *, two_sided: bool = False
) -> tuple[list[str], list[list[str]]]:
    """AUROC per scorer and fault kind (``two_sided``: the ``|log mean surprise|`` variant)."""
    table = detection.two_sided if two_sided else detection.auroc
    kinds = sorted({k for by_kind in table.values() for k in by_kind})
    header = ["scorer", *[f"AUROC {k}" for k in kinds]]
    rows = [[name, *[f"{by_kind[k]:.3f}" for k in kinds]] for name, by_kind in table.items()]
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plot_evaluation(evaluation: ForecastEvaluation, path: str | Path, *, fans: int = 3, tag: int = 0) -> Path:
    """PNG: forecast fans vs truth at a few origins (one tag), and mean NRMSE vs horizon per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(evaluation.forecasts)
    picks = np.linspace(0, len(evaluation.origins) - 1, num=min(fans, len(evaluation.origins))).astype(int)
    figure, axes = plt.subplots(1, len(picks) + 1, figsize=(4.2 * (len(picks) + 1), 3.6), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    name = evaluation.targets[tag]
    for axis, pick in zip(axes[0][:-1], picks, strict=True):
        past = evaluation.history[pick, :, tag]
        steps = np.arange(1, evaluation.truth.shape[1] + 1)
        axis.plot(np.arange(-len(past) + 1, 1), past, color="black", lw=1)
        axis.plot(steps, evaluation.truth[pick, :, tag], color="black", lw=1.5, label="truth")
        for i, model in enumerate(models):
            mean, lower, upper = (a[pick, :, tag] for a in evaluation.forecasts[model])
            axis.plot(steps, mean, color=colours[i % len(colours)], lw=1, label=model)
            axis.fill_between(steps, lower, upper, color=colours[i % len(colours)], alpha=0.12)
        episode, row = evaluation.origins[pick]
        axis.set_title(f"{name}: episode {episode}, origin {row}", fontsize=9)
        axis.set_xlabel("steps ahead")
    axes[0][0].legend(fontsize=7)
    curve = axes[0][-1]
    for i, model in enumerate(models):
        mean = evaluation.forecasts[model][0]
        error = np.sqrt(np.mean((mean - evaluation.truth) ** 2, axis=0)) / evaluation.scale
        curve.plot(
            np.arange(1, error.shape[0] + 1), error.mean(axis=1), color=colours[i % len(colours)], label=model
        )
    curve.set_xlabel("horizon (steps)")
    curve.set_ylabel("mean NRMSE over tags")
    curve.set_title("open-loop error vs horizon", fontsize=9)
    curve.legend(fontsize=7)
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
