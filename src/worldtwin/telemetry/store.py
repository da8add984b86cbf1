"""The telemetry store: validated plant samples for one twin, queried, resampled and exported.

>>> store = Store.open("reactor.store", "reactor.yaml")         # a directory; DuckDB + Parquet inside
>>> report = store.ingest("historian.csv", tz="Europe/Berlin")   # every sample stored or quarantined
>>> store.write([Sample("T", 1.7e9, 351.2)])                      # live samples; durable on return
>>> store.query(["T"], "2024-03-01", "2024-03-02")                # long table: time, tag, value, ...
>>> store.trajectory(dt=60)                                       # training table on a 60 s grid

Samples are kept long (time, tag, value, quality, source) because plant signals come at different
rates; :meth:`Store.trajectory` resamples them onto the twin's grid (see :mod:`.resample`). Times are
UTC: int64 microseconds inside, ``datetime64[us, UTC]`` in every DataFrame returned. Arguments
``start``/``end`` accept timestamps, ISO strings (naive ones are UTC) or epoch seconds.

**Acknowledgement:** :meth:`Store.write`, :meth:`Store.append` and :meth:`Store.ingest` return after
the batch — accepted samples, quarantined rows and the batch record — is committed in one
transaction and the database's log is on disk. What they report as stored or quarantined survives
``kill -9`` of the process; a batch interrupted before that is absent as a whole.
:class:`~worldtwin.telemetry.writer.BufferedWriter` groups many small writes into one such commit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from worldtwin.errors import DataError
from worldtwin.spec.loading import load_spec
from worldtwin.spec.schema import FileSource, Twin
from worldtwin.spec.units import compatible, convert, is_valid_unit
from worldtwin.telemetry.backend import SAMPLES_SCHEMA, Backend, BatchRecord
from worldtwin.telemetry.batch import NO_TIME, US_PER_S, Rejects, SampleBatch, seconds_to_us
from worldtwin.telemetry.ingest import ImportOptions, read_file, to_batch
from worldtwin.telemetry.resample import Method, resample, split_episodes, time_grid
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.table import TIME, write_table
from worldtwin.telemetry.validate import Issue, TagRule, ValidationPolicy, ValidationReport, validate

if TYPE_CHECKING:
    from worldtwin.telemetry.sources.base import Reject
    from worldtwin.telemetry.writer import BufferedWriter

FRESH_PERIODS = 1.5
"""A tag's reading is held on the grid for this many of its own sample periods, then it is stale."""

TimeLike: TypeAlias = str | float | int | datetime | pd.Timestamp | np.datetime64 | None


