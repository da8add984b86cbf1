from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.spec import dump_spec, parse_spec
from worldtwin.telemetry.infer import infer_spec


def data() -> pd.DataFrame:
    t = np.arange(100) * 60.0
    return pd.DataFrame(
        {
            "time": t,
            "level": np.sin(t / 600) + 2,
            "valve": np.linspace(10, 90, 100),
            "price": 50 + 10 * np.cos(t / 3600),
        }
    )


def test_infer_defaults_obs_to_remaining_numeric_columns() -> None:
    twin = infer_spec(data(), act=["valve"], known=["price"], units={"level": "m"})
    assert twin.measured_names == ["level", "price"]
    assert twin.known_input_names == ["price"]
    assert twin.tag("level").unit == "m"
    assert twin.sample_period == 60.0
    lo, hi = twin.tag("level").range  # type: ignore[misc]
    assert lo < 1.0 and hi > 3.0
    assert parse_spec(dump_spec(twin)) == twin


def test_infer_rejects_bad_names_and_duplicates() -> None:
    frame = data().rename(columns={"level": "tank level"})
    with pytest.raises(DataError, match="cannot be a tag name"):
        infer_spec(frame, obs=["tank level"])
    with pytest.raises(DataError, match="more than one"):
        infer_spec(data(), obs=["level"], act=["level"])


def test_infer_needs_two_rows() -> None:
    with pytest.raises(DataError, match="sample period"):
        infer_spec(data().iloc[:1], obs=["level"])
