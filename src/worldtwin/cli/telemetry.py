"""``worldtwin ingest``, ``export`` and ``store ...``: plant data into and out of the telemetry store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from worldtwin.cli.output import console, err_console, progress, split_names
from worldtwin.errors import DataError, WorldtwinError
from worldtwin.spec.schema import FileSource, Twin
from worldtwin.telemetry.ingest import ImportOptions
from worldtwin.telemetry.store import Store, load_twin
from worldtwin.telemetry.validate import Issue, ValidationPolicy, ValidationReport

store_app = typer.Typer(
    help="Look into a twin's telemetry store: what is stored, what was quarantined, archiving.\n\n"
    "The store is a directory (DuckDB + Parquet) next to the spec: <spec dir>/<twin name>.store.",
    no_args_is_help=True,
)

TwinOption = Annotated[
    str, typer.Option("--twin", "-t", help="Twin spec YAML file, or a registered twin id.")
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", "-s", help="Store directory or postgresql:// URL (default: <spec dir>/<twin>.store)."
    ),
]


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("export")(export)
    app.add_typer(store_app, name="store")


def _spec_dir(twin: str) -> Path:
    path = Path(twin)
    return path.resolve().parent if path.exists() else Path.cwd()


def default_store(twin_arg: str, twin: Twin) -> Path:
    """Where a twin's store lives unless --store says otherwise."""
    return _spec_dir(twin_arg) / f"{twin.name}.store"


def _open(
    twin_arg: str, store: str | None, *, read_only: bool = False, policy: ValidationPolicy | None = None
) -> Store:
    location = store or default_store(twin_arg, load_twin(twin_arg))
    return Store.open(location, twin_arg, read_only=read_only, policy=policy)  # a file: sources resolve


def _pairs(text: str | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in split_names(text):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise typer.BadParameter(
                f"{item!r} is not NAME=VALUE; e.g. {option} LT101=level,FT7=inflow", param_hint=option
            )
        pairs[key.strip()] = value.strip()
    return pairs


def report_table(report: ValidationReport, title: str) -> Table:
    """The validation report as a rich table: one row per tag with problems, one column per issue."""
    issues = [str(issue) for issue in Issue if report.total(issue)]
    table = Table(title=title, title_justify="left")
    table.add_column("tag")
    for issue in issues:
        table.add_column(issue.replace("_", " "), justify="right")
    if report.longest_gap:
        table.add_column("longest gap", justify="right")
    for tag in sorted(report.counts):
        cells = [str(report.counts[tag].get(issue, "")) for issue in issues]
        if report.longest_gap:
            gap = report.longest_gap.get(tag)
            cells.append(f"{gap:g} s" if gap else "")
        table.add_row(tag or "(no tag)", *cells)
    return table


def _print_report(report: ValidationReport, name: str) -> None:
    if report.counts:
        console.print(report_table(report, f"{name}: validation"))
    for note in report.notes:
        console.print(f"  note: {note}", highlight=False)
    colour = "green" if report.ok else "yellow"
    line = f"[{colour}]{name}[/{colour}]: {report.summary()}"
    if report.empty_cells:
        line += f"; {report.empty_cells} empty cells (no reading)"
    console.print(line, highlight=False)


def ingest(
    twin: TwinOption,
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="CSV or Parquet files (default: the file sources of the spec).", show_default=False
        ),
    ] = None,
    store: StoreOption = None,
    layout: Annotated[
        Literal["auto", "wide", "long"] | None,
        typer.Option(
            help="wide: a column per tag; long: tag, time, value rows (default: the spec source, else auto)."
        ),
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="IANA zone of naive timestamps, e.g. Europe/Berlin.")
    ] = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--map", help="Input column (or long-layout tag name) → spec tag: LT101=level,FT7=inflow."
        ),
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option(
            "--unit", help="Unit of a tag in the file when it differs from the spec: level=cm,T=degF."
        ),
    ] = None,
    time_column: Annotated[str | None, typer.Option(help="Name of the time column (default: time).")] = None,
    skip: Annotated[
        str | None, typer.Option(help="Wide-layout columns that are not tags: comment,batch_no.")
    ] = None,
    decimal_comma: Annotated[
        bool, typer.Option(help="Values are written 12,5 (CSV with ';' delimiter).")
    ] = False,
    on_range: Annotated[
        Literal["flag", "reject"],
        typer.Option(help="Out-of-range values: flag (store, quality bit) or reject (quarantine)."),
    ] = "flag",
    max_gap: Annotated[float, typer.Option(help="Report gaps longer than this many sample periods.")] = 5.0,
    strict: Annotated[
        bool, typer.Option(help="Exit with status 1 when anything was quarantined or flagged.")
    ] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Stream the spec's live sources (OPC UA, MQTT, Sparkplug B) into the store until Ctrl-C.",
        ),
    ] = False,
    duration: Annotated[
        float | None, typer.Option(help="With --live: stop after this many seconds.", min=0.1)
    ] = None,
) -> None:
    """Import historian files (CSV, Parquet) into the twin's store, in spec units and UTC.

    Every sample is stored (out-of-range ones flagged) or quarantined with its reason.
    Nothing is dropped silently; 'worldtwin store quarantine' shows what was set aside.
    A file is one transaction: it is stored completely or not at all.
    Unreadable files, naive times without --tz and impossible unit conversions
    stop with an error before anything is stored.

    With --live, the spec's OPC UA and MQTT sources stream into the store instead, with a status
    line (rate, lag, rejects); every reading is stored or quarantined before it is counted.

    Example:  worldtwin ingest history.csv --twin reactor.yaml --tz Europe/Berlin --map TI101=T
    Example:  worldtwin ingest --live --twin reactor.yaml
    """
    if live:
        if files:
            raise DataError("--live streams the spec's live sources; give files or --live, not both")
        _ingest_live(twin, store, ValidationPolicy(on_range=on_range, max_gap=max_gap), duration)
        return
    policy = ValidationPolicy(on_range=on_range, max_gap=max_gap)
    overrides = {
        "layout": layout,
        "timezone": tz,
        "columns": _pairs(mapping, "--map"),
        "units": _pairs(unit, "--unit"),
        "time_column": time_column,
        "skip": split_names(skip) or None,
        "decimal_comma": decimal_comma or None,
    }
    overrides = {key: value for key, value in overrides.items() if value}
    spec_dir = _spec_dir(twin)
    with _open(twin, store, policy=policy) as opened:
        jobs = _jobs(opened.twin, files, spec_dir)
        total, failures = ValidationReport(), []
        with progress() as bar:
            task = bar.add_task("ingest", total=len(jobs))
            for path, source in jobs:
                base = ImportOptions.from_source(source) if source else opened.source_options(path)
                options = base.merged(**overrides)
                bar.update(task, description=f"ingest {path.name}")
                try:
                    report = opened.ingest(path, options)
                except WorldtwinError as exc:
                    failures.append(f"{path}: {exc}" if str(path) not in str(exc) else str(exc))
                    err_console.print(f"[red]not stored[/red] {failures[-1]}", highlight=False)
                else:
                    _print_report(report, str(path))
                    total = total.merge(report)
                bar.advance(task)
        if len(jobs) > 1:
            console.print(f"[bold]all files[/bold]: {total.summary()}", highlight=False)
        if total.quarantined:
            console.print(
                f"quarantined rows: worldtwin store quarantine --twin {twin}"
                + (f" --store {store}" if store else ""),
                highlight=False,
            )
    if failures:
        raise DataError(f"{len(failures)} of {len(jobs)} file(s) not stored (see above); the others were")
    if strict and not total.ok:
        raise typer.Exit(1)