def to_us(value: TimeLike) -> int | None:
    """A time argument as int64 µs since the epoch, UTC (naive values are taken as UTC)."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(seconds_to_us(np.asarray([value]))[0])
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(
            f"cannot read {value!r} as a time; give e.g. '2024-03-01T12:00:00Z' or epoch seconds"
        ) from None
    if stamp is pd.NaT:
        raise DataError(f"{value!r} is not a time")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.as_unit("ns").value) // 1000


def _utc(micros: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(micros, dtype=np.int64).astype("datetime64[us]")).tz_localize("UTC")


def _categorical(codes: np.ndarray, names: Mapping[int, str]) -> pd.Categorical:
    """Integer ids → a categorical of their names (several ids may share a name)."""
    categories = list(dict.fromkeys(names[i] for i in sorted(names)))
    lookup = np.full(max(names, default=0) + 2, -1, dtype=np.int64)  # the last slot stays -1: unknown ids
    for identifier, name in names.items():
        lookup[identifier] = categories.index(name)
    index = lookup[np.clip(codes, -1, len(lookup) - 2)] if len(codes) else np.empty(0, np.int64)
    return pd.Categorical.from_codes(index, categories)


def _sorted(table: pa.Table) -> pa.Table:
    """``table`` sorted by tag id, then time (usually it already is: samples arrive in time order)."""
    tag_id = table.column("tag_id").to_numpy()
    time = table.column("time").cast(pa.int64()).to_numpy()
    tag_step, time_step = np.diff(tag_id), np.diff(time)
    if np.all((tag_step > 0) | ((tag_step == 0) & (time_step > 0))):
        return table
    return table.take(np.lexsort((time, tag_id)))


def load_twin(twin: Twin | str | Path) -> Twin:
    """A spec given as a ``Twin``, a YAML file or a registered twin id (``worldtwin/cstr-v1``)."""
    if isinstance(twin, Twin):
        return twin
    path = Path(twin)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return load_spec(path)
    from worldtwin.sim.registry import spec_of

    return spec_of(str(twin))


class Store:
    """Telemetry of one twin. Open with :meth:`Store.open`; implements the ``SampleSink`` protocol."""

    def __init__(
        self,
        backend: Backend,
        twin: Twin,
        *,
        policy: ValidationPolicy | None = None,
        read_only: bool = False,
        spec_dir: Path | None = None,
    ) -> None:
        self.backend = backend
        self.twin = twin
        self.spec_dir = spec_dir
        """Folder of the spec file: the spec's file ``sources:`` paths are relative to it."""
        self.policy = policy or ValidationPolicy()
        self.read_only = read_only
        self.last_report: ValidationReport | None = None
        """The report of the most recent write, append or ingest."""
        self._lock = threading.RLock()
        meta = backend.get_meta()
        if meta.get("twin", twin.name) != twin.name:
            raise DataError(
                f"this store holds telemetry of twin {meta['twin']!r}, not {twin.name!r}; "
                "open the store of that twin or choose another --store directory"
            )
        if not read_only:
            if not meta:
                backend.set_meta({"twin": twin.name, "format": "1"})
            backend.add_tags([(tag.name, tag.unit) for tag in twin.tags])
        self._ids = {tag.name: tag.id for tag in backend.tags()}
        self._stored_units = self._check_units({tag.name: tag.unit for tag in backend.tags()})
        self._rules = {
            tag.name: TagRule(
                self._ids[tag.name], *(tag.range or (-np.inf, np.inf)), self._period_us(tag.name)
            )
            for tag in twin.tags
            if tag.name in self._ids
        }
        self._last = backend.last_times()

    @classmethod
    def open(
        cls,
        location: str | Path,
        twin: Twin | str | Path,
        *,
        read_only: bool = False,
        policy: ValidationPolicy | None = None,
    ) -> Store:
        """Open (or create) the store at ``location``.

        ``location`` is a directory for the embedded DuckDB store, or a ``postgresql://`` URL for the
        PostgreSQL backend (``pip install 'worldtwin[postgres]'``). ``twin`` is a spec, a spec file
        or a registered twin id.
        """
        spec = load_twin(twin)
        text = str(location)
        backend: Backend
        if text.startswith(("postgresql://", "postgres://")):
            from worldtwin.telemetry.postgres import PostgresBackend

            # many readers and writers at once: read_only only guards this Store object
            backend = PostgresBackend(text, namespace=spec.name.replace("-", "_"))
        else:
            from worldtwin.telemetry.embedded import EmbeddedBackend

            backend = EmbeddedBackend(location, read_only=read_only)
        spec_dir = None if isinstance(twin, Twin) or not Path(twin).exists() else Path(twin).resolve().parent
        try:
            return cls(backend, spec, policy=policy, read_only=read_only, spec_dir=spec_dir)
        except BaseException:
            backend.close()
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.backend.close()

    def __repr__(self) -> str:
        return f"Store(twin={self.twin.name!r}, backend={type(self.backend).__name__})"

    # --- units and periods ----------------------------------------------------------------------

    def _period_us(self, name: str) -> int:
        tag = self.twin.tag(name)
        return round((tag.sampling_period or self.twin.sample_period) * US_PER_S)

    def _check_units(self, stored: Mapping[str, str]) -> dict[str, str]:
        """Tags whose stored unit differs from the spec unit now (values are converted at the boundary)."""
        differ: dict[str, str] = {}
        for tag in self.twin.tags:
            unit = stored.get(tag.name, tag.unit)
            if unit == tag.unit:
                continue
            if not (is_valid_unit(unit) and is_valid_unit(tag.unit) and compatible(unit, tag.unit)):
                raise DataError(
                    f"tag {tag.name!r}: the store holds its values in {unit!r} but the spec now says "
                    f"{tag.unit!r}, and one cannot be converted to the other; undo the unit change "
                    "or use a new store"
                )
            differ[tag.name] = unit
        return differ

    def _convert_ids(self, tag_id: np.ndarray, values: np.ndarray, *, to_stored: bool) -> np.ndarray:
        if not self._stored_units:
            return values
        values = values.copy()
        for name, unit in self._stored_units.items():
            mask = tag_id == self._ids[name]
            if mask.any():
                spec_unit = self.twin.tag(name).unit
                source, target = (spec_unit, unit) if to_stored else (unit, spec_unit)
                values[mask] = convert(values[mask], source, target)
        return values

    # --- writing --------------------------------------------------------------------------------

    def _require_writable(self) -> None:
        if self.read_only:
            raise DataError("this store was opened read-only; open it without read_only to write")

    def _commit(
        self,
        batch: SampleBatch,
        rejects: Rejects,
        report: ValidationReport,
        origin: str,
        policy: ValidationPolicy | None,
    ) -> ValidationReport:
        with self._lock:
            self._require_writable()
            accepted = validate(
                batch,
                self._rules,
                policy or self.policy,
                rejects,
                report,
                last_time=self._last,
                lookup=self._lookup,
            )
            report.add_rejects(rejects)
            samples = pa.Table.from_arrays(
                [
                    pa.array(accepted.time, pa.int64()).cast(pa.timestamp("us")),
                    pa.array(accepted.tag_id, pa.int32()),
                    pa.array(
                        self._convert_ids(accepted.tag_id, accepted.value, to_stored=True), pa.float64()
                    ),
                    pa.array(accepted.quality, pa.uint8()),
                    pa.array(accepted.source, pa.int32()),
                ],
                schema=SAMPLES_SCHEMA,
            )
            record = BatchRecord(origin, json.dumps(report.to_dict()), list(accepted.source_names))
            self.backend.commit(samples, rejects.to_arrow(), record)
            for tag_id, newest in accepted.newest.items():
                self._last[tag_id] = max(newest, self._last.get(tag_id, newest))
            self.last_report = report
            return report

    def _lookup(self, tag_id: int, start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray]:
        times, values = self.backend.stored(tag_id, start_us, end_us)
        return times, self._convert_ids(np.full(len(values), tag_id), values, to_stored=False)

    def write(self, samples: Sequence[Sample]) -> int:
        """Store live samples (values in spec units); returns how many were acknowledged.

        Every sample is acknowledged — stored, or quarantined with its reason — once this returns;
        see :attr:`last_report` for which.
        """
        if not samples:
            return 0
        batch = SampleBatch.from_samples(samples)
        report, rejects = ValidationReport(received=len(batch)), Rejects()
        bad_time = batch.time == NO_TIME
        if bad_time.any():
            index = np.flatnonzero(bad_time).tolist()
            rejects.add(
                Issue.BAD_TIME,
                row=np.asarray(index) + 1,
                tag=np.asarray([samples[i].tag for i in index], dtype=object),
                value=batch.value[index],
                raw=np.asarray([repr(samples[i].time) for i in index], dtype=object),
                detail="Sample.time must be finite seconds since 1970-01-01 UTC",
                source=np.asarray([samples[i].source for i in index], dtype=object),
            )
            batch = batch.take(~bad_time)
        done = self._commit(batch, rejects, report, "write", None)
        return done.stored + done.quarantined

    def flush(self) -> None:
        """Nothing to do: :meth:`write` commits before it returns (``SampleSink`` protocol)."""

    def write_rejects(self, rejects: Sequence[Reject]) -> int:
        """Quarantine what live sources could not turn into samples (``RejectSink`` protocol).

        Durable when this returns, like :meth:`write`; the ``reason`` column carries the source's
        reject reason (``malformed_payload``, ``sparkplug_seq``, ...; docs/live-sources.md).
        """
        if not rejects:
            return 0
        quarantined, report = Rejects(), ValidationReport(received=len(rejects))
        for reason in sorted({r.reason for r in rejects}):
            rows = [(i, r) for i, r in enumerate(rejects, start=1) if r.reason == reason]
            quarantined.add(
                reason,
                row=np.asarray([i for i, _ in rows]),
                tag=np.asarray([r.tag or r.metric or "" for _, r in rows], dtype=object),
                time=np.asarray(
                    [to_us(r.time) if np.isfinite(r.time) else None for _, r in rows], dtype=object
                ),
                raw=np.asarray([r.raw for _, r in rows], dtype=object),
                detail=np.asarray([r.detail for _, r in rows], dtype=object),
                source=np.asarray([r.source for _, r in rows], dtype=object),
            )
        done = self._commit(SampleBatch.empty(), quarantined, report, "live rejects", None)
        return done.quarantined

    def append(
        self,
        data: pd.DataFrame | pa.Table,
        options: ImportOptions | None = None,
        *,
        policy: ValidationPolicy | None = None,
        origin: str = "append",
        **option: Any,
    ) -> ValidationReport:
        """Validate and store a wide or long table (see :class:`ImportOptions`; keywords override it).

        Example: ``store.append(frame, tz="Europe/Berlin", units={"T": "degC"})``.
        """
        options = (options or ImportOptions()).merged(**option)
        rejects, report = Rejects(), ValidationReport()
        batch = to_batch(data, self.twin, options, rejects, report, name=options.source or origin)
        return self._commit(batch, rejects, report, origin, policy)

    def ingest(
        self,
        path: str | Path,
        options: ImportOptions | None = None,
        *,
        policy: ValidationPolicy | None = None,
        **option: Any,
    ) -> ValidationReport:
        """Import a historian CSV or Parquet file as one atomic batch; returns its validation report.

        The file's own settings come from the spec's ``sources:`` entry for it when there is one;
        ``options`` and keywords override them.
        """
        path = Path(path)
        options = (options or self.source_options(path)).merged(**option)
        table = read_file(path, decimal_comma=options.decimal_comma)
        rejects, report = Rejects(), ValidationReport()
        batch = to_batch(table, self.twin, options, rejects, report, name=str(path))
        return self._commit(batch, rejects, report, str(path), policy)

    def source_options(self, path: str | Path) -> ImportOptions:
        """Import options of the spec ``sources:`` entry naming ``path`` (defaults when none does).

        Source paths are relative to the spec file's folder (the working directory when the store
        was opened with a ``Twin`` object rather than a file).
        """
        target = Path(path).resolve()
        for source in self.twin.sources:
            if (
                isinstance(source, FileSource)
                and (self.spec_dir or Path.cwd()).joinpath(source.path).resolve() == target
            ):
                return ImportOptions.from_source(source)
        return ImportOptions()

    def writer(self, *, max_rows: int = 10_000, max_delay: float = 0.05) -> BufferedWriter:
        """A :class:`BufferedWriter` that group-commits small writes (flush every ``max_rows`` or seconds)."""
        from worldtwin.telemetry.writer import BufferedWriter

        return BufferedWriter(self, max_rows=max_rows, max_delay=max_delay)

    def archive(self, before: TimeLike) -> int:
        """Move samples older than ``before`` out of the database into Parquet under ``archive/``.

        Queries keep seeing them. Returns the number of samples moved. Embedded backend only.
        """
        self._require_writable()
        mover = getattr(self.backend, "archive", None)
        if mover is None:
            raise DataError(
                f"the {type(self.backend).__name__} keeps all samples in the database; archive by "
                "detaching old partitions there"
            )
        if before is None:
            raise DataError("archive needs a time: samples older than it are moved")
        with self._lock:
            return int(mover(to_us(before)))

    # --- reading --------------------------------------------------------------------------------

    def _tag_list(self, tags: str | Sequence[str] | None) -> list[str]:
        if tags is None:
            return [name for name in self.twin.tag_names if name in self._ids]
        names = [tags] if isinstance(tags, str) else list(tags)
        unknown = [name for name in names if name not in self._ids]
        if unknown:
            raise DataError(f"unknown tag(s) {unknown}; twin {self.twin.name!r} has {self.twin.tag_names}")
        return names

    def _read(self, names: list[str], start_us: int | None, end_us: int | None) -> pa.Table:
        """Samples of ``names`` in [start, end), sorted by tag id then time, values in spec units."""
        with self._lock:
            table = _sorted(self.backend.read([self._ids[n] for n in names], start_us, end_us))
        if self._stored_units:
            tag_id = table.column("tag_id").to_numpy()
            values = self._convert_ids(tag_id, table.column("value").to_numpy(), to_stored=False)
            table = table.set_column(2, "value", pa.array(values))
        return table

    def query(
        self, tags: str | Sequence[str] | None = None, start: TimeLike = None, end: TimeLike = None
    ) -> pd.DataFrame:
        """Stored samples of ``tags`` (default all) with start <= time < end, sorted by tag then time.

        Columns: ``time`` (UTC), ``tag``, ``value`` (spec unit), ``quality`` (0 good, bit 1: out of
        range), ``source`` (file path or live source name) and ``batch`` (the write that stored it).
        """
        names = self._tag_list(tags)
        table = self._read(names, to_us(start), to_us(end))
        lineage_ids = table.column("lineage").to_numpy()
        with self._lock:
            lineage = self.backend.lineage(np.unique(lineage_ids).tolist())
        lookup = np.zeros(max(lineage, default=0) + 1, dtype=np.int64)
        for lineage_id, (batch, _) in lineage.items():
            lookup[lineage_id] = batch
        return pd.DataFrame(
            {
                "time": _utc(table.column("time").cast(pa.int64()).to_numpy()),
                "tag": _categorical(table.column("tag_id").to_numpy(), {self._ids[n]: n for n in names}),
                "value": table.column("value").to_numpy(),
                "quality": table.column("quality").to_numpy(),
                "source": _categorical(lineage_ids, {i: source for i, (_, source) in lineage.items()}),
                "batch": lookup[lineage_ids] if len(lineage_ids) else np.empty(0, np.int64),
            }
        )

    def time_range(self, tags: str | Sequence[str] | None = None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """(first, last) stored sample time over ``tags``; None when there are none."""
        summary = self.summary()
        summary = summary.loc[summary.index.isin(self._tag_list(tags)) & (summary["samples"] > 0)]
        if summary.empty:
            return None
        return summary["first"].min(), summary["last"].max()

    def resample(
        self,
        tags: str | Sequence[str] | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        dt: float | None = None,
        *,
        method: Method | Mapping[str, Method] | None = None,
    ) -> pd.DataFrame:
        """Tags on a grid of multiples of ``dt`` seconds (default: the twin's sample period) in [start, end).

        ``method`` overrides each tag's spec ``resample`` (one for all, or per tag). Values are NaN
        where a tag has no fresh reading (see :mod:`worldtwin.telemetry.resample`). Default start/end:
        the span of the stored samples.
        """
        names = self._tag_list(tags)
        dt_us = round((dt or self.twin.sample_period) * US_PER_S)
        if dt_us <= 0:
            raise DataError(f"dt must be a positive number of seconds, got {dt!r}")
        span = (to_us(start), to_us(end))
        if None in span:
            stored = self.time_range(names)
            if stored is None:
                return pd.DataFrame({TIME: _utc(np.empty(0, np.int64)), **{n: np.empty(0) for n in names}})
            first, last = (to_us(t) or 0 for t in stored)
            span = (
                span[0] if span[0] is not None else first,
                span[1] if span[1] is not None else last + dt_us,
            )
        start_us, end_us = int(span[0] or 0), int(span[1] or 0)
        grid = time_grid(start_us, end_us, dt_us)
        # a reading stays fresh until just past the next one expected from its tag (a missed reading
        # is a gap, not a value to invent); gaps longer than max_gap periods are reported by validation
        holds = {n: int(FRESH_PERIODS * self._period_us(n)) for n in names}
        lookback = max([dt_us, *holds.values()])
        table = self._read(names, int(grid[0]) - lookback if len(grid) else start_us, end_us)
        tag_id = table.column("tag_id").to_numpy()
        times = table.column("time").cast(pa.int64()).to_numpy()
        values = table.column("value").to_numpy()
        columns: dict[str, Any] = {TIME: _utc(grid)}
        for name in names:
            how = method.get(name) if isinstance(method, Mapping) else method
            mask = tag_id == self._ids[name]
            columns[name] = resample(
                times[mask],
                values[mask],
                grid,
                dt_us=dt_us,
                method=how or self.twin.tag(name).resample,
                hold_us=holds[name],
            )
        return pd.DataFrame(columns)

    def trajectory(
        self,
        start: TimeLike = None,
        end: TimeLike = None,
        dt: float | None = None,
        *,
        tags: Sequence[str] | None = None,
        min_length: int = 2,
        method: Method | Mapping[str, Method] | None = None,
    ) -> pd.DataFrame:
        """A trajectory table for training: ``episode``, ``time`` (UTC), one column per tag in spec order.

        Grid rows where any tag lacks a fresh value are dropped; each unbroken run of rows is an
        episode, and runs shorter than ``min_length`` are left out.
        """
        names = self._tag_list(tags)
        frame = self.resample(names, start, end, dt, method=method)
        return split_episodes(frame, names, min_length=min_length)

    # --- exports --------------------------------------------------------------------------------

    def export_parquet(
        self,
        path: str | Path,
        *,
        tags: str | Sequence[str] | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        layout: Literal["long", "trajectory"] = "long",
        dt: float | None = None,
        min_length: int = 2,
    ) -> Path:
        """Write samples (``long``: time, tag, value, quality, source) or a trajectory table to Parquet.

        The file is written under a temporary name and renamed, so a reader never sees half of it.
        Trajectory files carry the twin name, spec hash and Δt in their metadata.
        """
        out = Path(path)
        if layout == "trajectory":
            names = self._tag_list(tags)
            frame = self.trajectory(start, end, dt, tags=names, min_length=min_length)
            meta = {
                "twin": self.twin.name,
                "spec_hash": self.twin.spec_hash(),
                "dt": dt or self.twin.sample_period,
                "tags": names,
            }
            return write_table(frame, out, metadata=meta)
        if layout != "long":
            raise DataError(f"layout {layout!r} is not one of long, trajectory")
        frame = self.query(tags, start, end)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".tmp")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"worldtwin": json.dumps({"twin": self.twin.name}).encode()}
        )
        pq.write_table(table, partial, compression="zstd")
        partial.replace(out)
        return out

    # --- quarantine and reports -------------------------------------------------------------------

    def quarantine(
        self, reason: str | None = None, *, batch: int | None = None, limit: int | None = None
    ) -> pd.DataFrame:
        """Rows set aside by validation: batch, row, time (UTC), tag, value, raw text, reason, detail,
        source."""
        with self._lock:
            table = self.backend.read_quarantine(reason, batch, limit)
        frame = table.to_pandas()
        if TIME in frame:
            frame[TIME] = pd.to_datetime(frame[TIME]).dt.tz_localize("UTC")
        return frame

    def batches(self) -> pd.DataFrame:
        """One row per committed batch: id, committed (UTC), origin and the report's counts."""
        with self._lock:
            table = self.backend.batches()
        rows = []
        for record in table.to_pylist():
            report = json.loads(record["report"])
            rows.append(
                {
                    "id": record["id"],
                    "committed": pd.Timestamp(record["committed"], tz="UTC"),
                    "origin": record["origin"],
                    **{k: report[k] for k in ("received", "stored", "flagged", "quarantined")},
                }
            )
        return pd.DataFrame(
            rows, columns=["id", "committed", "origin", "received", "stored", "flagged", "quarantined"]
        )

    def validation_report(self, batch: int | None = None) -> ValidationReport:
        """The validation report of one batch, or of all batches summed."""
        with self._lock:
            table = self.backend.batches()
        total = ValidationReport()
        for record in table.to_pylist():
            if batch is None or record["id"] == batch:
                total = total.merge(ValidationReport.from_dict(json.loads(record["report"])))
        return total

    def summary(self) -> pd.DataFrame:
        """Per spec tag: unit, samples, flagged, first and last time (UTC)."""
        with self._lock:
            table = self.backend.summary().to_pylist()
        by_id = {row["tag_id"]: row for row in table}
        rows = []
        for name in self.twin.tag_names:
            row = by_id.get(self._ids.get(name, -1), {})
            rows.append(
                {
                    "tag": name,
                    "unit": self.twin.tag(name).unit,
                    "samples": int(row.get("samples", 0)),
                    "flagged": int(row.get("flagged", 0)),
                    "first": pd.Timestamp(row["first"], tz="UTC") if row else pd.NaT,
                    "last": pd.Timestamp(row["last"], tz="UTC") if row else pd.NaT,
                }
            )
        return pd.DataFrame(rows).set_index("tag")

    def quarantine_count(self) -> int:
        with self._lock:
            return self.backend.quarantine_count()
