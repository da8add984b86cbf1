"""The group-commit writer: exact acknowledgements, fewer commits, errors handed to the callers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.spec.schema import Twin
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.store import Store

BASE = pd.Timestamp("2024-03-01T00:00:00Z").timestamp()


def test_concurrent_writes_are_grouped_and_each_acknowledged(store: Store) -> None:
    sources, per_source, size = 8, 25, 4
    with store.writer(max_rows=10_000, max_delay=0.02) as sink:

        def produce(source: int) -> int:
            total = 0
            for k in range(per_source):
                batch = [
                    Sample("T", BASE + (source * per_source + k) * size + i, 300.0, f"src{source}")
                    for i in range(size)
                ]
                total += sink.write(batch)
                assert len(store.query("T", batch[0].time, batch[-1].time + 1)) == size, (
                    "write() returned before its samples were readable"
                )
            return total

        with ThreadPoolExecutor(sources) as pool:
            acknowledged = sum(pool.map(produce, range(sources)))
        commits = sink.commits
    assert acknowledged == sources * per_source * size == len(store.query("T"))
    assert commits < sources * per_source, "concurrent writes should share commits"
    assert set(store.query("T")["source"]) == {f"src{i}" for i in range(sources)}


def test_submit_returns_at_once_and_resolves_after_the_commit(store: Store) -> None:
    with store.writer(max_rows=1_000, max_delay=30.0) as sink:
        future = sink.submit([Sample("T", BASE, 300.0)])
        assert not future.done()  # neither max_rows nor max_delay reached
        sink.flush()
        assert future.result(timeout=5) == 1 and len(store.query("T")) == 1
        full = sink.submit([Sample("T", BASE + 1 + k, 300.0) for k in range(1_000)])
        assert full.result(timeout=10) == 1_000  # max_rows reached: committed without waiting 30 s


def test_close_commits_what_is_pending(store: Store) -> None:
    sink = store.writer(max_rows=1_000, max_delay=30.0)
    future = sink.submit([Sample("level", BASE, 2.0)])
    sink.close()
    assert future.result(timeout=0) == 1 and len(store.query("level")) == 1
    with pytest.raises(DataError, match="writer is closed"):
        sink.submit([Sample("level", BASE + 1, 2.0)])


def test_errors_reach_every_caller_of_the_failed_commit(tmp_path: Path, plant: Twin) -> None:
    with Store.open(tmp_path / "s", plant) as writable:
        writable.write([Sample("T", BASE, 300.0)])
    with Store.open(tmp_path / "s", plant, read_only=True) as reader, reader.writer(max_delay=0.01) as sink:
        futures = [sink.submit([Sample("T", BASE + k, 300.0)]) for k in range(1, 4)]
        for future in futures:
            assert isinstance(future.exception(timeout=5), DataError)
        with pytest.raises(DataError, match="read-only"):
            sink.write([Sample("T", BASE + 9, 300.0)])


def test_writer_rejects_bad_settings(store: Store) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        store.writer(max_rows=0)
    with pytest.raises(ValueError, match="max_delay"):
        store.writer(max_delay=-1)
