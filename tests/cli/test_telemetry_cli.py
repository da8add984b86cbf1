"""``worldtwin ingest`` / ``export`` / ``store``: what a plant engineer sees at the command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from worldtwin.cli import main, output
from worldtwin.telemetry.store import Store
from worldtwin.telemetry.table import read_table, table_metadata

TELEMETRY = Path(__file__).parents[1] / "telemetry"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test plant spec and its corpus copied into a scratch directory (the store goes next to them)."""
    shutil.copy(TELEMETRY / "plant.yaml", tmp_path / "plant.yaml")
    shutil.copytree(TELEMETRY / "corpus", tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    for console in (output.console, output.err_console):
        monkeypatch.setattr(console, "_width", 200)
    return tmp_path


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    sys.argv = ["worldtwin", *args]
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ingest_prints_the_report_and_what_went_where(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        "ingest", "corpus/text_in_numeric.csv", "corpus/nan.csv", "--twin", "plant.yaml", capsys=capsys
    )
    assert code == 0
    assert "corpus/text_in_numeric.csv: 8 samples read: 6 stored, 2 quarantined" in out
    assert "not numeric" in out and "nan" in out
    # nan.csv repeats the times of text_in_numeric.csv: its readings are duplicates or NaN
    assert "all files: 16 samples read: 6 stored, 10 quarantined" in out
    assert "worldtwin store quarantine --twin plant.yaml" in out
    with Store.open(workspace / "plant.store", workspace / "plant.yaml", read_only=True) as store:
        assert store.summary()["samples"].sum() == 6 and store.quarantine_count() == 10


def test_ingest_without_files_imports_the_spec_sources(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run("ingest", "--twin", "plant.yaml", capsys=capsys)
    assert code == 0 and "38 samples read: 38 stored, 0 quarantined; 10 empty cells (no reading)" in out


def test_flags_map_columns_units_and_zones(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame(
        {
            "Zeit": ["2024-03-01 01:00:00", "2024-03-01 01:00:10"],
            "TI101": [76.85, 77.85],
            "Kommentar": ["ok", "ok"],
        }
    ).to_csv(workspace / "export.csv", index=False)
    code, _, err = run(
        "ingest",
        "export.csv",
        "--twin",
        "plant.yaml",
        "--time-column",
        "Zeit",
        "--tz",
        "Europe/Berlin",
        "--map",
        "TI101=T",
        "--unit",
        "T=degC",
        "--skip",
        "Kommentar",
        "--store",
        "elsewhere",
        capsys=capsys,
    )
    assert code == 0, err
    with Store.open(workspace / "elsewhere", workspace / "plant.yaml", read_only=True) as store:
        frame = store.query("T")
    assert frame["value"].round(6).tolist() == [350.0, 351.0]
    assert frame["time"].iloc[0] == pd.Timestamp("2024-03-01T00:00:00Z")


def test_a_rejected_file_is_an_error_that_says_what_to_do(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        "ingest", "corpus/naive_time.csv", "corpus/good_long.csv", "--twin", "plant.yaml", capsys=capsys
    )
    assert code == 2
    assert "not stored" in err and "pass --tz" in err and "Traceback" not in err
    assert "1 of 2 file(s) not stored" in err
    assert "corpus/good_long.csv: 12 samples read: 12 stored" in out  # the other file still went in


def test_strict_exits_1_when_anything_was_quarantined(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, *_ = run("ingest", "corpus/inf.csv", "--twin", "plant.yaml", "--strict", capsys=capsys)
    assert code == 1
    code, *_ = run(
        "ingest", "corpus/good_long.csv", "--twin", "plant.yaml", "--strict", "--store", "s2", capsys=capsys
    )
    assert code == 0


def test_on_range_reject_quarantines(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        "ingest", "corpus/out_of_range.csv", "--twin", "plant.yaml", "--on-range", "reject", capsys=capsys
    )
    assert code == 0 and "8 samples read: 6 stored, 2 quarantined" in out
    code, out, _ = run(
        "store", "quarantine", "--twin", "plant.yaml", "--reason", "out_of_range", capsys=capsys
    )
    assert code == 0 and "999" in out and "outside the spec range" in out


def test_bad_map_is_a_usage_error(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        "ingest", "corpus/good_long.csv", "--twin", "plant.yaml", "--map", "TI101", capsys=capsys
    )
    assert code == 2 and "is not NAME=VALUE" in err


def test_export_writes_a_trajectory_table(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run("ingest", "corpus/good_wide.csv", "--twin", "plant.yaml", capsys=capsys)
    code, out, err = run(
        "export", "--twin", "plant.yaml", "--out", "train.parquet", "--tags", "T,level", capsys=capsys
    )
    assert code == 0, err
    assert "wrote 12 rows in 1 episode(s), 2 tags" in out
    frame = read_table(workspace / "train.parquet")
    assert list(frame.columns) == ["episode", "time", "T", "level"]
    assert table_metadata(workspace / "train.parquet")["dt"] == 10.0
    code, out, _ = run("export", "--twin", "plant.yaml", "--out", "raw.parquet", "--long", capsys=capsys)
    assert code == 0 and "wrote 38 samples" in out
    code, _, err = run(
        "export", "--twin", "plant.yaml", "--out", "none.parquet", "--start", "2030-01-01", capsys=capsys
    )
    assert code == 2 and "no complete rows to export" in err


def test_store_info_quarantine_and_archive(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run("ingest", "corpus/good_long.csv", "corpus/unknown_tag.csv", "--twin", "plant.yaml", capsys=capsys)
    code, out, _ = run("store", "info", "--twin", "plant.yaml", capsys=capsys)
    # unknown_tag.csv: 3 FOO readings and 3 T readings already stored from good_long.csv
    assert code == 0 and "2 batches, 6 quarantined rows" in out and "2024-03-01 00:00:50" in out
    code, out, _ = run("store", "quarantine", "--twin", "plant.yaml", "--out", "q.csv", capsys=capsys)
    assert code == 0 and len(pd.read_csv(workspace / "q.csv")) == 6
    code, _, err = run("store", "quarantine", "--twin", "plant.yaml", "--reason", "bogus", capsys=capsys)
    assert code == 2 and "unknown reason 'bogus'" in err
    code, out, _ = run(
        "store", "archive", "--twin", "plant.yaml", "--before", "2024-03-01T00:00:30Z", capsys=capsys
    )
    assert code == 0 and "archived 6 samples" in out


def test_every_command_teaches_by_example(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["ingest"], ["export"], ["store", "info"], ["store", "quarantine"], ["store", "archive"]):
        code, out, _ = run(*command, "--help", capsys=capsys)
        assert code == 0 and "Example:" in out


def test_the_console_script_reports_errors_without_a_traceback(
    workspace: Path, cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = cli("ingest", "corpus/naive_time.csv", "--twin", "plant.yaml", cwd=workspace)
    assert result.returncode == 2
    assert "times have no time zone" in result.stderr and "Traceback" not in result.stderr
    result = cli(
        "ingest", "corpus/naive_time.csv", "--twin", "plant.yaml", "--tz", "Europe/Berlin", cwd=workspace
    )
    assert result.returncode == 0 and "3 samples read: 3 stored, 0 quarantined" in result.stdout
