"""Historian import: the bad-input corpus, layouts, time zones, units and column mapping."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from worldtwin.errors import DataError
from worldtwin.spec.schema import FileSource, Twin
from worldtwin.telemetry.ingest import ImportOptions, parse_times, read_file
from worldtwin.telemetry.store import Store
from worldtwin.telemetry.validate import ValidationPolicy

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"

T0 = pd.Timestamp("2024-03-01T00:00:00Z")


@dataclass(frozen=True)
class Case:
    """A corpus file, how it is imported, and its documented outcome (docs/telemetry.md)."""

    file: str
    options: dict[str, Any] = field(default_factory=dict)
    stored: int | None = None
    """Samples stored; None: the whole file is rejected."""
    quarantined: int = 0
    issues: dict[str, int] = field(default_factory=dict)
    """Totals per issue in the validation report."""
    error: str = ""
    """For rejected files: a part of the message."""
    on_range: str = "flag"

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in self.options.items())
        return (
            self.file
            + (f"[{extra}]" if extra else "")
            + ("[reject-range]" if self.on_range == "reject" else "")
        )


CASES = [
    Case("good_wide.csv", stored=38),
    Case("good_long.csv", stored=12),
    Case("nan.csv", stored=6, quarantined=2, issues={"nan": 2}),
    Case("inf.csv", stored=6, quarantined=2, issues={"inf": 2}),
    Case("text_in_numeric.csv", stored=6, quarantined=2, issues={"not_numeric": 2}),
    Case("reversed_time.csv", stored=10, issues={"out_of_order": 8}),
    Case("duplicated_rows.csv", stored=6, quarantined=4, issues={"duplicate": 4}),
    Case("unknown_tag.csv", stored=3, quarantined=3, issues={"unknown_tag": 3}),
    Case("unit_mismatch.csv", error="given in 'bar', which cannot be converted to its spec unit 'm'"),
    Case("unit_convert.csv", stored=4),
    Case("empty.csv", error="the file is empty (0 bytes)"),
    Case("header_only.csv", error="has a header (time, T, level) but no data rows"),
    Case(
        "no_time_column.csv",
        error="no time column 'time'; the columns are ['timestamp', 'T']. pass --time-column 'timestamp'",
    ),
    Case("no_time_column.csv", {"time_column": "timestamp"}, stored=2),
    Case("naive_time.csv", error="times have no time zone (e.g. '2024-03-01 00:00:00'); pass --tz"),
    Case("naive_time.csv", {"tz": "Europe/Berlin"}, stored=3),
    Case("mixed_tz.csv", error="mixes times with a UTC offset ('2024-03-01T01:00:00+01:00') and without one"),
    Case("mixed_tz.csv", {"tz": "UTC"}, stored=3),
    Case("dst_gap.csv", {"tz": "Europe/Berlin"}, stored=2, quarantined=1, issues={"bad_time": 1}),
    Case("out_of_range.csv", stored=8, issues={"out_of_range": 2}),
    Case("out_of_range.csv", stored=6, quarantined=2, issues={"out_of_range": 2}, on_range="reject"),
    Case("long_as_wide.csv", stored=2),
    Case(
        "long_as_wide.csv",
        {"layout": "wide"},
        error="look like the long layout (tag, time, value); pass --layout long",
    ),
    Case("good_wide.csv", {"layout": "long"}, error="missing ['tag', 'value']"),
    Case("bad_time_cells.csv", stored=4, quarantined=4, issues={"bad_time": 4}),
    Case("long_missing.csv", stored=2, quarantined=2, issues={"missing_value": 1, "unknown_tag": 1}),
    Case("epoch_ms.csv", error="look like milliseconds"),
    Case("epoch_seconds.csv", stored=2),
    Case("decimal_comma.csv", stored=0, quarantined=4, issues={"not_numeric": 4}),
    Case("decimal_comma.csv", {"decimal_comma": True}, stored=4),
    Case("gap.csv", stored=6, issues={"gap": 1}),
    Case("not_parquet.parquet", error="cannot read Parquet"),
    Case("truncated.parquet", error="the file may be truncated or not Parquet"),
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The spec and corpus copied, plus the binary case generated here: a Parquet file cut off halfway."""
    (tmp_path / "plant.yaml").write_text((HERE / "plant.yaml").read_text())
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in CORPUS.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    good = folder / "good.parquet"
    pq.write_table(
        pa.table(
            {
                "time": pa.array([T0.value // 1000] * 3, pa.int64()).cast(pa.timestamp("us", "UTC")),
                "T": [350.0, 351.0, 352.0],
            }
        ),
        good,
    )
    data = good.read_bytes()
    (folder / "truncated.parquet").write_bytes(data[: len(data) // 2])
    good.unlink()
    return folder


def samples_in(path: Path) -> int:
    """Samples in a corpus file counted with the stdlib csv module, independently of the importer:
    data rows for the long layout, non-empty cells outside the time column for the wide one."""
    text = path.read_text()
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    header, body = rows[0], rows[1:]
    if {"tag", "value"} <= set(header):
        return len(body)
    time_index = header.index("time") if "time" in header else header.index("timestamp")
    return sum(1 for row in body for i, cell in enumerate(row) if i != time_index and cell.strip())


def test_corpus_covers_every_file(corpus: Path) -> None:
    assert {case.file for case in CASES} == {path.name for path in corpus.iterdir()}


def test_corpus_outcomes_are_documented() -> None:
    docs = (HERE.parents[1] / "docs" / "telemetry.md").read_text()
    missing = [case.file for case in CASES if f"`{case.file}`" not in docs]
    assert not missing, f"docs/telemetry.md has no outcome row for {missing}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_corpus_outcome(case: Case, corpus: Path) -> None:
    with Store.open(corpus.parent / "plant.store", corpus.parent / "plant.yaml") as store:
        check_outcome(case, corpus / case.file, store)


def check_outcome(case: Case, path: Path, store: Store) -> None:
    policy = ValidationPolicy(on_range=case.on_range)  # type: ignore[arg-type]
    if case.stored is None:
        with pytest.raises(DataError, match=None) as caught:
            store.ingest(path, policy=policy, **case.options)
        assert case.error in str(caught.value)
        assert str(path) in str(caught.value)
        assert store.summary()["samples"].sum() == 0 and store.quarantine_count() == 0, (
            "a rejected file stores nothing"
        )
        return
    report = store.ingest(path, policy=policy, **case.options)
    issues = {
        issue: report.total(issue) for issue in {i for per_tag in report.counts.values() for i in per_tag}
    }
    assert issues == case.issues
    assert (report.stored, report.quarantined) == (case.stored, case.quarantined)
    # Nothing lost: every sample in the file is in the store or in quarantine, counted from the tables.
    assert store.summary()["samples"].sum() + store.quarantine_count() == samples_in(path) == report.received
    assert len(store.quarantine()) == case.quarantined


def test_quarantined_cells_keep_their_text_and_reason(corpus: Path, store: Store) -> None:
    store.ingest(corpus / "text_in_numeric.csv")
    rows = store.quarantine().set_index("raw")
    assert rows.loc["n/a", "tag"] == "T" and rows.loc["n/a", "row"] == 2
    assert rows.loc["12,5", "tag"] == "level" and "decimal comma" in rows.loc["12,5", "detail"]
    assert set(rows["reason"]) == {"not_numeric"}
    assert rows.loc["n/a", "time"] == T0 + pd.Timedelta(seconds=10)


def test_dst_gap_detail_names_the_zone(corpus: Path, store: Store) -> None:
    store.ingest(corpus / "dst_gap.csv", tz="Europe/Berlin")
    row = store.quarantine().iloc[0]
    assert row["raw"] == "2024-03-31 02:30:00" and "not a valid local time in Europe/Berlin" in row["detail"]


def test_duplicates_keep_the_first_value(corpus: Path, store: Store) -> None:
    store.ingest(corpus / "duplicated_rows.csv")
    stored = store.query("T")
    assert stored["value"].tolist() == [350.0, 351.0, 352.0]
    conflicting = store.quarantine().query("value == 399")
    assert conflicting["reason"].tolist() == ["duplicate"] and conflicting["row"].tolist() == [5]


def test_units_in_headers_are_converted(corpus: Path, store: Store) -> None:
    store.ingest(corpus / "unit_convert.csv")
    frame = store.query()
    assert frame.query("tag == 'T'")["value"].to_numpy() == pytest.approx([350.0, 351.0])
    assert frame.query("tag == 'level'")["value"].to_numpy() == pytest.approx([2.0, 2.1])


def test_naive_times_are_local_to_the_given_zone(corpus: Path, store: Store) -> None:
    store.ingest(corpus / "naive_time.csv", tz="Europe/Berlin")
    assert store.query("T")["time"].iloc[0] == pd.Timestamp("2024-02-29T23:00:00Z")


def test_spec_source_supplies_the_column_mapping(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s", HERE / "plant.yaml") as opened:
        report = opened.ingest(CORPUS / "good_wide.csv")  # the spec lists it (paths relative to the spec)
        assert "TI101" not in report.counts and opened.summary().loc["T", "samples"] == 12
        assert report.empty_cells == 10  # the analyzer reads every minute: empty cells are not samples


def test_flags_override_the_spec_source(plant: Twin) -> None:
    source = FileSource(type="csv", path="x.csv", columns={"TI101": "T"}, units={"T": "degC"}, timezone="UTC")
    options = ImportOptions.from_source(source, columns={"LI7": "level"}, tz="Europe/Berlin", units=None)
    assert options.columns == {"TI101": "T", "LI7": "level"}
    assert options.timezone == "Europe/Berlin" and options.units == {"T": "degC"}
    with pytest.raises(TypeError, match="unknown import option"):
        options.merged(tiemzone="UTC")
    with pytest.raises(DataError, match="unknown time zone 'Mars/Olympus'"):
        ImportOptions(timezone="Mars/Olympus")


def test_long_layout_maps_tag_names_and_converts_units(store: Store) -> None:
    frame = pd.DataFrame(
        {
            "tag": ["TI101", "TI101", "level"],
            "time": [T0, T0 + pd.Timedelta("10s"), T0],
            "value": [76.85, 77.85, 150.0],
        }
    )
    report = store.append(frame, columns={"TI101": "T"}, units={"T": "degC", "level": "cm"})
    assert report.stored == 3
    assert store.query("T")["value"].to_numpy() == pytest.approx([350.0, 351.0])
    assert store.query("level")["value"].to_numpy() == pytest.approx([1.5])


def test_units_for_unknown_tags_are_an_error(store: Store) -> None:
    frame = pd.DataFrame({"time": [T0], "T": [350.0]})
    with pytest.raises(DataError, match=r"units given for \['TT'\]"):
        store.append(frame, units={"TT": "degC"})


def test_dataframe_nan_means_no_reading(store: Store) -> None:
    frame = pd.DataFrame({"T": [350.0, np.nan, 352.0]}, index=pd.date_range(T0, periods=3, freq="10s"))
    report = store.append(frame)
    assert (report.received, report.stored, report.empty_cells) == (2, 2, 1)


def test_skipped_and_reserved_columns_are_reported(store: Store) -> None:
    frame = pd.DataFrame({"time": [T0], "episode": [0], "comment": ["ok"], "T": [350.0]})
    report = store.append(frame, skip=["comment"])
    assert report.stored == 1 and report.quarantined == 0
    assert report.notes == ["append: column(s) ['episode', 'comment'] left out (not tags)"]
    with pytest.raises(DataError, match=r"--skip names column\(s\) \['nope'\]"):
        store.append(frame, skip=["nope"])


def test_text_after_the_first_csv_block_is_quarantined(tmp_path: Path, store: Store) -> None:
    """pyarrow infers column types from the first block; a bad cell further down must not fail the file."""
    path = tmp_path / "big.csv"
    n = 60_000
    times = pd.date_range(T0, periods=n, freq="s").strftime("%Y-%m-%dT%H:%M:%SZ")
    values = [f"{300 + (k % 100) * 0.5}" for k in range(n)]
    values[n - 10] = "ERR"
    path.write_text("time,T\n" + "".join(f"{t},{v}\n" for t, v in zip(times, values, strict=True)))
    assert path.stat().st_size > 1 << 20  # more than one default block
    report = store.ingest(path)
    assert (report.stored, report.quarantined) == (n - 1, 1)
    assert store.quarantine()["raw"].tolist() == ["ERR"]


def test_parse_times_handles_every_representation() -> None:
    aware = pa.array([0, 10_000_000], pa.timestamp("us", "Europe/Berlin"))
    assert parse_times(aware, None)[0].tolist() == [0, 10_000_000]
    seconds = pa.array([1.5, None])
    micros, ok = parse_times(seconds, None)
    assert micros[0] == 1_500_000 and ok.tolist() == [True, False]
    # The fall-back hour happens twice; in order, the first 02:30 is CEST (+2) and the second CET (+1).
    text = pa.array(["2024-10-27 01:30", "2024-10-27 02:30", "2024-10-27 02:30", "2024-10-27 03:30"])
    micros, ok = parse_times(text, "Europe/Berlin")
    utc = pd.to_datetime(micros, unit="us", utc=True)
    assert ok.all() and list(utc.strftime("%H:%M")) == ["23:30", "00:30", "01:30", "02:30"]
    with pytest.raises(DataError, match="holds bool values"):
        parse_times(pa.array([True]), None)


def test_read_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.csv: file not found"):
        read_file(tmp_path / "missing.csv")
    weird = tmp_path / "data.xlsx"
    weird.write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        read_file(weird)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("time,T\n2024-03-01T00:00:00Z,1,2,3\n")
    with pytest.raises(DataError, match="cannot read CSV"):
        read_file(ragged)


def test_columns_of_the_wrong_type_are_quarantined_cell_by_cell(store: Store) -> None:
    frame = pd.DataFrame({"time": [T0, T0 + pd.Timedelta("10s")], "T": [T0, T0], "valve": [True, False]})
    report = store.append(frame)
    assert report.counts == {"T": {"not_numeric": 2}} and report.stored == 2
    quarantined = store.quarantine()
    assert set(quarantined["detail"]) == {"column of type timestamp[us, tz=UTC], expected numbers"}
    assert quarantined["raw"].iloc[0].startswith("2024-03-01 00:00:00")
    assert store.query("valve")["value"].tolist() == [1.0, 0.0]  # booleans (on/off signals) are 1 and 0


def test_long_layout_quarantine_keeps_time_and_text(store: Store) -> None:
    frame = pd.DataFrame(
        {"tag": ["T", "T"], "time": ["2024-03-01T00:00:00Z", "2024-03-01T00:00:10Z"], "value": ["350", "hot"]}
    )
    report = store.append(frame)
    assert (report.stored, report.quarantined) == (1, 1)
    row = store.quarantine().iloc[0]
    assert (row["raw"], row["reason"], row["row"]) == ("hot", "not_numeric", 2)
    assert row["time"] == T0 + pd.Timedelta("10s")
