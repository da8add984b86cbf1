"""From tables to arrays: layout checks, scaling, calendar features, gaps, splits and windows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.model.data import (
    Layout,
    Scaler,
    Windows,
    calendar_features,
    conditions,
    constants,
    pieces,
    split,
    stretch,
)

from .plant import ANGLE, DRIVE, LOAD, RATE, pendulum_spec, pendulum_table


def test_layout_follows_the_spec_roles() -> None:
    layout = Layout.from_spec(pendulum_spec(load=True, calendar=["time_of_day", "shift"]))
    assert layout.predicted == (ANGLE, RATE)
    assert layout.inputs == (DRIVE, LOAD)
    assert (
        layout.n_cond == 1 + 2 * 1 + 2 + 3
    )  # action, known input now and next, sin/cos of the day, 3 shifts


def test_conditions_hold_the_action_now_and_the_known_input_now_and_next() -> None:
    frame = pendulum_table(1, 5, seed=0, load=True)
    layout = Layout.from_spec(pendulum_spec(load=True))
    inputs = Scaler(np.zeros(2), np.ones(2))
    cond = conditions(frame, layout, inputs)
    assert cond.shape == (5, 3)
    np.testing.assert_allclose(cond[:, 0], frame[DRIVE], rtol=1e-6)
    np.testing.assert_allclose(cond[:-1, 2], frame[LOAD].iloc[1:], rtol=1e-6)  # d_{t+1}
    assert cond[-1, 2] == pytest.approx(frame[LOAD].iloc[-1], rel=1e-6)  # the last row repeats d_t


def test_calendar_features_from_timestamps_and_from_seconds_agree() -> None:
    stamps = pd.Series(pd.date_range("2026-03-02 05:00", periods=4, freq="6h"))  # a Monday
    seconds = pd.Series((stamps - pd.Timestamp("1970-01-01")).dt.total_seconds())
    items = ["time_of_day", "day_of_week", "shift"]
    np.testing.assert_allclose(calendar_features(stamps, items), calendar_features(seconds, items), atol=1e-5)
    shifts = calendar_features(stamps, ["shift"])
    assert shifts.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]  # 05 h night, 11 h, 17 h, 23 h
    day = calendar_features(stamps, ["day_of_week"])
    assert day[0, 0] == pytest.approx(np.sin(2 * np.pi * (0 + 5 / 24) / 7), abs=1e-6)


def test_gaps_cut_episodes_into_pieces() -> None:
    frame = pendulum_table(2, 30, seed=0)
    frame = frame.drop(index=frame.index[10:13])  # a 0.4 s hole in episode 0
    lengths = [len(p) for p in pieces(frame, Layout.from_spec(pendulum_spec()))]
    assert lengths == [10, 17, 30]


def test_split_holds_out_blocks_from_all_episodes_without_overlap() -> None:
    frame = pendulum_table(4, 300, seed=0)
    parts = split(
        pieces(frame, Layout.from_spec(pendulum_spec())),
        np.random.default_rng(0),
        train_rows=12,
        hold_rows=30,
    )
    rows = {
        name: sum(map(len, group))
        for name, group in (("train", parts.train), ("val", parts.val), ("cal", parts.cal))
    }
    assert sum(rows.values()) == len(frame)
    assert 0.05 * len(frame) <= rows["val"] <= 0.2 * len(frame)
    assert 0.15 * len(frame) <= rows["cal"] <= 0.3 * len(frame)
    labels = [set(p.index) for p in parts.train + parts.val + parts.cal]
    assert sum(map(len, labels)) == len(set().union(*labels))


def test_split_of_too_little_data_says_how_much_is_needed() -> None:
    frame = pendulum_table(1, 40, seed=0)
    with pytest.raises(DataError, match=r"too few rows.*needs 12 rows per training window"):
        split(
            pieces(frame, Layout.from_spec(pendulum_spec())),
            np.random.default_rng(0),
            train_rows=12,
            hold_rows=30,
        )


def test_a_constant_column_keeps_unit_scale_and_is_named() -> None:
    values = np.column_stack([np.arange(5.0), np.full(5, 7.0)])
    scaler = Scaler.fit(values)
    assert scaler.std[1] == 1.0 and scaler.mean[1] == 7.0
    assert constants(values, ["a", "b"]) == ["b (always 7)"]
    np.testing.assert_allclose(scaler.inverse(scaler(values)), values, atol=1e-5)


def test_layout_check_names_missing_and_bad_columns() -> None:
    layout = Layout.from_spec(pendulum_spec())
    frame = pendulum_table(1, 10, seed=0)
    with pytest.raises(DataError, match=r"missing tag column\(s\) \['arm-rate'\]"):
        layout.check(frame.drop(columns=[RATE]), "data")
    bad = frame.astype({ANGLE: float})
    bad.loc[3, ANGLE] = np.nan
    with pytest.raises(DataError, match="NaN"):
        layout.check(bad, "data")


def test_windows_never_cross_a_piece_end() -> None:
    frame = pendulum_table(2, 20, seed=0)
    layout = Layout.from_spec(pendulum_spec())
    scaler = Scaler(np.zeros(2), np.ones(2))
    windows = Windows(
        [stretch(p, layout, scaler, Scaler(np.zeros(1), np.ones(1))) for p in pieces(frame, layout)], 8
    )
    assert len(windows) == 2 * (20 - 8 + 1)
    y, cond = windows.take(windows.starts)
    assert y.shape == (26, 8, 2) and cond.shape == (26, 8, 1)
    times = windows.time[windows.starts[:, None] + np.arange(8)]
    assert np.allclose(np.diff(times, axis=1), 0.1)
