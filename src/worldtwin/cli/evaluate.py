"""``worldtwin evaluate``: score a trained world model against baselines on held-out episodes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from worldtwin.cli.output import console, err_console, progress, split_names
from worldtwin.errors import DataError, ModelError
from worldtwin.model.forecast import Forecaster
from worldtwin.spec.loading import load_spec
from worldtwin.spec.schema import Twin
from worldtwin.telemetry.table import read_table

NO_MODEL = "-"
BASELINES = "persistence, arx, mlp, darts"


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


def _load_world_model(path: Path) -> tuple[Forecaster, Twin | None]:
    world_model = getattr(importlib.import_module("worldtwin.model"), "WorldModel", None)
    if world_model is None:
        raise ModelError(
            "this build of worldtwin has no world model yet (worldtwin.model.WorldModel); "
            f"evaluate the baselines alone with MODEL_DIR '{NO_MODEL}' and --spec SPEC"
        )
    if not path.is_dir():
        raise ModelError(f"{path}: not a model directory; pass the folder written by 'worldtwin train'")
    model = world_model.load(path)
    twin = getattr(model, "spec", None) or getattr(model, "twin", None)
    return model, twin if isinstance(twin, Twin) else None


def evaluate(
    model_dir: Annotated[
        Path,
        typer.Argument(
            help=f"Folder of a trained world model, or '{NO_MODEL}' to score the baselines alone."
        ),
    ],
    data: Annotated[
        Path, typer.Argument(help="Held-out trajectory table (.parquet/.csv) with several episodes.")
    ],
    spec: Annotated[Path | None, typer.Option(help="Twin spec YAML (default: the model's own spec).")] = None,
    train: Annotated[
        Path | None,
        typer.Option(
            help="Table to fit the baselines on (split by episode into train/validation). "
            "Without it DATA itself is split and only its test episodes are scored."
        ),
    ] = None,
    horizons: Annotated[str, typer.Option(help="Forecast horizons in steps, comma-separated.")] = "1,10,50",
    baselines: Annotated[
        str, typer.Option(help=f"Peers to fit and score: {BASELINES}.")
    ] = "persistence,arx,mlp",
    origins: Annotated[int, typer.Option(help="Forecast origins drawn from the scored episodes.")] = 200,
    faults: Annotated[
        bool, typer.Option(help="Also score injected faults (stuck, drift, spike, bias): AUROC.")
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write all metrics as JSON here.")] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG: forecast fans vs truth, error vs horizon.")
    ] = None,
    mlp_epochs: Annotated[int, typer.Option(help="Epoch cap for the MLP baseline.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed for splits, origins, faults and baseline training.")] = 0,
) -> None:
    """Forecast accuracy (NRMSE at each horizon), band coverage/width and fault detection of a world model,
    next to baselines fitted in the same run, on the same origins.

    NRMSE = RMSE over origins / the tag's std on the scored data; ratios < 1 beat the reference.

    Example:  worldtwin evaluate runs/cstr heldout.parquet --train train.parquet --faults --plot eval.png
    """
    try:
        steps = sorted({int(h) for h in split_names(horizons)})
    except ValueError:
        steps = []
    if not steps or steps[0] < 1:
        raise DataError(f"--horizons {horizons!r}: expected positive step counts such as 1,10,50")
    names = split_names(baselines)
    model, twin = (None, None) if str(model_dir) == NO_MODEL else _load_world_model(model_dir)
    # torch and the baselines load here, so `worldtwin --help` stays fast
    from worldtwin.model.eval_report import detection_rows, forecast_rows, plot_evaluation
    from worldtwin.model.eval_suite import compare, fit_baselines, zscore_detector
    from worldtwin.model.eval_windows import Roles, split_episodes
    from worldtwin.model.evaluate import SurpriseScorer
    from worldtwin.model.obs_mlp import RolloutMLPConfig

    if spec is not None:
        twin = load_spec(spec)
    if twin is None:
        raise ModelError("no twin spec: pass --spec SPEC (the model did not carry one)")
    roles = Roles.from_spec(twin)
    table = read_table(data)
    if train is not None:
        fit_part, val_part = split_episodes(read_table(train), (0.8, 0.2, 0.0), seed=seed)[:2]
        scored = table
    else:
        fit_part, val_part, scored = split_episodes(table, seed=seed)
        err_console.print(
            f"scoring the {scored['episode'].nunique()} test episodes of {data} "
            "(pass --train to score all of it); the model must not have been trained on them"
        )
    horizon = steps[-1]
    with progress() as bar:
        task = bar.add_task("fitting baselines", total=len(names))
        fitted = fit_baselines(
            names,
            fit_part,
            val_part,
            roles,
            horizon=horizon,
            seed=seed,
            mlp=RolloutMLPConfig(max_epochs=mlp_epochs, seed=seed),
            on_fitted=lambda _: bar.advance(task),
        )
        models: dict[str, Forecaster] = ({"world model": model} if model is not None else {}) | dict(fitted)
        detectors: dict[str, SurpriseScorer] = {}
        if faults:
            if model is not None:
                detectors["world model"] = model  # type: ignore[assignment]
            for name in ("mlp", "arx"):
                if name in fitted:
                    fitted[name].surprise_steps = (1, min(10, horizon))
                    detectors[name] = fitted[name]
            detectors["zscore"] = zscore_detector(fit_part, roles)
        task = bar.add_task("forecasting", total=len(models) * min(origins, 10**9))
        result = compare(
            models,
            scored,
            roles,
            horizons=steps,
            origins=origins,
            seed=seed,
            detectors=detectors or None,
            calibrated=[name for name in detectors if name != "zscore"],
            on_forecast=lambda: bar.advance(task),
        )
    _print(
        forecast_rows(result.forecasts),
        f"{twin.name}: open-loop forecasts on {len(result.forecasts.origins)} origins",
    )
    if result.detection is not None:
        windows = result.detection.windows
        _print(detection_rows(result.detection), f"fault detection on {windows} windows: mean surprise")
        _print(detection_rows(result.detection, two_sided=True), "two-sided: |log mean surprise|")
    if json_out is not None:
        document: dict[str, Any] = {"twin": twin.name, "data": str(data), **result.to_dict()}
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(document, indent=2), encoding="utf-8")
        console.print(f"metrics written to {json_out}")
    if plot is not None:
        console.print(f"plot written to {plot_evaluation(result.forecasts, plot)}")


def _print(header_rows: tuple[list[str], list[list[str]]], title: str) -> None:
    header, rows = header_rows
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
