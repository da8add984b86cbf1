from __future__ import annotations

from pathlib import Path

import pandas as pd

from worldtwin.sim import spec_of
from worldtwin.telemetry.table import check_table, read_table, table_metadata


def test_twins_lists_every_registered_twin(cli) -> None:
    result = cli("twins")
    assert result.returncode == 0, result.stderr
    for twin_id in ("worldtwin/cstr-v1", "worldtwin/thermal-storage-v1", "gym/pendulum-v1"):
        assert twin_id in result.stdout
    assert "Jacketed CSTR" in result.stdout


def test_simulate_writes_a_parquet_table_with_provenance(cli, tmp_path: Path) -> None:
    out = tmp_path / "cstr.parquet"
    result = cli(
        "simulate",
        "worldtwin/cstr-v1",
        "--episodes",
        "2",
        "--steps",
        "150",
        "--policy",
        "pid",
        "--seed",
        "5",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    frame = read_table(out)
    spec = spec_of("worldtwin/cstr-v1")
    assert list(frame.columns) == ["episode", "time", *spec.tag_names] and len(frame) == 300
    check_table(frame, spec.tag_names)
    meta = table_metadata(out)
    assert meta["twin"] == "worldtwin/cstr-v1" and meta["policy"] == "pid" and meta["seed"] == 5
    assert meta["spec_hash"] == spec.spec_hash() and "worldtwin_version" in meta
    assert f"wrote {out}: 300 rows, 2 episodes" in result.stdout
    assert "hard limits: all 1 respected" in result.stdout
    assert "300/300" in result.stderr  # the progress bar ran to the end


def test_simulate_csv_matches_the_python_api(cli, tmp_path: Path) -> None:
    from worldtwin.sim import collect

    out = tmp_path / "pendulum.csv"
    result = cli("simulate", "gym/pendulum-v1", "--steps", "50", "--policy", "prbs", "--out", str(out))
    assert result.returncode == 0, result.stderr
    expected = collect("gym/pendulum-v1", steps=50, policy="prbs", seed=0)
    pd.testing.assert_frame_equal(pd.read_csv(out), expected, check_dtype=False)


def test_unknown_twin_suggests_and_writes_nothing(cli, tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    result = cli("simulate", "worldtwin/cstr", "--out", str(out))
    assert result.returncode == 2
    assert "no twin registered as 'worldtwin/cstr'; did you mean 'worldtwin/cstr-v1'" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_bad_policy_and_bad_file_type_are_clear_errors(cli, tmp_path: Path) -> None:
    result = cli("simulate", "worldtwin/cstr-v1", "--policy", "prb", "--out", str(tmp_path / "x.parquet"))
    assert result.returncode == 2
    assert (
        "unknown excitation policy 'prb'; did you mean 'prbs'?" in result.stderr
        and "Traceback" not in result.stderr
    )
    result = cli("simulate", "worldtwin/cstr-v1", "--out", str(tmp_path / "x.xlsx"))
    assert result.returncode == 2
    assert "unsupported file type '.xlsx'" in result.stderr and "Traceback" not in result.stderr


def test_help_teaches_with_an_example(cli) -> None:
    result = cli("simulate", "--help")
    assert result.returncode == 0
    assert "Example:" in result.stdout and "random-walk" in result.stdout
