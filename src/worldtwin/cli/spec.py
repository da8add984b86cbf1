"""``worldtwin spec ...``: validate, infer and document twin specs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from worldtwin.cli.output import console, err_console, split_names
from worldtwin.errors import SpecError
from worldtwin.spec.loading import dump_spec, load_spec
from worldtwin.spec.reference import reference_markdown, splice

spec_app = typer.Typer(
    help="Check, create and document twin spec files (YAML).\n\n"
    "A spec lists a plant's tags (units, ranges), actions (bounds, rate limits), hard limits and "
    "objectives. Every other command reads it.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(spec_app, name="spec")


@spec_app.command("validate")
def validate(
    files: Annotated[list[Path], typer.Argument(help="One or more spec YAML files.", show_default=False)],
) -> None:
    """Check spec files and report every problem as file:line key, the bad value and what was expected.

    Exit status 0 when all files are valid, 2 otherwise.

    Example:  worldtwin spec validate twins/reactor.yaml
    """
    failures: list[SpecError] = []
    for path in files:
        try:
            twin = load_spec(path)
        except SpecError as exc:
            failures.append(exc)
            continue
        console.print(
            f"[green]ok[/green] {path}: twin '{twin.name}' — {len(twin.tags)} tags "
            f"({len(twin.action_names)} actions, {len(twin.known_input_names)} known inputs), "
            f"{len(twin.limits)} hard limits, {len(twin.objectives)} objectives, "
            f"Δt = {twin.sample_period:g} s",
            highlight=False,
        )
    if len(failures) == 1:
        raise failures[0]
    if failures:
        for failure in failures:
            err_console.print(f"error: {failure}", markup=False, highlight=False, soft_wrap=True)
        err_console.print(f"{len(failures)} of {len(files)} files invalid", highlight=False)
        raise typer.Exit(code=2)


@spec_app.command("infer")
def infer(
    data: Annotated[Path, typer.Argument(help="Trajectory table (.parquet or .csv) with a 'time' column.")],
    obs: Annotated[
        str | None, typer.Option(help="Measured tags, comma-separated (default: every other numeric column).")
    ] = None,
    act: Annotated[str | None, typer.Option(help="Manipulated tags, comma-separated.")] = None,
    known: Annotated[str | None, typer.Option(help="Disturbances known ahead (schedules, prices).")] = None,
    name: Annotated[str, typer.Option(help="Twin name (lowercase id).")] = "inferred",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the spec here (default: print it).")
    ] = None,
) -> None:
    """Write a starter spec from a dataset: tags with observed ranges, action bounds, the sample period.

    Units cannot be read from a CSV: fill them in, then run 'worldtwin spec validate'.

    Example:  worldtwin spec infer plant.csv --obs T,Ca --act Tc --out reactor.yaml
    """
    from worldtwin.telemetry.infer import infer_spec
    from worldtwin.telemetry.table import read_table

    twin = infer_spec(
        read_table(data), obs=split_names(obs), act=split_names(act), known=split_names(known), name=name
    )
    text = dump_spec(twin)
    if out is None:
        console.print(text, markup=False, highlight=False, end="")
        return
    out.write_text(text, encoding="utf-8")
    console.print(
        f"wrote {out}: {len(twin.tags)} tags, Δt = {twin.sample_period:g} s. "
        "Next: add units, then 'worldtwin spec validate'.",
        highlight=False,
    )


@spec_app.command("reference")
def reference(
    write: Annotated[
        Path | None, typer.Option(help="Update the reference block inside this Markdown file.")
    ] = None,
) -> None:
    """Print the spec reference (generated from the schema), or refresh it inside a Markdown file."""
    if write is None:
        console.print(reference_markdown(), markup=False, highlight=False)
        return
    write.write_text(splice(write.read_text(encoding="utf-8")), encoding="utf-8")
    console.print(f"updated the spec reference in {write}")
