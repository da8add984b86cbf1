"""The embedded store: writes, queries, trajectories, exports, archive, and what survives kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.spec.schema import Twin
from worldtwin.telemetry.samples import Sample, SampleSink
from worldtwin.telemetry.store import Store
from worldtwin.telemetry.table import check_table, read_table, table_metadata

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
T0 = pd.Timestamp("2024-03-01T00:00:00Z")
BASE = T0.timestamp()


def test_store_is_a_sample_sink(store: Store) -> None:
    assert isinstance(store, SampleSink)
    assert isinstance(store.writer(), SampleSink)


def test_write_then_query_round_trips_exact_times(store: Store) -> None:
    samples = [Sample("T", BASE + 0.000001 * k + k, 300.0 + k, "opcua://plc") for k in range(5)]
    assert store.write(samples) == 5
    frame = store.query("T")
    assert frame["value"].tolist() == [300.0, 301.0, 302.0, 303.0, 304.0]
    assert frame["time"].iloc[3] == T0 + pd.Timedelta(seconds=3, microseconds=3)
    assert str(frame["time"].dtype) == "datetime64[us, UTC]"
    assert set(frame["source"]) == {"opcua://plc"} and set(frame["batch"]) == {1}
    assert store.query("T", BASE + 1, BASE + 3)["value"].tolist() == [301.0, 302.0]
    assert store.query("T", "2024-03-01T00:00:02Z")["value"].tolist() == [302.0, 303.0, 304.0]


def test_write_acknowledges_quarantined_samples_too(store: Store) -> None:
    acknowledged = store.write(
        [Sample("T", BASE, 300.0), Sample("T", BASE + 1, float("nan")), Sample("ghost", BASE, 1.0)]
    )
    assert acknowledged == 3
    assert (
        store.last_report is not None
        and store.last_report.summary() == "3 samples read: 1 stored, 2 quarantined"
    )
    assert sorted(store.quarantine()["reason"]) == ["nan", "unknown_tag"]


def test_reingesting_a_file_stores_nothing_twice(store: Store, tmp_path: Path) -> None:
    path = CORPUS / "good_long.csv"
    first = store.ingest(path)
    store.close()
    with Store.open(store.backend.directory, store.twin) as reopened:  # type: ignore[attr-defined]
        again = reopened.ingest(path)
        assert (again.stored, again.quarantined) == (0, first.stored)
        assert set(reopened.quarantine(batch=2)["detail"]) == {"already stored with the same value"}
        assert reopened.summary()["samples"].sum() == first.stored


def test_a_store_belongs_to_one_twin(store: Store, plant: Twin) -> None:
    other = plant.model_copy(update={"metadata": plant.metadata.model_copy(update={"name": "other"})})
    directory = store.backend.directory  # type: ignore[attr-defined]
    store.close()
    with pytest.raises(DataError, match="holds telemetry of twin 'plant', not 'other'"):
        Store.open(directory, other)


def test_a_changed_unit_is_converted_at_the_boundary(store: Store, plant: Twin) -> None:
    store.write([Sample("T", BASE, 300.0)])
    directory = store.backend.directory  # type: ignore[attr-defined]
    store.close()
    tags = [t.model_copy(update={"unit": "degC"}) if t.name == "T" else t for t in plant.tags]
    celsius = plant.model_copy(update={"tags": tags})
    with Store.open(directory, celsius) as opened:
        assert opened.query("T")["value"].to_numpy() == pytest.approx([26.85])
        opened.write([Sample("T", BASE + 1, 30.0)])
    with Store.open(directory, plant) as opened:
        assert opened.query("T")["value"].to_numpy() == pytest.approx([300.0, 303.15])
    metres = plant.model_copy(
        update={"tags": [t.model_copy(update={"unit": "m"}) if t.name == "T" else t for t in plant.tags]}
    )
    with pytest.raises(DataError, match="holds its values in 'K' but the spec now says 'm'"):
        Store.open(directory, metres)


def test_read_only_store_refuses_writes(store: Store, plant: Twin) -> None:
    store.write([Sample("T", BASE, 300.0)])
    directory = store.backend.directory  # type: ignore[attr-defined]
    store.close()
    with Store.open(directory, plant, read_only=True) as reader:
        assert len(reader.query()) == 1
        with pytest.raises(DataError, match="opened read-only"):
            reader.write([Sample("T", BASE + 1, 300.0)])
    with pytest.raises(DataError, match="no telemetry store here"):
        Store.open(directory.parent / "nothing", plant, read_only=True)


def test_a_second_writer_process_gets_a_clear_error(store: Store) -> None:
    directory = store.backend.directory  # type: ignore[attr-defined]
    store.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from worldtwin.telemetry.store import Store; "
            "s = Store.open(sys.argv[1], sys.argv[2]); print('open', flush=True); time.sleep(60)",
            str(directory),
            str(HERE / "plant.yaml"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(DataError, match="open for writing by another process"):
            Store.open(directory, HERE / "plant.yaml")
    finally:
        holder.kill()
        holder.wait()


def test_trajectory_aligns_fast_and_slow_tags(store: Store) -> None:
    seconds = np.arange(0, 600)
    fast = (
        [Sample("T", BASE + s, 300.0 + s % 10) for s in seconds]
        + [Sample("level", BASE + s, 2.0) for s in seconds]
        + [Sample("valve", BASE + s, 50.0) for s in seconds]
    )
    slow = [Sample("analyzer", BASE + s, 0.5 + s / 6000) for s in seconds[::60]]  # every minute, 'last'
    gap = [
        Sample(tag, BASE + 900 + s, 1.0 if tag == "analyzer" else 300.0)
        for s in range(0, 300)
        for tag in ("T", "level", "valve", "analyzer")
    ]
    store.write(fast + slow + gap)
    table = store.trajectory(dt=10)
    check_table(table, store.twin.tag_names)
    assert list(table.columns) == ["episode", "time", "T", "level", "valve", "analyzer"]
    assert table["episode"].nunique() == 2  # 600 s -> 900 s has no data: the table splits there
    first = table[table["episode"] == 0].set_index("time")
    # T at 00:00:10 is the mean of (00:00:00, 00:00:10]: seconds 1..10 -> 300 + [1..9, 0]
    assert first.loc[T0 + pd.Timedelta("10s"), "T"] == pytest.approx(300 + 45 / 10)
    assert first.loc[T0 + pd.Timedelta("50s"), "analyzer"] == pytest.approx(0.5)  # held from 00:00:00
    assert first.loc[T0 + pd.Timedelta("70s"), "analyzer"] == pytest.approx(0.51)  # the 00:01:00 reading
    wide = store.resample(["T", "analyzer"], T0, T0 + pd.Timedelta("1min"), dt=30, method={"T": "last"})
    assert wide["T"].tolist() == [300.0, 300.0]


def test_exports_write_readable_parquet(store: Store, tmp_path: Path) -> None:
    store.ingest(CORPUS / "good_wide.csv")
    long = pd.read_parquet(store.export_parquet(tmp_path / "samples.parquet"))
    assert len(long) == 38 and set(long.columns) >= {"time", "tag", "value", "quality", "source"}
    path = store.export_parquet(tmp_path / "train.parquet", layout="trajectory", tags=["T", "level"])
    frame = read_table(path)
    assert (
        table_metadata(path)["twin"] == "plant"
        and len(frame) == 12
        and list(frame.columns[2:]) == ["T", "level"]
    )
    assert not list(tmp_path.glob("*.tmp"))


def test_validation_report_sums_the_batches(store: Store) -> None:
    store.ingest(CORPUS / "nan.csv")
    store.ingest(CORPUS / "unknown_tag.csv")
    total = store.validation_report()
    # unknown_tag.csv repeats T at 00:00:00 and 00:00:20 (duplicates) and brings the T reading at 00:00:10
    # that nan.csv lacked (stored, but older than T's newest sample: out of order).
    assert total.counts == {
        "T": {"nan": 1, "duplicate": 2, "out_of_order": 1},
        "level": {"nan": 1},
        "FOO": {"unknown_tag": 3},
    }
    assert store.validation_report(batch=1).quarantined == 2
    batches = store.batches()
    assert batches["origin"].tolist() == [str(CORPUS / "nan.csv"), str(CORPUS / "unknown_tag.csv")]
    assert batches["quarantined"].tolist() == [2, 5]
    assert store.quarantine("unknown_tag")["tag"].unique().tolist() == ["FOO"]


def test_archive_moves_old_samples_to_parquet_and_queries_still_see_them(store: Store) -> None:
    store.write([Sample("T", BASE + k * 3600, 300.0 + k) for k in range(48)])
    moved = store.archive(T0 + pd.Timedelta("1D"))
    assert moved == 24
    directory = store.backend.directory  # type: ignore[attr-defined]
    files = list((directory / "archive").glob("*.parquet"))
    assert len(files) == 1 and len(pd.read_parquet(files[0])) == 24
    assert store.query("T")["value"].tolist() == [300.0 + k for k in range(48)]
    again = store.write([Sample("T", BASE, 300.0)])  # duplicates of archived samples are still found
    assert again == 1 and store.last_report is not None and store.last_report.quarantined == 1
    store.close()
    orphan = directory / "archive" / "samples-crashed.parquet"
    orphan.write_bytes(files[0].read_bytes())  # as if killed before the archive transaction committed
    with Store.open(directory, HERE / "plant.yaml") as reopened:
        assert not orphan.exists() and len(reopened.query("T")) == 48


def test_unknown_tags_in_queries_are_an_error(store: Store) -> None:
    with pytest.raises(DataError, match=r"unknown tag\(s\) \['TT'\]"):
        store.query("TT")


# --- durability: kill -9 of the writer process -------------------------------------------------------

BATCH = 50


def _run_and_kill(directory: Path, mode: str, *, after: str, delay: float = 0.0) -> list[str]:
    """Start the crash writer, SIGKILL it once ``after`` is printed (plus ``delay``); return its lines."""
    process = subprocess.Popen(
        [sys.executable, str(HERE / "crash_writer.py"), str(directory), str(HERE / "plant.yaml"), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        for line in process.stdout:
            lines.append(line.strip())
            if line.strip() == after or time.monotonic() > deadline:
                break
        time.sleep(delay)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        lines += [line.strip() for line in process.stdout]  # acks printed before the kill count too
        process.wait()
    assert process.returncode == -signal.SIGKILL, f"the writer ended by itself: {lines[-3:]}"
    return lines


def _batches_present(directory: Path) -> dict[int, int]:
    with Store.open(directory, HERE / "plant.yaml") as store:
        times = store.query("T")["time"]
    index = ((times - T0).dt.total_seconds() // BATCH).astype(int)
    return index.value_counts().to_dict()


@pytest.mark.parametrize("mode", ["write", "buffered"])
def test_acknowledged_samples_survive_kill_9(mode: str, tmp_path: Path) -> None:
    directory = tmp_path / "store"
    acknowledged: set[int] = set()
    present: dict[int, int] = {}
    for _ in range(2):  # kill, reopen, write on, kill again
        before = set(present)
        lines = _run_and_kill(directory, mode, after=f"ack {max(acknowledged, default=-1) + 25}")
        acked_now = {int(line.split()[1]) for line in lines if line.startswith("ack ")}
        acknowledged |= acked_now
        present = _batches_present(directory)
        missing = sorted(acknowledged - set(present))
        assert not missing, f"acknowledged batches lost after kill -9: {missing}"
        partial = {k: n for k, n in present.items() if n != BATCH}
        assert not partial, f"half-written batches after kill -9: {partial}"
        # Committed but not yet acknowledged when the kill came: at most what was in flight (the
        # writer process has one write, or one group of up to 8 submissions, in flight).
        in_flight = set(present) - before - acked_now
        assert len(in_flight) <= (1 if mode == "write" else 8), (
            f"more committed than was in flight: {in_flight}"
        )


def test_a_file_killed_before_commit_is_absent_as_a_whole(tmp_path: Path) -> None:
    """Killed after the INSERT of a 2-million-sample import but before its COMMIT: none of it is there."""
    directory = tmp_path / "store"
    lines = _run_and_kill(directory, "uncommitted", after="inserted")
    with Store.open(directory, HERE / "plant.yaml") as store:
        assert store.summary().loc["level", "samples"] == 0
        assert len(store.batches()) == 1, "only the acknowledged small batch has a record"
    assert set(_batches_present(directory)) == {
        int(line.split()[1]) for line in lines if line.startswith("ack ")
    }


def test_a_file_killed_mid_import_is_absent_or_complete(tmp_path: Path) -> None:
    directory = tmp_path / "store"
    started = finished = 0
    for delay in (0.1, 0.4):  # somewhere in reading, validating, inserting or committing the next file
        lines = _run_and_kill(directory, "ingest", after="big", delay=delay)
        started, finished = started + lines.count("big"), finished + lines.count("big done")
        with Store.open(directory, HERE / "plant.yaml") as store:
            files = store.summary().loc["level", "samples"] / 2_000_000
        assert files in (finished, started), f"{files} files of 2 million samples: one was stored in part"
        acked = {int(line.split()[1]) for line in lines if line.startswith("ack ")}
        present = _batches_present(directory)
        assert acked <= set(present) and all(n == BATCH for n in present.values())


def test_live_samples_with_unusable_times_are_quarantined(store: Store) -> None:
    acknowledged = store.write(
        [Sample("T", float("nan"), 300.0, "mqtt"), Sample("T", 1e15, 300.0), Sample("T", BASE, 300.0)]
    )
    assert acknowledged == 3 and len(store.query("T")) == 1
    rows = store.quarantine()
    assert rows["reason"].tolist() == ["bad_time", "bad_time"] and rows["raw"].tolist() == [
        "nan",
        "1000000000000000.0",
    ]
    assert rows["time"].isna().all() and rows["source"].tolist() == ["mqtt", ""]
