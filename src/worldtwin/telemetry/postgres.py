"""The PostgreSQL backend: the same store on a server, for several readers and writers at once.

Open it with ``Store.open("postgresql://user@host/db", twin)`` (``pip install 'worldtwin[postgres]'``).
Each twin gets its own schema, ``worldtwin_<twin name>``. ``samples`` is range-partitioned by month
on ``time`` (partitions are created as data arrives), with a BRIN index on ``time`` — tiny, and
ideal for append-mostly time series — and a B-tree on ``(tag_id, time)`` for one-tag queries.
Samples go in with ``COPY`` (CSV written by Arrow). With PostgreSQL's defaults (``fsync`` and
``synchronous_commit`` on) a commit returns once its WAL record is flushed to disk, which is the
store's acknowledgement contract. Old data is dropped or archived by detaching whole partitions.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from worldtwin.errors import DataError, require
from worldtwin.telemetry.backend import BatchRecord, StoredTag

_EPOCH_US = "(extract(epoch FROM time) * 1000000)::bigint"


def _tables(schema: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.tags (id integer PRIMARY KEY, name text UNIQUE NOT NULL,
                                          unit text NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.batches (id integer PRIMARY KEY, committed timestamptz NOT NULL,
                                             origin text NOT NULL, report text NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.lineage (id integer PRIMARY KEY, batch integer NOT NULL,
                                             source text NOT NULL);
CREATE TABLE IF NOT EXISTS {schema}.samples (time timestamptz NOT NULL, tag_id integer NOT NULL,
                                             value double precision NOT NULL, quality smallint NOT NULL,
                                             lineage integer NOT NULL) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS samples_time_brin ON {schema}.samples USING brin (time);
CREATE INDEX IF NOT EXISTS samples_tag_time ON {schema}.samples (tag_id, time);
CREATE TABLE IF NOT EXISTS {schema}.quarantine (batch integer NOT NULL, "row" bigint, time timestamptz,
                                                tag text, value double precision, raw text,
                                                reason text NOT NULL, detail text, source text);
"""


