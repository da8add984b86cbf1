"""``worldtwin train``: learn a world model from a trajectory table and write its model directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worldtwin.cli.output import console, progress, split_names
from worldtwin.errors import DataError


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)


def train_command(
    data: Annotated[
        Path,
        typer.Argument(
            help="Trajectory table (.parquet or .csv): 'time', optional 'episode', one column per tag.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Model directory to write.", show_default=False)],
    spec: Annotated[
        Path | None, typer.Option(help="Twin spec YAML naming the tags, actions and known inputs.")
    ] = None,
    obs: Annotated[
        str | None,
        typer.Option(
            help="Without --spec: measured tags, comma-separated (default: every other numeric column)."
        ),
    ] = None,
    act: Annotated[
        str | None, typer.Option(help="Without --spec: manipulated tags, comma-separated.")
    ] = None,
    known: Annotated[
        str | None, typer.Option(help="Without --spec: disturbances known ahead, comma-separated.")
    ] = None,
    steps: Annotated[
        int, typer.Option(min=1, help="Most training steps (early stopping usually ends sooner).")
    ] = 2400,
    seed: Annotated[int, typer.Option(help="Seed for the split, initialisation and batches.")] = 0,
    device: Annotated[str, typer.Option(help="Torch device, e.g. cpu or cuda.")] = "cpu",
    latent_dim: Annotated[int | None, typer.Option(help="Override the spec's model.latent_dim.")] = None,
    predictor: Annotated[
        str | None, typer.Option(help="Override the spec's model.predictor: mlp or transformer.")
    ] = None,
    ensemble: Annotated[int | None, typer.Option(min=1, help="Override the spec's model.ensemble.")] = None,
    threads: Annotated[
        int, typer.Option(min=0, help="Torch CPU threads while training; 0 leaves torch's choice.")
    ] = 1,
) -> None:
    """Train, validate and calibrate a world model; write weights, config, curves and a model card.

    The data is split into training, validation (early stopping) and calibration (90 % bands) parts;
    the model directory holds weights.safetensors, model.json, curves.json/.png and MODEL_CARD.md.

    Examples:
      worldtwin train plant.parquet --spec reactor.yaml --out models/reactor
      worldtwin train log.csv --obs T,Ca --act Tc --out models/quick --steps 500
    """

    from worldtwin.model.training import TrainConfig, train
    from worldtwin.spec.loading import load_spec
    from worldtwin.telemetry.infer import infer_spec
    from worldtwin.telemetry.table import read_table

    frame = read_table(data)
    if spec is not None:
        if obs or act or known:
            raise DataError(
                "pass either --spec or --obs/--act/--known, not both; the spec already names the tags"
            )
        twin = load_spec(spec)
    else:
        twin = infer_spec(
            frame, obs=split_names(obs), act=split_names(act), known=split_names(known), name=_slug(data.stem)
        )
    overrides = {
        k: v
        for k, v in (("latent_dim", latent_dim), ("predictor", predictor), ("ensemble", ensemble))
        if v is not None
    }
    if predictor is not None and predictor not in ("mlp", "transformer"):
        raise DataError(f"--predictor {predictor!r} is not known; use 'mlp' or 'transformer'")
    model = twin.model.model_copy(update=overrides) if overrides else None
    config = TrainConfig(max_steps=steps, seed=seed, device=device, threads=threads or None)
    with progress() as bar:
        task = bar.add_task("training", total=steps)

        def report(step: int, total: int, metrics: dict[str, float]) -> None:
            bar.update(
                task,
                completed=step,
                description=f"training · loss {metrics['loss']:.3f} · val NRMSE {metrics['val']:.3f}",
            )

        wm = train(frame, twin, config, model=model, progress=report)
        bar.update(task, completed=steps, description="training done")
    where = wm.save(out)
    metrics = wm.info["metrics"]
    shown = [h for h in (1, 10, 50) if h <= metrics["horizon"]]
    console.print(
        f"wrote {where}/ (model.json, weights.safetensors, curves.png, MODEL_CARD.md)", highlight=False
    )
    console.print(
        f"stopped: {wm.info['curves']['stopped']} at step {wm.info['curves']['records'][-1]['step']}, "
        f"kept step {wm.info['curves']['best_step']}",
        highlight=False,
    )
    console.print(
        "held-out NRMSE  " + "  ".join(f"h={h}: {metrics['nrmse'][h - 1]:.3f}" for h in shown),
        highlight=False,
    )


def _slug(stem: str) -> str:
    import re

    slug = re.sub(r"[^a-z0-9_\-]+", "-", stem.lower()).strip("-_")
    return slug if slug and slug[0].isalnum() else f"model-{slug}".rstrip("-")
