"""The trajectory table: the one dataset schema every layer speaks.

One row per sample. Columns: ``episode`` (optional; int or str; default one episode), ``time``
(float seconds or a timestamp; strictly increasing within an episode), then one column per tag.
Row k holds observations measured at t_k and the actions applied during [t_k, t_k+1).
Parquet or CSV on disk, a pandas DataFrame in memory.

This module reads and writes such tables and checks the contract; deeper validation of incoming
plant data (ranges, gaps, quarantine) lives in :mod:`worldtwin.telemetry.validate`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from worldtwin.errors import DataError

EPISODE = "episode"
TIME = "time"
METADATA_KEY = b"worldtwin"


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a trajectory table from Parquet or CSV; clear errors for missing, empty or damaged files."""
    source = Path(path)
    if not source.exists():
        raise DataError(f"{source}: file not found; check the path")
    if source.stat().st_size == 0:
        raise DataError(f"{source}: the file is empty; expected a Parquet or CSV trajectory table")
    suffix = source.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pq.read_table(source).to_pandas()
        elif suffix in (".csv", ".txt"):
            frame = pd.read_csv(source)
        else:
            raise DataError(f"{source}: unsupported file type {suffix!r}; expected .parquet or .csv")
    except DataError:
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"{source}: cannot read Parquet ({exc}); the file may be truncated or not Parquet"
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read CSV ({exc})") from None
    if frame.empty:
        raise DataError(f"{source}: the table has no rows")
    return frame


def table_metadata(path: str | Path) -> dict[str, Any]:
    """The worldtwin metadata stored in a Parquet file's footer ({} when there is none)."""
    schema_meta = pq.read_schema(path).metadata or {}
    raw = schema_meta.get(METADATA_KEY)
    return dict(json.loads(raw)) if raw else {}


def write_table(frame: pd.DataFrame, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write a trajectory table; Parquet files carry ``metadata`` (twin id, spec hash, policy, seed...)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix in (".parquet", ".pq"):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        existing = table.schema.metadata or {}
        table = table.replace_schema_metadata({**existing, METADATA_KEY: json.dumps(metadata or {}).encode()})
        tmp = out.with_suffix(out.suffix + ".tmp")
        pq.write_table(table, tmp, compression="zstd")
        tmp.replace(out)  # atomic: a killed writer never leaves half a file under the real name
    elif suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        raise DataError(f"{out}: unsupported file type {suffix!r}; use .parquet or .csv")
    return out


def check_table(frame: pd.DataFrame, columns: Sequence[str] = (), *, source: str = "table") -> None:
    """Raise :class:`DataError` unless ``frame`` is a trajectory table holding finite numeric ``columns``."""
    if TIME not in frame.columns:
        raise DataError(
            f"{source}: no '{TIME}' column; columns are {list(frame.columns)[:12]}. "
            f"Rename the timestamp column to '{TIME}'"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: missing tag column(s) {missing}; the table has {list(frame.columns)[:20]}"
        )
    for name in columns:
        series = frame[name]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
            example = bad.iloc[0] if len(bad) else series.iloc[0]
            raise DataError(f"{source}: column {name!r} is not numeric (e.g. {example!r}); clean or drop it")
        values = series.to_numpy(dtype=float)
        nonfinite = ~np.isfinite(values)
        if nonfinite.any():
            rows = np.flatnonzero(nonfinite)[:5].tolist()
            raise DataError(
                f"{source}: column {name!r} has {int(nonfinite.sum())} NaN/Inf value(s) "
                f"(rows {rows}...); fill, interpolate or drop them before training"
            )
    for episode, part in iter_episodes(frame):
        times = _seconds(part[TIME])
        steps = np.diff(times)
        if np.any(steps <= 0):
            k = int(np.flatnonzero(steps <= 0)[0])
            kind = "duplicate" if steps[k] == 0 else "out-of-order"
            before, after = part[TIME].iloc[k], part[TIME].iloc[k + 1]
            raise DataError(
                f"{source}: episode {episode!r} has {kind} time at row {part.index[k + 1]} "
                f"({before} then {after}); sort by time and drop duplicate rows"
            )


def iter_episodes(frame: pd.DataFrame) -> Iterator[tuple[Any, pd.DataFrame]]:
    """Yield ``(episode_id, rows)`` in order of first appearance; one episode when there is no column."""
    if EPISODE not in frame.columns:
        yield 0, frame
        return
    yield from frame.groupby(EPISODE, sort=False)


def time_seconds(frame: pd.DataFrame) -> np.ndarray:
    """The ``time`` column as float seconds (timestamps → seconds since the epoch)."""
    return _seconds(frame[TIME])


def _seconds(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = pd.to_datetime(series, utc=True)
        return np.asarray((stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds(), dtype=float)
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    raise DataError(f"column '{TIME}' holds {series.dtype} values; expected seconds or timestamps")