def _csv(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


class PostgresBackend:
    """Store tables in a PostgreSQL schema (see the module docstring)."""

    def __init__(self, url: str, *, namespace: str) -> None:
        psycopg: Any = require("psycopg", "postgres")
        if not re.fullmatch(r"[a-z0-9_]+", namespace):
            raise DataError(f"cannot use {namespace!r} as a PostgreSQL schema name")
        self.schema = f"worldtwin_{namespace}"
        try:
            self._con = psycopg.connect(url, autocommit=False)
        except psycopg.OperationalError as exc:
            raise DataError(f"cannot connect to PostgreSQL at {url!r}: {exc}".strip()) from None
        self._lock = threading.RLock()
        with self._lock, self._con.transaction():
            self._con.execute(_tables(self.schema))

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            rows = self._con.execute(query.replace("$s", self.schema), params).fetchall()
            self._con.commit()
            return list(rows)

    def _copy_out(self, query: str, schema: pa.Schema) -> pa.Table:
        """Run ``query`` through COPY TO STDOUT and parse the CSV with Arrow (fast for large results)."""
        buffer = io.BytesIO()
        with self._lock:
            with (
                self._con.cursor() as cursor,
                cursor.copy(f"COPY ({query.replace('$s', self.schema)}) TO STDOUT (FORMAT csv)") as copy,
            ):
                for chunk in copy:
                    buffer.write(chunk)
            self._con.commit()
        if not buffer.getbuffer().nbytes:
            return schema.empty_table()
        buffer.seek(0)
        return pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=schema.names),
            convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True),
        )

    # --- Backend protocol -----------------------------------------------------------------------

    def get_meta(self) -> dict[str, str]:
        return {key: value for key, value in self._rows("SELECT key, value FROM $s.meta")}

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock, self._con.transaction():
            for key, value in values.items():
                self._con.execute(
                    f"INSERT INTO {self.schema}.meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                    "SET value = excluded.value",
                    (key, value),
                )

    def tags(self) -> list[StoredTag]:
        return [StoredTag(*row) for row in self._rows("SELECT id, name, unit FROM $s.tags ORDER BY id")]

    def add_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        with self._lock, self._con.transaction():
            for name, unit in tags:
                self._con.execute(
                    f"INSERT INTO {self.schema}.tags SELECT coalesce(max(id), 0) + 1, %s, %s "
                    f"FROM {self.schema}.tags ON CONFLICT (name) DO NOTHING",
                    (name, unit),
                )

    def last_times(self) -> dict[int, int]:
        rows = self._rows(
            f"SELECT t.id, (SELECT {_EPOCH_US} FROM $s.samples s WHERE s.tag_id = t.id "
            "ORDER BY time DESC LIMIT 1) FROM $s.tags t"
        )
        return {tag_id: last for tag_id, last in rows if last is not None}

    def stored(self, tag_id: int, start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray]:
        table = self._copy_out(
            f"SELECT {_EPOCH_US}, value FROM $s.samples WHERE tag_id = {int(tag_id)} AND time BETWEEN "
            f"{_timestamp(start_us)} AND {_timestamp(end_us)} ORDER BY time",
            pa.schema([("t", pa.int64()), ("value", pa.float64())]),
        )
        return table.column("t").to_numpy(), table.column("value").to_numpy()

    def commit(self, samples: pa.Table, quarantine: pa.Table, record: BatchRecord) -> int:
        schema = self.schema
        with self._lock, self._con.transaction():
            con = self._con
            con.execute(
                f"LOCK TABLE {schema}.batches IN EXCLUSIVE MODE"
            )  # one committer at a time: ids stay dense
            batch = con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {schema}.batches").fetchone()[0]
            con.execute(
                f"INSERT INTO {schema}.batches VALUES (%s, %s, %s, %s)",
                (batch, datetime.now(UTC), record.origin, record.report),
            )
            base = con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {schema}.lineage").fetchone()[0]
            for offset, name in enumerate(record.sources):
                con.execute(f"INSERT INTO {schema}.lineage VALUES (%s, %s, %s)", (base + offset, batch, name))
            if samples.num_rows:
                self._create_partitions(samples.column("time"))
                rows = pa.table(
                    {
                        "time": samples.column("time").cast(pa.timestamp("us", tz="UTC")),
                        "tag_id": samples.column("tag_id"),
                        "value": samples.column("value"),
                        "quality": samples.column("quality"),
                        "lineage": pc.add(samples.column("source"), pa.scalar(base, pa.int32())),
                    }
                )
                with con.cursor().copy(
                    f"COPY {schema}.samples (time, tag_id, value, quality, lineage) FROM STDIN (FORMAT csv)"
                ) as copy:
                    copy.write(_csv(rows))
            if quarantine.num_rows:
                rows = quarantine.set_column(
                    1, "time", quarantine.column("time").cast(pa.timestamp("us", "UTC"))
                )
                rows = rows.add_column(0, "batch", pa.array([batch] * rows.num_rows, pa.int32()))
                with con.cursor().copy(
                    f'COPY {schema}.quarantine (batch, "row", time, tag, value, raw, reason, '
                    "detail, source) FROM STDIN (FORMAT csv)"
                ) as copy:
                    copy.write(_csv(rows))
        return int(batch)

    def _create_partitions(self, times: pa.ChunkedArray) -> None:
        micros = times.cast(pa.int64()).to_numpy()
        months = np.unique(micros.astype("datetime64[us]").astype("datetime64[M]"))
        for month in months:
            start, end = str(month), str(month + np.timedelta64(1, "M"))
            name = f"samples_{start.replace('-', '_')}"
            self._con.execute(
                f"CREATE TABLE IF NOT EXISTS {self.schema}.{name} PARTITION OF {self.schema}.samples "
                f"FOR VALUES FROM ('{start}-01 00:00:00+00') TO ('{end}-01 00:00:00+00')"
            )

    def read(self, tag_ids: Sequence[int], start_us: int | None, end_us: int | None) -> pa.Table:
        where = [f"tag_id IN ({', '.join(str(int(i)) for i in tag_ids) or 'NULL'})"]
        if start_us is not None:
            where.append(f"time >= {_timestamp(start_us)}")
        if end_us is not None:
            where.append(f"time < {_timestamp(end_us)}")
        table = self._copy_out(
            f"SELECT {_EPOCH_US}, tag_id, value, quality, lineage FROM $s.samples "
            f"WHERE {' AND '.join(where)} ORDER BY tag_id, time",
            pa.schema(
                [
                    ("time", pa.int64()),
                    ("tag_id", pa.int32()),
                    ("value", pa.float64()),
                    ("quality", pa.uint8()),
                    ("lineage", pa.int32()),
                ]
            ),
        )
        return table.set_column(0, "time", table.column("time").cast(pa.timestamp("us")))

    def lineage(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        listed = ", ".join(str(int(i)) for i in ids) or "NULL"
        rows = self._rows(f"SELECT id, batch, source FROM $s.lineage WHERE id IN ({listed})")
        return {lineage: (batch, source) for lineage, batch, source in rows}

    def read_quarantine(self, reason: str | None, batch: int | None, limit: int | None) -> pa.Table:
        where, params = ["TRUE"], list[Any]()
        if reason is not None:
            where.append("reason = %s")
            params.append(reason)
        if batch is not None:
            where.append("batch = %s")
            params.append(batch)
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        rows = self._rows(
            f'SELECT batch, "row", time, tag, value, raw, reason, detail, source FROM $s.quarantine '
            f'WHERE {" AND ".join(where)} ORDER BY batch, "row"{tail}',
            params,
        )
        names = ["batch", "row", "time", "tag", "value", "raw", "reason", "detail", "source"]
        columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
        columns["time"] = [
            None if t is None else t.astimezone(UTC).replace(tzinfo=None) for t in columns["time"]
        ]
        return pa.table(
            columns,
            schema=pa.schema(
                [
                    ("batch", pa.int32()),
                    ("row", pa.int64()),
                    ("time", pa.timestamp("us")),
                    ("tag", pa.string()),
                    ("value", pa.float64()),
                    ("raw", pa.string()),
                    ("reason", pa.string()),
                    ("detail", pa.string()),
                    ("source", pa.string()),
                ]
            ),
        )

    def batches(self) -> pa.Table:
        rows = self._rows("SELECT id, committed, origin, report FROM $s.batches ORDER BY id")
        return pa.table(
            {
                "id": [r[0] for r in rows],
                "committed": pa.array(
                    [r[1].astimezone(UTC).replace(tzinfo=None) for r in rows], pa.timestamp("us")
                ),
                "origin": [r[2] for r in rows],
                "report": [r[3] for r in rows],
            },
            schema=pa.schema(
                [
                    ("id", pa.int32()),
                    ("committed", pa.timestamp("us")),
                    ("origin", pa.string()),
                    ("report", pa.string()),
                ]
            ),
        )

    def summary(self) -> pa.Table:
        rows = self._rows(
            "SELECT tag_id, count(*), count(*) FILTER (WHERE quality <> 0), min(time), max(time) "
            "FROM $s.samples GROUP BY tag_id ORDER BY tag_id"
        )
        return pa.table(
            {
                "tag_id": pa.array([r[0] for r in rows], pa.int32()),
                "samples": pa.array([r[1] for r in rows], pa.int64()),
                "flagged": pa.array([r[2] for r in rows], pa.int64()),
                "first": pa.array(
                    [r[3].astimezone(UTC).replace(tzinfo=None) for r in rows], pa.timestamp("us")
                ),
                "last": pa.array(
                    [r[4].astimezone(UTC).replace(tzinfo=None) for r in rows], pa.timestamp("us")
                ),
            }
        )

    def quarantine_count(self) -> int:
        return int(self._rows("SELECT count(*) FROM $s.quarantine")[0][0])

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _timestamp(micros: int) -> str:
    """A timestamptz literal for ``micros`` µs since the epoch (exact; ints only, so safe to inline)."""
    return f"(timestamptz 'epoch' + {int(micros)} * interval '1 microsecond')"
