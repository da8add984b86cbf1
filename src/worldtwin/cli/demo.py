"""``worldtwin demo``: the main job on the built-in default twin (what ``make demo`` runs)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from worldtwin.cli.output import console, err_console


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the dataset, store, model and plots.")
    ] = Path("demo-output"),
    quick: Annotated[bool, typer.Option(help="A tiny run (seconds) to check an installation.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the simulation, split and training.")] = 0,
) -> None:
    """Simulate the built-in CSTR, store its log, train a world model and show what it predicts.

    Every step is what you would do with your own plant: 'worldtwin simulate' (or 'ingest' real
    data), 'worldtwin train', 'worldtwin evaluate'. Runs offline in a few minutes on a laptop CPU.

    Example:  worldtwin demo --out demo-output
    """
    from dataclasses import replace

    from worldtwin.demo import DemoConfig, run_demo

    config = replace(DemoConfig.quick() if quick else DemoConfig(), seed=seed)
    started = time.perf_counter()

    def step(text: str) -> None:
        err_console.print(
            f"[bold cyan]›[/bold cyan] {text}  [dim]({time.perf_counter() - started:.0f} s)[/dim]",
            highlight=False,
        )

    result = run_demo(out, config, step)
    data = result.data
    console.print(
        f"\n[bold]data[/bold]: {data['rows']:,} rows in {data['episodes']} episodes "
        f"({data['hours_simulated']:.1f} h of plant time); store: {data['samples_stored']:,} samples stored, "
        f"{data['samples_quarantined']} quarantined; {data['rows_exported']:,} rows exported for training",
        highlight=False,
    )
    table = Table(title="open-loop forecasts of held-out episodes (NRMSE: lower is better)")
    columns = list(next(iter(result.forecasts.values())))
    table.add_column("model")
    for column in columns:
        table.add_column(
            column.replace("nrmse_", "NRMSE ").replace("coverage", "90 % band coverage"), justify="right"
        )
    for name, row in result.forecasts.items():
        table.add_row(name, *(f"{row[c]:.3f}" for c in columns))
    console.print(table)
    if result.detection:
        faults = Table(title="fault detection on held-out data (AUROC: 1 perfect, 0.5 chance)")
        kinds = list(next(iter(result.detection.values())))
        faults.add_column("score")
        for kind in kinds:
            faults.add_column(kind, justify="right")
        for name, row in result.detection.items():
            faults.add_row(name, *(f"{row[k]:.2f}" for k in kinds))
        console.print(faults)
    console.print(f"\nwrote {out}/: " + ", ".join(p.name for p in result.files.values()), highlight=False)
    console.print(
        f"next: look at {out}/forecast.png · 'worldtwin evaluate {out}/model {out}/cstr.parquet' "
        f"for the full comparison · 'worldtwin serve-plant worldtwin/cstr-v1 --opcua' for a live plant "
        f"(done in {time.perf_counter() - started:.0f} s)",
        highlight=False,
    )
