"""``worldtwin twins`` and ``worldtwin simulate``: list the built-in plants, collect data from them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from worldtwin.cli.output import console, progress
from worldtwin.errors import DataError
from worldtwin.sim.policies import POLICIES, policy_class
from worldtwin.spec.schema import HardLimit

SUFFIXES = (".parquet", ".pq", ".csv")


def register(app: typer.Typer) -> None:
    app.command("twins")(twins)
    app.command("simulate")(simulate)


def twins() -> None:
    """List the registered twins: id, what they are, how many tags and actions, their sample period.

    Example:  worldtwin twins
    """
    from worldtwin.sim.registry import entry, registered, spec_of

    table = Table(title="Registered twins", title_justify="left")
    for column in ("id", "description", "tags", "actions", "Δt"):
        table.add_column(column, overflow="fold")
    for twin_id in registered():
        spec = spec_of(twin_id)
        description = entry(twin_id).description or spec.metadata.title
        table.add_row(
            twin_id,
            description,
            str(len(spec.tags)),
            str(len(spec.action_names)),
            f"{spec.sample_period:g} s",
        )
    console.print(table)


def simulate(
    twin: Annotated[
        str, typer.Argument(help="Registered twin id, e.g. worldtwin/cstr-v1 ('worldtwin twins').")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Trajectory table to write (.parquet or .csv).")],
    episodes: Annotated[int, typer.Option(min=1, help="Number of episodes.")] = 1,
    steps: Annotated[int, typer.Option(min=1, help="Steps (samples) per episode.")] = 1000,
    policy: Annotated[str, typer.Option(help=f"Excitation policy: {', '.join(POLICIES)}.")] = "random-walk",
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same table.")] = 0,
) -> None:
    """Simulate a twin under an excitation policy and write the trajectory table.

    Columns: episode, time (s), then every tag of the twin's spec. Row k holds the measurements at
    t_k and the action applied until t_k+1. Parquet files carry the twin id, spec hash, policy and seed.
    The policies keep the plant inside its hard limits (a bump test comes first).

    Example:  worldtwin simulate worldtwin/cstr-v1 --episodes 4 --steps 2000 --policy prbs --out cstr.parquet
    """
    from worldtwin.sim.collect import collect
    from worldtwin.sim.registry import entry
    from worldtwin.telemetry.table import write_table

    entry(twin)  # unknown id: a did-you-mean error before any work
    policy_class(policy)
    if out.suffix.lower() not in SUFFIXES:
        raise DataError(
            f"--out {str(out)!r}: unsupported file type {out.suffix or '(none)'!r}; "
            f"use one of {', '.join(SUFFIXES)}, e.g. --out data.parquet"
        )

    started = time.perf_counter()
    with progress() as bar:
        # The policy bump-tests the plant first; the first progress report ends that phase.
        task = bar.add_task(f"{twin} · bump test", total=episodes * steps)
        frame = collect(
            twin,
            episodes=episodes,
            steps=steps,
            policy=policy,
            seed=seed,
            progress=lambda n: bar.update(task, advance=n, description=f"{twin} · {policy}"),
        )
    elapsed = time.perf_counter() - started
    metadata = frame.attrs["worldtwin"]
    write_table(frame, out, metadata)

    from worldtwin.sim.registry import spec_of

    spec = spec_of(twin)
    lengths = frame.groupby("episode").size()
    short = int((lengths < steps).sum())
    console.print(
        f"wrote [bold]{out}[/bold]: {len(frame)} rows, {episodes} episode{'s' if episodes != 1 else ''} "
        f"({lengths.max() * spec.sample_period / 3600:.3g} h simulated each"
        f"{f', {short} ended early' if short else ''}), {len(frame) / elapsed:,.0f} steps/s, "
        f"spec {metadata['spec_hash'][:12]}",
        highlight=False,
    )
    table = Table(box=None, padding=(0, 2))
    for column in ("tag", "kind", "unit", "min", "mean", "max"):
        table.add_column(column, justify="right" if column in ("min", "mean", "max") else "left")
    for tag in spec.tags:
        values = frame[tag.name]
        stats = (f"{values.min():.4g}", f"{values.mean():.4g}", f"{values.max():.4g}")
        table.add_row(tag.name, tag.kind, tag.unit, *stats)
    console.print(table)
    console.print(_limit_report(frame, spec.limits), highlight=False)


def _limit_report(frame: pd.DataFrame, limits: list[HardLimit]) -> str:
    """One line: which hard limits the data crossed, and in how many rows."""
    if not limits:
        return "hard limits: none declared"
    crossed = []
    for limit in limits:
        values = frame[limit.tag].to_numpy()
        low = -np.inf if limit.min is None else limit.min
        high = np.inf if limit.max is None else limit.max
        rows = int(np.count_nonzero((values < low) | (values > high)))
        if rows:
            crossed.append(f"{limit.tag} ({limit.severity}): {rows} rows outside [{low}, {high}]")
    return "hard limits: " + ("; ".join(crossed) if crossed else f"all {len(limits)} respected")
