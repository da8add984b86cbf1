"""The embedded backend: one DuckDB file per twin workspace, old samples archived to Parquet.

Layout of a store directory::

    store.duckdb          tags, batches, lineage, samples, quarantine, archives
    store.duckdb.wal      DuckDB's write-ahead log (replayed on open after a crash)
    archive/*.parquet     samples moved out by Store.archive(); listed in the ``archives`` table

Durability: DuckDB appends each commit to its WAL and calls ``fdatasync`` on it before ``COMMIT``
returns (checked with strace on duckdb 2.0.1: one ``fdatasync`` per commit), so a batch whose
:meth:`EmbeddedBackend.commit` returned survives ``kill -9`` and power loss. Archiving writes the
Parquet file (fsynced, atomically renamed) before the transaction that lists it and deletes the rows,
so a crash in between leaves an unlisted file, which the next writer removes.

DuckDB allows one writing process; other processes may open the store read-only while no writer has
it open.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from worldtwin.errors import DataError
from worldtwin.telemetry.backend import BatchRecord, StoredTag

DATABASE = "store.duckdb"
ARCHIVE = "archive"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name VARCHAR UNIQUE NOT NULL, unit VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY, committed TIMESTAMP NOT NULL,
                                    origin VARCHAR NOT NULL, report VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS lineage (id INTEGER PRIMARY KEY, batch INTEGER NOT NULL, source VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS samples (time TIMESTAMP NOT NULL, tag_id INTEGER NOT NULL, value DOUBLE NOT NULL,
                                    quality UTINYINT NOT NULL, lineage INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (batch INTEGER NOT NULL, "row" BIGINT, time TIMESTAMP, tag VARCHAR,
                                       value DOUBLE, raw VARCHAR, reason VARCHAR NOT NULL, detail VARCHAR,
                                       source VARCHAR);
CREATE TABLE IF NOT EXISTS archives (file VARCHAR PRIMARY KEY, first_time TIMESTAMP NOT NULL,
                                     last_time TIMESTAMP NOT NULL, n_rows BIGINT NOT NULL);
"""
_SAMPLE_COLUMNS = "time, tag_id, value, quality, lineage"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class EmbeddedBackend:
    """DuckDB + Parquet storage in a directory (see the module docstring)."""

    def __init__(self, directory: str | Path, *, read_only: bool = False) -> None:
        self.directory = Path(directory)
        self.read_only = read_only
        database = self.directory / DATABASE
        if read_only and not database.exists():
            raise DataError(f"{self.directory}: no telemetry store here (no {DATABASE}); ingest data first")
        if not read_only:
            self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(
                str(database),
                read_only=read_only,
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DataError(
                    f"{self.directory}: the store is open for writing by another process ({exc}). "
                    "DuckDB allows one writer: stop it, or read through it"
                ) from None
            raise DataError(f"{self.directory}: cannot open the store ({exc})") from None
        self._lock = threading.RLock()
        if not read_only:
            self._con.execute(_SCHEMA)
            self._remove_orphan_archives()
        self._create_view()

    # --- helpers --------------------------------------------------------------------------------

    def _sql(self, query: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self._lock:
            relation = self._con.sql(query, params=list(params) if params is not None else None)
            return relation.to_arrow_table() if relation is not None else pa.table({})

    def _archive_files(self) -> list[str]:
        rows = self._sql("SELECT file FROM archives ORDER BY first_time").column("file").to_pylist()
        return [str(self.directory / ARCHIVE / name) for name in rows]

    def _create_view(self) -> None:
        files = self._archive_files()
        union = ""
        if files:
            listed = ", ".join(_quote(f) for f in files)
            union = f" UNION ALL SELECT {_SAMPLE_COLUMNS} FROM read_parquet([{listed}])"
        self._con.execute(
            f"CREATE OR REPLACE TEMP VIEW all_samples AS SELECT {_SAMPLE_COLUMNS} FROM samples{union}"
        )

    def _remove_orphan_archives(self) -> None:
        folder = self.directory / ARCHIVE
        if not folder.is_dir():
            return
        listed = {Path(f).name for f in self._archive_files()}
        for path in folder.iterdir():
            if path.name not in listed:
                path.unlink()

    # --- Backend protocol -----------------------------------------------------------------------

    def get_meta(self) -> dict[str, str]:
        table = self._sql("SELECT key, value FROM meta")
        return dict(zip(table.column("key").to_pylist(), table.column("value").to_pylist(), strict=True))

    def set_meta(self, values: dict[str, str]) -> None:
        with self._lock:
            for key, value in values.items():
                self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def tags(self) -> list[StoredTag]:
        rows = self._sql("SELECT id, name, unit FROM tags ORDER BY id").to_pylist()
        return [StoredTag(**row) for row in rows]

    def add_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        known = {tag.name for tag in self.tags()}
        new = [(name, unit) for name, unit in tags if name not in known]
        with self._lock:
            for name, unit in new:
                self._con.execute(
                    "INSERT INTO tags SELECT coalesce(max(id), 0) + 1, ?, ? FROM tags", [name, unit]
                )

    def last_times(self) -> dict[int, int]:
        table = self._sql("SELECT tag_id, epoch_us(max(time)) AS last FROM all_samples GROUP BY tag_id")
        return dict(zip(table.column("tag_id").to_pylist(), table.column("last").to_pylist(), strict=True))

    def stored(self, tag_id: int, start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray]:
        table = self._sql(
            "SELECT epoch_us(time) AS t, value FROM all_samples WHERE tag_id = ? AND "
            "time BETWEEN make_timestamp(?::BIGINT) AND make_timestamp(?::BIGINT) ORDER BY time",
            [tag_id, start_us, end_us],
        )
        return table.column("t").to_numpy(), table.column("value").to_numpy()

    def commit(self, samples: pa.Table, quarantine: pa.Table, record: BatchRecord) -> int:
        with self._lock:
            con = self._con
            con.begin()
            try:
                batch = int(con.execute("SELECT coalesce(max(id), 0) + 1 FROM batches").fetchone()[0])  # type: ignore[index]
                con.execute(
                    "INSERT INTO batches VALUES (?, ?, ?, ?)",
                    [batch, datetime.now(UTC).replace(tzinfo=None), record.origin, record.report],
                )
                base = int(con.execute("SELECT coalesce(max(id), 0) + 1 FROM lineage").fetchone()[0])  # type: ignore[index]
                for offset, name in enumerate(record.sources):
                    con.execute("INSERT INTO lineage VALUES (?, ?, ?)", [base + offset, batch, name])
                con.register("_incoming_samples", samples)
                con.execute(
                    f"INSERT INTO samples SELECT time, tag_id, value, quality, source + {base} "
                    "FROM _incoming_samples"
                )
                if quarantine.num_rows:
                    con.register("_incoming_quarantine", quarantine)
                    con.execute(
                        f'INSERT INTO quarantine SELECT {batch}, "row", time, tag, value, raw, reason, '
                        "detail, source FROM _incoming_quarantine"
                    )
                con.commit()
            except BaseException:
                con.rollback()
                raise
            finally:
                con.unregister("_incoming_samples")
                con.unregister("_incoming_quarantine")
        return batch

    def read(self, tag_ids: Sequence[int], start_us: int | None, end_us: int | None) -> pa.Table:
        where = [f"tag_id IN ({', '.join(str(int(i)) for i in tag_ids) or 'NULL'})"]
        params: list[int] = []
        if start_us is not None:
            where.append("time >= make_timestamp(?::BIGINT)")
            params.append(start_us)
        if end_us is not None:
            where.append("time < make_timestamp(?::BIGINT)")
            params.append(end_us)
        return self._sql(f"SELECT {_SAMPLE_COLUMNS} FROM all_samples WHERE {' AND '.join(where)}", params)

    def lineage(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        listed = ", ".join(str(int(i)) for i in ids) or "NULL"
        rows = self._sql(f"SELECT id, batch, source FROM lineage WHERE id IN ({listed})").to_pylist()
        return {row["id"]: (row["batch"], row["source"]) for row in rows}

    def read_quarantine(self, reason: str | None, batch: int | None, limit: int | None) -> pa.Table:
        where, params = ["TRUE"], list[Any]()
        if reason is not None:
            where.append("reason = ?")
            params.append(reason)
        if batch is not None:
            where.append("batch = ?")
            params.append(batch)
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        return self._sql(
            f'SELECT * FROM quarantine WHERE {" AND ".join(where)} ORDER BY batch, "row"{tail}', params
        )

    def batches(self) -> pa.Table:
        return self._sql("SELECT id, committed, origin, report FROM batches ORDER BY id")

    def summary(self) -> pa.Table:
        return self._sql(
            "SELECT tag_id, count(*) AS samples, count(*) FILTER (WHERE quality <> 0) AS flagged, "
            "min(time) AS first, max(time) AS last FROM all_samples GROUP BY tag_id ORDER BY tag_id"
        )

    def quarantine_count(self) -> int:
        return int(self._sql("SELECT count(*) AS n FROM quarantine").column("n")[0].as_py())

    def close(self) -> None:
        with self._lock:
            self._con.close()

    # --- archive (embedded backend only) ----------------------------------------------------------

    def archive(self, before_us: int) -> int:
        """Move samples older than ``before_us`` into Parquet under ``archive/``; returns rows moved."""
        with self._lock:
            span = self._sql(
                "SELECT count(*) AS n, epoch_us(min(time)) AS first, epoch_us(max(time)) AS last "
                "FROM samples WHERE time < make_timestamp(?::BIGINT)",
                [before_us],
            ).to_pylist()[0]
            rows, first, last = int(span["n"]), span["first"], span["last"]
            if rows == 0:
                return 0
            folder = self.directory / ARCHIVE
            folder.mkdir(exist_ok=True)
            stamp = lambda us: datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y%m%dT%H%M%S")  # noqa: E731
            target = folder / f"samples-{stamp(first)}-{stamp(last)}-{os.urandom(4).hex()}.parquet"
            partial = target.with_suffix(".tmp")
            self._con.execute(
                f"COPY (SELECT {_SAMPLE_COLUMNS} FROM samples WHERE time < make_timestamp({int(before_us)}) "
                f"ORDER BY tag_id, time) TO {_quote(str(partial))} (FORMAT parquet, COMPRESSION zstd)"
            )
            _fsync(partial)
            partial.replace(target)
            _fsync(folder)
            con = self._con
            con.begin()
            try:
                con.execute(
                    "INSERT INTO archives VALUES (?, make_timestamp(?::BIGINT), make_timestamp(?::BIGINT), "
                    "?)",
                    [target.name, first, last, rows],
                )
                con.execute("DELETE FROM samples WHERE time < make_timestamp(?::BIGINT)", [before_us])
                con.commit()
            except BaseException:
                con.rollback()
                target.unlink(missing_ok=True)
                raise
            self._create_view()
            return rows


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