def _ingest_live(twin: str, store: str | None, policy: ValidationPolicy, duration: float | None) -> None:
    from worldtwin.cli.live import ingest_live

    with _open(twin, store, policy=policy) as opened, opened.writer() as writer:
        final = ingest_live(opened.twin, writer, quarantine=opened, duration=duration)
    if final.rejects:
        console.print(
            f"quarantined readings: worldtwin store quarantine --twin {twin}"
            + (f" --store {store}" if store else ""),
            highlight=False,
        )


def _jobs(twin: Twin, files: list[Path] | None, spec_dir: Path) -> list[tuple[Path, FileSource | None]]:
    if files:
        return [(path, None) for path in files]
    sources = [s for s in twin.sources if isinstance(s, FileSource)]
    if not sources:
        raise DataError(
            f"no files given and twin {twin.name!r} lists no csv/parquet sources; "
            "name the files: worldtwin ingest FILE --twin SPEC"
        )
    return [((spec_dir / s.path) if not Path(s.path).is_absolute() else Path(s.path), s) for s in sources]


def export(
    twin: TwinOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet (or .csv) file to write.")],
    store: StoreOption = None,
    start: Annotated[
        str | None, typer.Option(help="First time, ISO 8601 (naive = UTC) (default: first sample).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="End time (exclusive) (default: after the last sample).")
    ] = None,
    dt: Annotated[
        float | None, typer.Option(help="Grid step in seconds (default: the spec's sample_period).")
    ] = None,
    tags: Annotated[str | None, typer.Option(help="Tags to export, comma-separated (default: all).")] = None,
    long: Annotated[
        bool,
        typer.Option(
            "--long", help="Raw samples (time, tag, value, quality, source) instead of a trajectory table."
        ),
    ] = False,
    min_length: Annotated[int, typer.Option(help="Drop episodes shorter than this many rows.")] = 2,
) -> None:
    """Write a trajectory table for training (episode, time, one column per tag).

    Tags are resampled onto the Δt grid by their spec method (mean, last, interpolate).
    Slow tags hold their last reading while it is fresh.
    Rows where a tag has no fresh value split the data into episodes.

    Example:  worldtwin export --twin reactor.yaml --out train.parquet --start 2024-03-01 --dt 60
    """
    names = split_names(tags) or None
    with _open(twin, store, read_only=True) as opened:
        if long:
            if out.suffix.lower() != ".parquet":
                raise DataError(f"{out}: --long writes Parquet; name the file .parquet")
            path = opened.export_parquet(out, tags=names, start=start, end=end)
            rows = len(opened.query(names, start, end))
            console.print(f"wrote {rows} samples to {path}", highlight=False)
            return
        from worldtwin.telemetry.table import write_table

        frame = opened.trajectory(start, end, dt, tags=names, min_length=min_length)
        if frame.empty:
            raise DataError(
                "no complete rows to export: every tag needs a fresh value at the same grid times; "
                "check 'worldtwin store info' for what is stored, or pass --tags / a larger --dt"
            )
        meta = {
            "twin": opened.twin.name,
            "spec_hash": opened.twin.spec_hash(),
            "dt": dt or opened.twin.sample_period,
        }
        write_table(frame, out, metadata=meta)
        console.print(
            f"wrote {len(frame)} rows in {frame['episode'].nunique()} episode(s), "
            f"{len(frame.columns) - 2} tags, to {out}",
            highlight=False,
        )


@store_app.command("info")
def info(twin: TwinOption, store: StoreOption = None) -> None:
    """What the store holds: samples per tag, flagged ones, time span, batches and quarantine.

    Example:  worldtwin store info --twin reactor.yaml
    """
    with _open(twin, store, read_only=True) as opened:
        summary = opened.summary()
        table = Table(title=f"store of twin {opened.twin.name!r}", title_justify="left")
        for column in ("tag", "unit", "samples", "flagged", "first (UTC)", "last (UTC)"):
            table.add_column(column, justify="right" if column in ("samples", "flagged") else "left")
        for tag, row in summary.iterrows():
            table.add_row(
                str(tag),
                row["unit"],
                str(row["samples"]),
                str(row["flagged"]),
                "" if row["samples"] == 0 else str(row["first"])[:19],
                "" if row["samples"] == 0 else str(row["last"])[:19],
            )
        console.print(table)
        console.print(
            f"{len(opened.batches())} batches, {opened.quarantine_count()} quarantined rows", highlight=False
        )


@store_app.command("quarantine")
def quarantine(
    twin: TwinOption,
    store: StoreOption = None,
    reason: Annotated[
        str | None, typer.Option(help=f"Only this reason: {', '.join(str(i) for i in Issue)}.")
    ] = None,
    batch: Annotated[int | None, typer.Option(help="Only rows of this batch (see 'store info').")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows (0: all).")] = 20,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write all matching rows to .csv or .parquet.")
    ] = None,
) -> None:
    """Show the rows validation set aside, with the reason and the original text.

    Example:  worldtwin store quarantine --twin reactor.yaml --reason not_numeric
    """
    if reason is not None and reason not in {str(i) for i in Issue}:
        raise DataError(f"unknown reason {reason!r}; choose one of {', '.join(str(i) for i in Issue)}")
    with _open(twin, store, read_only=True) as opened:
        frame = opened.quarantine(reason, batch=batch, limit=None if out or not limit else limit)
    if out is not None:
        if out.suffix.lower() == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
        console.print(f"wrote {len(frame)} quarantined rows to {out}", highlight=False)
        return
    if frame.empty:
        console.print("no quarantined rows", highlight=False)
        return
    table = Table(title="quarantine", title_justify="left")
    for column in ("batch", "row", "time", "tag", "value", "raw", "reason", "detail"):
        table.add_column(column)
    for row in frame.itertuples(index=False):
        table.add_row(
            *(
                "" if value is None or str(value) in ("nan", "NaT", "None") else str(value)
                for value in (
                    row.batch,
                    row.row,
                    row.time,
                    row.tag,
                    row.value,
                    row.raw,
                    row.reason,
                    row.detail,
                )
            )
        )
    console.print(table)


@store_app.command("archive")
def archive(
    twin: TwinOption,
    before: Annotated[str, typer.Option(help="Move samples older than this time (ISO 8601, naive = UTC).")],
    store: StoreOption = None,
) -> None:
    """Move old samples out of the database into Parquet under <store>/archive/.

    Queries still see the archived samples.

    Example:  worldtwin store archive --twin reactor.yaml --before 2024-01-01
    """
    with _open(twin, store) as opened:
        moved = opened.archive(before)
    console.print(f"archived {moved} samples older than {before}", highlight=False)
