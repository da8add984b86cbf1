from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.telemetry import (
    check_table,
    iter_episodes,
    read_table,
    table_metadata,
    time_seconds,
    write_table,
)


def frame(n: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "episode": [0] * n + [1] * n,
            "time": list(np.arange(n) * 2.0) * 2,
            "x": np.linspace(0, 1, 2 * n),
            "u": np.ones(2 * n),
        }
    )


def test_parquet_round_trip_keeps_metadata(tmp_path: Path) -> None:
    path = write_table(frame(), tmp_path / "d.parquet", {"twin": "tank-v1", "seed": 3})
    assert table_metadata(path) == {"twin": "tank-v1", "seed": 3}
    pd.testing.assert_frame_equal(read_table(path), frame())
    assert not list(tmp_path.glob("*.tmp"))


def test_check_accepts_good_table() -> None:
    check_table(frame(), ["x", "u"])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns="time"), "no 'time' column"),
        (lambda f: f.drop(columns="u"), "missing tag column"),
        (lambda f: f.assign(x=f["x"].where(f.index != 3)), "NaN/Inf"),
        (lambda f: f.assign(x=f["x"].astype(object).where(f.index != 4, "bad")), "not numeric"),
        (lambda f: f.assign(time=f["time"].where(f.index != 5, 8.0)), "duplicate time"),
        (lambda f: f.assign(time=f["time"].where(f.index != 5, 0.5)), "out-of-order time"),
    ],
)
def test_check_names_the_problem(mutate, message: str) -> None:
    with pytest.raises(DataError, match=message):
        check_table(mutate(frame()), ["x", "u"])


def test_episodes_and_timestamps() -> None:
    assert [e for e, _ in iter_episodes(frame())] == [0, 1]
    stamped = pd.DataFrame({"time": pd.date_range("2026-01-01", periods=3, freq="1min", tz="UTC")})
    assert np.diff(time_seconds(stamped)).tolist() == [60.0, 60.0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.parquet", b"", "empty"),
        ("cut.parquet", b"PAR1\x00\x01", "truncated"),
        ("d.xlsx", b"x", "unsupported"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_table(tmp_path / name)
