"""Each injected fault produces exactly the deviation its documentation promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.model.faults import SPIKE_PERIOD, Fault, inject, tag_scales


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"time": np.arange(60.0), "x": rng.standard_normal(60), "y": rng.standard_normal(60)})


def deviation(frame: pd.DataFrame, fault: Fault, scales: dict[str, float]) -> np.ndarray:
    out = inject(frame, fault, scales, np.random.default_rng(1))
    assert out["y"].equals(frame["y"]) and out["time"].equals(frame["time"])  # other columns untouched
    return (out["x"] - frame["x"]).to_numpy()


def test_stuck_holds_the_last_reading_before_the_fault(frame: pd.DataFrame) -> None:
    out = inject(frame, Fault("stuck", "x", 20, 10), {"x": 1.0}, np.random.default_rng(0))
    assert np.all(out["x"].iloc[20:30] == frame["x"].iloc[19])
    assert out["x"].iloc[:20].equals(frame["x"].iloc[:20]) and out["x"].iloc[30:].equals(frame["x"].iloc[30:])


def test_drift_ramps_to_its_magnitude_in_tag_scale_units(frame: pd.DataFrame) -> None:
    change = deviation(frame, Fault("drift", "x", 10, 20, magnitude=2.0), {"x": 0.5})
    np.testing.assert_allclose(change[10:30], 1.0 * np.arange(1, 21) / 20)
    assert not change[:10].any() and not change[30:].any()


def test_bias_adds_a_constant_and_defaults_to_half_a_std(frame: pd.DataFrame) -> None:
    scales = tag_scales(frame, ["x"])
    change = deviation(frame, Fault("bias", "x", 5, 10), scales)
    np.testing.assert_allclose(change[5:15], 0.5 * frame["x"].std())
    assert not change[:5].any() and not change[15:].any()


def test_spikes_hit_every_fifth_row_with_either_sign(frame: pd.DataFrame) -> None:
    change = deviation(frame, Fault("spike", "x", 10, 30, magnitude=3.0), {"x": 2.0})
    hits = np.arange(10, 40, SPIKE_PERIOD)
    np.testing.assert_allclose(np.abs(change[hits]), 6.0)
    assert not np.delete(change, hits).any()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault("melt", "x", 1, 5), "unknown fault kind 'melt'"),
        (Fault("bias", "z", 1, 5), "not a column"),
        (Fault("bias", "x", 58, 5), "lie outside the 60 rows"),
        (Fault("stuck", "x", 0, 5), "cannot start at row 0"),
    ],
)
def test_bad_faults_are_refused_with_the_reason(frame: pd.DataFrame, fault: Fault, message: str) -> None:
    with pytest.raises(DataError, match=message):
        inject(frame, fault, {"x": 1.0}, np.random.default_rng(0))
