"""Historian import: CSV/Parquet files and DataFrames → samples in the twin's tags, units and UTC.

Two layouts are understood:

* **wide** — a time column and one column per tag (``time, T, level, ...``). An empty cell means
  "no reading at that time" and is not a sample (multi-rate exports are full of them).
* **long** — one reading per row: ``tag, time, value`` (extra columns are ignored and reported).

Column headers may carry their unit, ``T [degC]`` or ``T (degC)``; values are converted to the spec
unit. File-level problems that make the whole input unusable (no time column, incompatible units,
naive timestamps without a zone, a damaged file) raise :class:`DataError` before anything is stored;
problems in single cells or rows are quarantined by the store with the rest of validation.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pint.errors import DimensionalityError

from worldtwin.errors import DataError
from worldtwin.spec.schema import RESERVED_COLUMNS, FileSource, Twin
from worldtwin.spec.units import UnitParseError, convert
from worldtwin.telemetry.batch import US_PER_S, Rejects, SampleBatch, seconds_to_us
from worldtwin.telemetry.validate import Issue, ValidationReport

Layout = Literal["auto", "wide", "long"]

_HEADER_UNIT = re.compile(r"^\s*(?P<name>.+?)\s*(?:\[(?P<bracket>[^\]]*)\]|\((?P<paren>[^)]*)\))\s*$")
_HAS_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
_MILLISECOND_EPOCH = 1e11  # seconds since 1970 beyond year 5138: the column is almost surely in ms


@dataclass(frozen=True)
class ImportOptions:
    """How to read a historian export. Built from a spec ``FileSource`` and/or given directly."""

    layout: Layout = "auto"
    """``auto`` picks long when the input has ``tag_column`` and ``value_column``, else wide."""
    time_column: str = "time"
    tag_column: str = "tag"
    value_column: str = "value"
    timezone: str | None = None
    """IANA zone of naive timestamps (``Europe/Berlin``); required when the input has naive ones."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """Input name → spec tag: wide-layout column headers, or long-layout tag names."""
    units: Mapping[str, str] = field(default_factory=dict)
    """Spec tag → unit of its values in the input (converted to the spec unit)."""
    skip: Sequence[str] = ()
    """Wide-layout columns that are not tags (comments, batch ids); they are left out and reported."""
    decimal_comma: bool = False
    """Text values use a decimal comma (``12,5``); CSV only, with ``;`` as the delimiter."""
    source: str = ""
    """Lineage recorded with every sample (default: the file path)."""

    def __post_init__(self) -> None:
        if self.layout not in ("auto", "wide", "long"):
            raise DataError(f"layout {self.layout!r} is not one of auto, wide, long")
        if self.timezone is not None:
            _zone(self.timezone)

    @classmethod
    def from_source(cls, source: FileSource, **overrides: Any) -> ImportOptions:
        """Options from a spec ``sources:`` entry; keyword arguments (CLI flags) win, see :meth:`merged`."""
        base = cls(
            layout=source.layout,
            time_column=source.time_column,
            timezone=source.timezone,
            columns=dict(source.columns),
            units=dict(source.units),
        )
        return base.merged(**overrides)

    def merged(self, **overrides: Any) -> ImportOptions:
        """A copy with ``overrides`` applied: None values are ignored, ``columns``/``units`` maps are
        merged key by key, and ``tz`` is accepted for ``timezone``."""
        given = {
            ("timezone" if key == "tz" else key): value
            for key, value in overrides.items()
            if value is not None
        }
        unknown = sorted(set(given) - set(self.__dataclass_fields__))
        if unknown:
            raise TypeError(f"unknown import option(s) {unknown}; see ImportOptions")
        for key in ("columns", "units"):
            if key in given:
                given[key] = {**getattr(self, key), **given[key]}
        return replace(self, **given) if given else self


def read_file(path: str | Path, *, decimal_comma: bool = False) -> pa.Table:
    """Read a CSV or Parquet file into Arrow, with clear errors for missing, empty or damaged files."""
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: file not found; check the path")
    if source.stat().st_size == 0:
        raise DataError(
            f"{source}: the file is empty (0 bytes); expected CSV or Parquet with a header and rows"
        )
    suffix = source.suffix.lower()
    if suffix in (".parquet", ".pq"):
        table = _read_parquet(source)
    elif suffix in (".csv", ".txt", ".tsv"):
        table = _read_csv(source, decimal_comma=decimal_comma)
    else:
        raise DataError(f"{source}: unsupported file type {suffix!r}; expected .csv or .parquet")
    if table.num_rows == 0:
        raise DataError(
            f"{source}: the file has a header ({', '.join(table.column_names[:8])}) but no data rows; "
            "nothing was stored"
        )
    return table


def _read_parquet(source: Path) -> pa.Table:
    try:
        schema = pq.read_schema(source)
        dictionary = [name for name in schema.names if pa.types.is_string(schema.field(name).type)]
        return pq.read_table(source, read_dictionary=dictionary)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"{source}: cannot read Parquet ({exc}); the file may be truncated or not Parquet. "
            "Nothing was stored; export it again"
        ) from None


def _read_csv(source: Path, *, decimal_comma: bool) -> pa.Table:
    with source.open("rb") as handle:
        head = handle.readline().decode("utf-8-sig", errors="replace")
    delimiter = (
        ";" if head.count(";") > head.count(",") else ("\t" if head.count("\t") > head.count(",") else ",")
    )
    if decimal_comma and delimiter == ",":
        raise DataError(
            f"{source}: --decimal-comma needs ';' or tab as the column delimiter; the header uses ','"
        )
    convert_options = pacsv.ConvertOptions(null_values=[""], strings_can_be_null=True)
    parse = pacsv.ParseOptions(delimiter=delimiter)
    try:
        try:
            return pacsv.read_csv(source, parse_options=parse, convert_options=convert_options)
        except pa.ArrowInvalid as exc:
            if "conversion error" not in str(exc).lower():
                raise
            # Types are inferred from the first block; text further down a numeric column lands here.
            names = pacsv.read_csv(
                source, parse_options=parse, read_options=pacsv.ReadOptions(skip_rows_after_names=10**12)
            ).column_names
            text = pacsv.ConvertOptions(
                null_values=[""], strings_can_be_null=True, column_types=dict.fromkeys(names, pa.string())
            )
            return pacsv.read_csv(source, parse_options=parse, convert_options=text)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"{source}: cannot read CSV ({exc}). Nothing was stored; check the delimiter and "
            "that every row has as many fields as the header"
        ) from None


def to_batch(
    table: pa.Table | pd.DataFrame,
    twin: Twin,
    options: ImportOptions,
    rejects: Rejects,
    report: ValidationReport,
    *,
    name: str = "input",
) -> SampleBatch:
    """Turn a wide or long table into samples in spec tags, spec units and UTC.

    Unreadable cells and times go to ``rejects``; ``report`` counts what was read. ``name`` names the
    input in error messages.
    """
    if isinstance(table, pd.DataFrame):
        table = _arrow_from_frame(table, options.time_column)
    if options.time_column not in table.column_names:
        raise DataError(_missing_time_message(table, options.time_column, name))
    times, time_ok = parse_times(
        table.column(options.time_column), options.timezone, where=f"{name}: column {options.time_column!r}"
    )
    long = options.layout == "long" or (
        options.layout == "auto" and {options.tag_column, options.value_column} <= set(table.column_names)
    )
    source = options.source or name
    unknown = [tag for tag in options.units if tag not in twin.tag_names]
    if unknown:
        raise DataError(f"{name}: units given for {unknown}, which are not tags of twin '{twin.name}'")
    if long:
        batch = _long_batch(table, times, time_ok, options, rejects, report, name, source)
        converted = [(code, tag) for code, tag in enumerate(batch.tag_names) if tag in options.units]
        if converted:
            batch.value = batch.value.copy()  # may be a read-only view of Arrow memory
        for code, tag in converted:
            mask = batch.tag == code
            batch.value[mask] = _to_spec_unit(batch.value[mask], tag, options.units[tag], twin, name)
        return batch
    return _wide_batch(table, twin, times, time_ok, options, rejects, report, name, source)


def _arrow_from_frame(frame: pd.DataFrame, time_column: str) -> pa.Table:
    if time_column not in frame.columns and isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.rename_axis(time_column).reset_index()
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        # Mixed Python objects in a column: hand every such column over as text and parse it like a CSV.
        text = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
        try:
            return pa.Table.from_pandas(text, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise DataError(
                f"cannot read the DataFrame ({exc}); give numeric tag columns and a time column"
            ) from None


def _missing_time_message(table: pa.Table, time_column: str, name: str) -> str:
    candidates = [
        c
        for c in table.column_names
        if pa.types.is_timestamp(table.schema.field(c).type)
        or re.search(r"time|date|stamp|^ts$", c, re.IGNORECASE)
    ]
    hint = (
        f"pass --time-column {candidates[0]!r} (or set time_column in the spec source)"
        if candidates
        else "add a column of timestamps or epoch seconds and name it with --time-column"
    )
    return (
        f"{name}: no time column {time_column!r}; the columns are {table.column_names[:12]}. {hint}. "
        "Nothing was stored"
    )


# --- time -----------------------------------------------------------------------------------------


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise DataError(
            f"unknown time zone {name!r}; give an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None


def parse_times(
    array: pa.ChunkedArray | pa.Array, timezone: str | None, *, where: str = "time"
) -> tuple[np.ndarray, np.ndarray]:
    """→ (int64 µs since the epoch UTC, mask of readable times). ``where`` names the column in errors.

    Timestamps with a zone or offset are exact. Naive ones are local times in ``timezone`` (an
    error without it; times that are ambiguous or skipped at a DST change become unreadable unless
    their order tells which is meant). Numbers are seconds since the epoch.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    valid = ~np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        naive = pa.types.is_date(kind) or kind.tz is None
        target = pa.timestamp("us") if naive else pa.timestamp("us", tz=kind.tz)
        micros = pc.cast(array, target, safe=False).cast(pa.int64()).fill_null(0).to_numpy()
        if naive:
            return _localize(micros, valid, timezone, where, example=str(array[int(np.argmax(valid))]))
        return micros, valid
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        secs = pc.cast(array, pa.float64()).fill_null(np.nan).to_numpy()
        ok = np.isfinite(secs)
        if ok.any() and np.nanmedian(np.abs(secs[ok])) > _MILLISECOND_EPOCH:
            raise DataError(
                f"{where}: time values like {secs[ok][0]:.0f} look like milliseconds; expected "
                "seconds since 1970-01-01 UTC. Divide the column by 1000. Nothing was stored"
            )
        return seconds_to_us(np.where(ok, secs, 0.0)), ok
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _parse_time_text(pd.Series(array.to_pandas(), dtype=object), timezone, where)
    raise DataError(f"{where} holds {kind} values; expected timestamps, ISO 8601 text or epoch seconds")


