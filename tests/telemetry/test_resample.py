"""Resampling onto the twin's grid: mean / last / interpolate, holding slow tags only while fresh."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.telemetry.resample import resample, split_episodes, time_grid
from worldtwin.telemetry.table import check_table

S = 1_000_000  # µs per second


def seconds(*values: float) -> np.ndarray:
    return (np.asarray(values) * S).astype(np.int64)


def test_grid_is_aligned_to_multiples_of_dt() -> None:
    assert (time_grid(seconds(7)[0], seconds(40)[0], 10 * S) / S).tolist() == [10, 20, 30]
    with pytest.raises(ValueError):
        time_grid(0, 10, 0)


def test_mean_averages_the_interval_ending_at_each_grid_time() -> None:
    times = seconds(1, 5, 10, 11, 19, 20, 21)
    values = np.array([1.0, 3.0, 5.0, 100.0, 200.0, 300.0, 7.0])
    out = resample(times, values, seconds(10, 20, 30), dt_us=10 * S, method="mean", hold_us=100 * S)
    # (0, 10] -> 1, 3, 5; (10, 20] -> 100, 200, 300; (20, 30] -> 21 s only
    assert out.tolist() == [3.0, 200.0, 7.0]


def test_last_holds_only_while_fresh() -> None:
    times, values = seconds(0, 60), np.array([1.0, 2.0])
    grid = seconds(0, 30, 60, 90, 120, 200)
    out = resample(times, values, grid, dt_us=30 * S, method="last", hold_us=70 * S)
    assert out[:5].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0] and np.isnan(out[5])  # 200 - 60 > 70 s: stale


def test_mean_of_a_slow_tag_holds_its_last_reading() -> None:
    out = resample(
        seconds(0, 300),
        np.array([4.0, 6.0]),
        seconds(0, 10, 20, 300, 310),
        dt_us=10 * S,
        method="mean",
        hold_us=1500 * S,
    )
    assert out.tolist() == [4.0, 4.0, 4.0, 6.0, 6.0]


def test_interpolate_is_linear_and_does_not_bridge_gaps() -> None:
    times, values = seconds(0, 10, 100), np.array([0.0, 10.0, 0.0])
    out = resample(
        times, values, seconds(-5, 0, 5, 10, 50, 105), dt_us=5 * S, method="interpolate", hold_us=20 * S
    )
    assert np.isnan(out[0])  # before the first reading
    assert out[1:4].tolist() == [0.0, 5.0, 10.0]
    assert np.isnan(out[4])  # 10 s -> 100 s is wider than the hold: no bridge, and 10 s is stale by then
    assert out[5] == 0.0  # after the last reading: held while fresh


def test_unknown_method_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown resample method 'median'"):
        resample(seconds(0), np.array([1.0]), seconds(0), dt_us=S, method="median", hold_us=S)  # type: ignore[arg-type]


def test_split_episodes_makes_a_valid_trajectory_table() -> None:
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-03-01", periods=8, freq="10s", tz="UTC"),
            "a": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, np.nan, 8.0],
            "b": [1.0] * 8,
        }
    )
    table = split_episodes(frame, ["a", "b"], min_length=2)
    assert table["episode"].tolist() == [0, 0, 1, 1, 1]
    assert table["a"].tolist() == [1.0, 2.0, 4.0, 5.0, 6.0]  # the lone row 7 is shorter than min_length
    check_table(table, ["a", "b"])