def _parse_time_text(text: pd.Series, timezone: str | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    text = text.str.strip()
    present = text.notna() & (text != "")
    aware = present & text.str.contains(_HAS_OFFSET, na=False)
    naive = present & ~aware
    micros = np.zeros(len(text), dtype=np.int64)
    ok = np.zeros(len(text), dtype=bool)
    if aware.any():
        stamps = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        micros[aware.to_numpy()], ok[aware.to_numpy()] = _stamps_to_us(stamps)
    if naive.any():
        stamps = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        readable = stamps.notna()
        if readable.any() and timezone is None:
            example = text[naive][readable].iloc[0]
            if aware.any():
                raise DataError(
                    f"{where} mixes times with a UTC offset ({text[aware].iloc[0]!r}) and without one "
                    f"({example!r}); pass --tz ZONE to say which zone the naive ones are in. "
                    "Nothing was stored"
                )
            _localize(micros, ok, None, where, example=example)  # raises: naive times need a zone
        raw, parsed = _stamps_to_us(stamps)
        if timezone is not None:
            raw, parsed = _localize(raw, parsed, timezone, where, example="")
        micros[naive.to_numpy()], ok[naive.to_numpy()] = raw, parsed
    if present.any() and not ok.any():
        example = text[present].iloc[0]
        raise DataError(
            f"{where}: cannot read times like {example!r}; expected ISO 8601 "
            "('2024-03-01T12:00:00+01:00', '2024-03-01 11:00:00Z') or seconds since the epoch. "
            "Nothing was stored"
        )
    return micros, ok


def _stamps_to_us(stamps: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    ok = stamps.notna().to_numpy()
    values = stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps
    micros = values.dt.as_unit("us").to_numpy().astype("datetime64[us]").astype(np.int64)
    return np.where(ok, micros, 0), ok


def _localize(
    micros: np.ndarray, ok: np.ndarray, timezone: str | None, where: str, example: str
) -> tuple[np.ndarray, np.ndarray]:
    if timezone is None:
        raise DataError(
            f"{where}: times have no time zone (e.g. {example!r}); pass --tz with the zone the "
            "historian wrote them in (e.g. --tz Europe/Berlin, or --tz UTC), or set 'timezone' in "
            "the spec source. Nothing was stored"
        )
    zone = _zone(timezone)
    if timezone in ("UTC", "Etc/UTC"):
        return micros, ok
    index = pd.DatetimeIndex(np.where(ok, micros, np.iinfo(np.int64).min).astype("datetime64[us]"))
    try:
        local = index.tz_localize(zone, ambiguous="infer", nonexistent="NaT")
    except ValueError:  # ambiguous times whose order does not say which side of the DST change they are
        local = index.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    utc = local.tz_convert("UTC").tz_localize(None)
    readable = ok & ~np.asarray(utc.isna())
    return np.where(readable, utc.as_unit("us").asi8, 0), readable


# --- values ---------------------------------------------------------------------------------------


@dataclass
class _Numbers:
    value: np.ndarray
    """float64; NaN where the cell is empty or unreadable (and where it says NaN)."""
    empty: np.ndarray
    bad: np.ndarray
    raw: np.ndarray | None
    """The cell text where ``bad`` (object array), else None."""
    detail: str = ""


def _numbers(array: pa.ChunkedArray | pa.Array, *, decimal_comma: bool = False) -> _Numbers:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    kind = array.type
    empty = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    n = len(array)
    no_bad = np.zeros(n, dtype=bool)
    if (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
    ):
        value = pc.cast(array, pa.float64()).fill_null(np.nan).to_numpy()
        return _Numbers(value, empty, no_bad, None)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = pd.Series(array.to_pandas(), dtype=object).str.strip()
        empty = empty | (text == "").to_numpy()
        parsed = text.str.replace(",", ".", regex=False) if decimal_comma else text
        value = pd.to_numeric(parsed, errors="coerce").to_numpy(dtype=float)
        says_nan = parsed.str.lower().isin(("nan", "+nan", "-nan")).to_numpy()
        bad = np.isnan(value) & ~empty & ~says_nan
        hint = "text in a numeric column" + (
            "" if decimal_comma else " (a decimal comma? import with --decimal-comma)"
        )
        return _Numbers(np.where(empty, np.nan, value), empty, bad, text.to_numpy(dtype=object), hint)
    raw = np.asarray([None if v is None else str(v) for v in array.to_pylist()], dtype=object)
    return _Numbers(np.full(n, np.nan), empty, ~empty, raw, f"column of type {kind}, expected numbers")


# --- layouts --------------------------------------------------------------------------------------


def _split_header(header: str) -> tuple[str, str | None]:
    match = _HEADER_UNIT.match(header)
    if match is None:
        return header, None
    unit = match.group("bracket") if match.group("bracket") is not None else match.group("paren")
    return match.group("name"), unit


def _wide_batch(
    table: pa.Table,
    twin: Twin,
    times: np.ndarray,
    time_ok: np.ndarray,
    options: ImportOptions,
    rejects: Rejects,
    report: ValidationReport,
    name: str,
    source: str,
) -> SampleBatch:
    tags = set(twin.tag_names)
    columns = [c for c in table.column_names if c != options.time_column]
    if {options.tag_column, options.value_column} <= set(columns) and not {
        options.tag_column,
        options.value_column,
    } & tags:
        raise DataError(
            f"{name}: wide layout was asked for, but the columns {options.tag_column!r} and "
            f"{options.value_column!r} look like the long layout (tag, time, value); pass "
            "--layout long. Nothing was stored"
        )
    skipped = [c for c in columns if c in options.skip or c in RESERVED_COLUMNS]
    missing = [c for c in options.skip if c not in columns]
    if missing:
        raise DataError(
            f"{name}: --skip names column(s) {missing} that are not in the input; columns are {columns[:20]}"
        )
    if skipped:
        report.notes.append(f"{name}: column(s) {skipped} left out (not tags)")
    columns = [c for c in columns if c not in skipped]
    n = table.num_rows
    rows = np.arange(1, n + 1, dtype=np.int64)
    time_raw = _time_text(table.column(options.time_column), ~time_ok)
    time_detail = _time_problems(time_raw, ~time_ok, options)
    index_parts: list[np.ndarray | None] = []
    code_parts: list[np.ndarray] = []
    value_parts: list[np.ndarray] = []
    names: list[str] = []
    for header in columns:
        tag = _tag_of(header, options)
        numbers = _numbers(table.column(header), decimal_comma=options.decimal_comma)
        present = ~numbers.empty
        report.empty_cells += int(np.count_nonzero(numbers.empty))
        report.received += int(np.count_nonzero(present))
        bad_time = present & ~time_ok
        rejects.add(
            Issue.BAD_TIME,
            row=rows[bad_time],
            tag=tag,
            value=numbers.value[bad_time],
            raw=time_raw[bad_time],
            detail=time_detail[bad_time],
            source=source,
        )
        bad_value = present & time_ok & numbers.bad
        if numbers.raw is not None:
            rejects.add(
                Issue.NOT_NUMERIC,
                row=rows[bad_value],
                tag=tag,
                time=times[bad_value],
                raw=numbers.raw[bad_value],
                detail=numbers.detail,
                source=source,
            )
        usable = present & time_ok & ~numbers.bad
        good = None if usable.all() else np.flatnonzero(usable)  # None: every row (the common, fast case)
        unit = options.units.get(tag) or _split_header(header)[1]
        if tag not in names:
            names.append(tag)
        index_parts.append(good)
        code_parts.append(np.full(n if good is None else len(good), names.index(tag), np.int32))
        value_parts.append(
            _to_spec_unit(numbers.value if good is None else numbers.value[good], tag, unit, twin, name)
        )
    if not index_parts:
        return SampleBatch.empty()
    codes, values = np.concatenate(code_parts), np.concatenate(value_parts)
    if all(part is None for part in index_parts):
        return SampleBatch(
            np.tile(times, len(index_parts)),
            codes,
            names,
            values,
            np.tile(rows, len(index_parts)),
            np.zeros(len(codes), np.int32),
            [source],
        )
    index = np.concatenate([np.arange(n) if part is None else part for part in index_parts])
    return SampleBatch(
        times[index], codes, names, values, rows[index], np.zeros(len(index), np.int32), [source]
    )


def _tag_of(header: str, options: ImportOptions) -> str:
    base = _split_header(header)[0]
    return options.columns.get(header) or options.columns.get(base) or base


def _long_batch(
    table: pa.Table,
    times: np.ndarray,
    time_ok: np.ndarray,
    options: ImportOptions,
    rejects: Rejects,
    report: ValidationReport,
    name: str,
    source: str,
) -> SampleBatch:
    missing = [c for c in (options.tag_column, options.value_column) if c not in table.column_names]
    if missing:
        raise DataError(
            f"{name}: long layout needs columns {options.tag_column!r}, {options.time_column!r} "
            f"and {options.value_column!r}; missing {missing}. The columns are "
            f"{table.column_names[:12]}: for one column per tag pass --layout wide. Nothing was stored"
        )
    extra = [
        c
        for c in table.column_names
        if c not in (options.tag_column, options.time_column, options.value_column)
    ]
    if extra:
        report.notes.append(f"{name}: column(s) {extra} ignored (long layout reads tag, time and value)")
    n = table.num_rows
    report.received += n
    rows = np.arange(1, n + 1, dtype=np.int64)
    tag_array = table.column(options.tag_column).combine_chunks()
    if not pa.types.is_dictionary(tag_array.type) or not pa.types.is_string(tag_array.type.value_type):
        tag_array = pc.dictionary_encode(tag_array.cast(pa.string()))
    names = [options.columns.get(str(t), str(t)) for t in tag_array.dictionary.to_pylist()]
    indices = tag_array.indices
    no_tag = np.asarray(indices.is_null().to_numpy(zero_copy_only=False)) if indices.null_count else None
    # a missing tag gets the code one past the names: Rejects.add_batch and validate read it as ""
    codes = indices.fill_null(len(names)).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    numbers = _numbers(table.column(options.value_column), decimal_comma=options.decimal_comma)
    batch = SampleBatch(times, codes, names, numbers.value, rows, np.zeros(n, np.int32), [source])
    keep = np.ones(n, dtype=bool)
    time_raw = _time_text(table.column(options.time_column), ~time_ok)

    def reject(
        mask: np.ndarray, issue: Issue, detail: np.ndarray | str, raw: np.ndarray | None = None
    ) -> None:
        mask = mask & keep
        if mask.any():
            names_ext = np.asarray([*names, ""], dtype=object)
            rejects.add(
                issue,
                row=rows[mask],
                tag=names_ext[codes[mask]],
                time=np.where(time_ok[mask], times[mask].astype(object), np.array(None, dtype=object)),
                value=numbers.value[mask],
                raw=None if raw is None else raw[mask],
                detail=detail if isinstance(detail, str) else detail[mask],
                source=source,
            )
            keep[mask] = False

    if no_tag is not None:
        reject(no_tag, Issue.UNKNOWN_TAG, f"empty {options.tag_column!r} cell")
    if not time_ok.all():
        reject(~time_ok, Issue.BAD_TIME, _time_problems(time_raw, ~time_ok, options), time_raw)
    if numbers.raw is not None:
        reject(numbers.bad, Issue.NOT_NUMERIC, numbers.detail, numbers.raw)
    if numbers.empty.any():
        reject(numbers.empty, Issue.MISSING_VALUE, f"empty {options.value_column!r} cell")
    return batch if keep.all() else batch.take(keep)


def _time_text(column: pa.ChunkedArray, where: np.ndarray) -> np.ndarray:
    """The original text of the time cells selected by ``where`` (others None)."""
    out = np.full(len(where), None, dtype=object)
    if where.any():
        values = column.take(pa.array(np.flatnonzero(where))).to_pylist()
        out[where] = [None if v is None else str(v) for v in values]
    return out


def _time_problems(raw: np.ndarray, bad: np.ndarray, options: ImportOptions) -> np.ndarray:
    """Why each unreadable time (where ``bad``) could not be used: empty, not a time, or a DST hole."""
    out = np.full(len(raw), "", dtype=object)
    for index in np.flatnonzero(bad):
        text = raw[index]
        if text is None or not str(text).strip():
            out[index] = f"empty {options.time_column!r} cell"
        elif options.timezone and not pd.isna(pd.to_datetime(str(text), format="ISO8601", errors="coerce")):
            out[index] = (
                f"not a valid local time in {options.timezone} (skipped or repeated at a daylight-saving "
                "change)"
            )
        else:
            out[index] = f"unreadable time in column {options.time_column!r}"
    return out


def _to_spec_unit(values: np.ndarray, tag: str, unit: str | None, twin: Twin, name: str) -> np.ndarray:
    """``values`` of ``tag`` given in ``unit`` (None: already the spec unit), in the spec unit."""
    if unit is None or tag not in twin.tag_names:
        return values
    target = twin.tag(tag).unit
    try:
        return convert(values, unit, target)
    except (DimensionalityError, UnitParseError) as exc:
        raise DataError(
            f"{name}: tag {tag!r} is given in {unit!r}, which cannot be converted to its spec "
            f"unit {target!r} ({exc}); fix the unit in the file header, the spec source or "
            "--unit. Nothing was stored"
        ) from None


__all__ = ["US_PER_S", "ImportOptions", "Layout", "parse_times", "read_file", "to_batch"]
